"""Health categories as a patient thinks of them, and which queries fill each one.

The gegevensdiensten are built along the lines of standards (BgZ's 28 queries, the
Vaccinaties search); a person thinks in problems, allergies, medicines, vaccinations.
Each category names the (gegevensdienst, query) pairs that feed it and the resource
types it shows (included resources, such as the Medication of a MedicationStatement,
are there to be named, not listed). A query feeds exactly one category, except the
Patient queries, whose included practitioners and organisations are the person's
zorgverleners. The order is the order of the tiles on the overview.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from medmij_stack.protocol import catalogue

from .fhir_display import Entry, Resolver, summarize
from .records import RecordKey, StoredRecord

__all__ = [
    "CATEGORIES",
    "Category",
    "Feed",
    "SourcedEntry",
    "category",
    "count",
    "entries",
    "query_description",
]


@dataclass(frozen=True)
class Feed:
    gegevensdienst: str
    queries: tuple[str, ...]  # catalogue query names
    types: tuple[str, ...]  # resource types shown


@dataclass(frozen=True)
class Category:
    slug: str
    title: str
    intro: str
    feeds: tuple[Feed, ...]
    empty: str  # what "no records" means in words

    @property
    def gegevensdiensten(self) -> frozenset[str]:
        return frozenset(feed.gegevensdienst for feed in self.feeds)

    def queries_of(self, gegevensdienst: str) -> frozenset[str]:
        return frozenset(
            name
            for feed in self.feeds
            if feed.gegevensdienst == gegevensdienst
            for name in feed.queries
        )

    def shows(self, record: StoredRecord | RecordKey) -> bool:
        return any(
            feed.gegevensdienst == record.gegevensdienst
            and record.query_name in feed.queries
            and record.resource_type in feed.types
            for feed in self.feeds
        )


def _bgz(*queries: str, types: Sequence[str]) -> Feed:
    return Feed("48", tuple(queries), tuple(types))


_PROVIDERS = ("Practitioner", "PractitionerRole", "Organization", "Location")

CATEGORIES: tuple[Category, ...] = (
    Category(
        "problemen",
        "Problemen",
        "Ziektes, klachten en andere problemen die een zorgverlener heeft vastgelegd.",
        (_bgz("Problem", types=("Condition",)),),
        "Er zijn geen problemen vastgelegd.",
    ),
    Category(
        "allergieen",
        "Allergieën",
        "Allergieën en overgevoeligheden, bijvoorbeeld voor medicijnen of voedsel.",
        (_bgz("AllergyIntolerance", types=("AllergyIntolerance",)),),
        "Er zijn geen allergieën vastgelegd.",
    ),
    Category(
        "vaccinaties",
        "Vaccinaties",
        "Welke vaccinaties je hebt gehad, wanneer, waar en door wie.",
        (
            Feed("63", ("Vaccination",), ("Immunization",)),
            _bgz("Vaccination", types=("Immunization",)),
        ),
        "Er zijn geen vaccinaties vastgelegd.",
    ),
    Category(
        "medicatie",
        "Medicatie",
        "Medicijnen die je gebruikt of gebruikte, en afspraken over medicijnen.",
        (
            _bgz(
                "MedicationUse",
                "MedicationAgreement",
                "AdministrationAgreement",
                types=("MedicationStatement", "MedicationRequest", "MedicationDispense"),
            ),
        ),
        "Er zijn geen medicijnen vastgelegd.",
    ),
    Category(
        "metingen",
        "Metingen en uitslagen",
        "Bloeddruk, gewicht, lengte, laboratoriumuitslagen en hoe je functioneert.",
        (
            _bgz(
                "BloodPressure",
                "BodyWeight",
                "BodyHeight",
                "LaboratoryTestResult",
                "FunctionalOrMentalStatus",
                types=("Observation",),
            ),
        ),
        "Er zijn geen metingen of uitslagen vastgelegd.",
    ),
    Category(
        "behandelingen",
        "Behandelingen en opnames",
        "Operaties, onderzoeken en opnames in het ziekenhuis.",
        (_bgz("Procedure", "Contact", types=("Procedure", "Encounter")),),
        "Er zijn geen behandelingen of opnames vastgelegd.",
    ),
    Category(
        "afspraken",
        "Afspraken en plannen",
        "Geplande afspraken, onderzoeken, vaccinaties en hulpmiddelen.",
        (
            _bgz(
                "PlannedCareActivity-ProcedureRequest",
                "PlannedCareActivity-ImmunizationRecommendation",
                "PlannedCareActivity-Appointment",
                "PlannedCareActivity-DeviceRequest",
                types=(
                    "ProcedureRequest",
                    "ImmunizationRecommendation",
                    "Appointment",
                    "DeviceRequest",
                ),
            ),
        ),
        "Er is niets gepland.",
    ),
    Category(
        "hulpmiddelen",
        "Medische hulpmiddelen",
        "Hulpmiddelen die je gebruikt, zoals een pacemaker of een gehoorapparaat.",
        (_bgz("MedicalDevice", types=("DeviceUseStatement",)),),
        "Er zijn geen hulpmiddelen vastgelegd.",
    ),
    Category(
        "leefstijl",
        "Leefstijl en woonsituatie",
        "Roken, alcohol, drugs, voeding en hoe je woont.",
        (
            _bgz(
                "LivingSituation",
                "DrugUse",
                "AlcoholUse",
                "TobaccoUse",
                "NutritionAdvice",
                types=("Observation", "NutritionOrder"),
            ),
        ),
        "Er is niets over je leefstijl vastgelegd.",
    ),
    Category(
        "wilsverklaringen",
        "Wilsverklaringen en behandelgrenzen",
        "Wat je wel en niet wilt als je ernstig ziek wordt, zoals niet reanimeren.",
        (_bgz("TreatmentDirective", "AdvanceDirective", types=("Consent",)),),
        "Er zijn geen wilsverklaringen of behandelgrenzen vastgelegd.",
    ),
    Category(
        "waarschuwingen",
        "Waarschuwingen",
        "Belangrijke waarschuwingen voor zorgverleners, bijvoorbeeld over je gezondheid.",
        (_bgz("Alert", types=("Flag",)),),
        "Er zijn geen waarschuwingen vastgelegd.",
    ),
    Category(
        "zorgverleners",
        "Zorgverleners",
        "Je huisarts en de zorgverleners en instellingen die in je gegevens staan.",
        (
            _bgz("Patient", types=_PROVIDERS),
            Feed("63", ("Vaccination",), _PROVIDERS),
        ),
        "Er zijn geen zorgverleners vastgelegd.",
    ),
    Category(
        "persoonsgegevens",
        "Persoonsgegevens",
        "Je naam, geboortedatum, adres en zorgverzekering zoals de zorgaanbieder die kent.",
        (
            _bgz("Patient", types=("Patient",)),
            _bgz("Payer", types=("Coverage",)),
            Feed("63", ("Vaccination",), ("Patient",)),
        ),
        "Er zijn geen persoonsgegevens vastgelegd.",
    ),
)

_BY_SLUG = {c.slug: c for c in CATEGORIES}


def category(slug: str) -> Category | None:
    return _BY_SLUG.get(slug)


@dataclass(frozen=True)
class SourcedEntry:
    entry: Entry
    record: StoredRecord


def count(chosen: Category, records: Iterable[RecordKey]) -> int:
    """How many entries :func:`entries` would show, without putting them in words.

    A tile needs only this number. The overview drew it from ``len(entries(...))`` for
    every category: each resource's JSON parsed, a resolver over all of them and a summary
    of each, twelve times on every visit of the home page, to be thrown away; py-spy put
    the home page at 8.5% of a PGO's samples in a simulation. Counting
    :meth:`RecordStore.keys <medmij_stack.pgo.records.RecordStore.keys>` reads no JSON."""
    return len({record.key for record in records if chosen.shows(record)})


def entries(chosen: Category, records: Iterable[StoredRecord]) -> list[SourcedEntry]:
    """The category's records in words, newest first, each resource once per source."""
    every = list(records)
    resolvers: dict[tuple[str, str], Resolver] = {}
    for key in {(r.zorgaanbieder, r.gegevensdienst) for r in every}:
        resolvers[key] = Resolver.of(
            r.resource for r in every if (r.zorgaanbieder, r.gegevensdienst) == key
        )
    seen: set[tuple[str, str, str, str]] = set()
    shown = []
    for record in every:
        if not chosen.shows(record) or record.key in seen:
            continue
        seen.add(record.key)
        resolver = resolvers[(record.zorgaanbieder, record.gegevensdienst)]
        shown.append(SourcedEntry(summarize(record.resource, resolver), record))
    shown.sort(key=lambda e: e.entry.sort_key, reverse=True)
    return shown


def query_description(gegevensdienst: str, query_name: str) -> str:
    """The Dutch description of a catalogue query (reads are named by their path)."""
    known = catalogue.CATALOGUE.get(gegevensdienst)
    if known is not None:
        for query in known.queries:
            if query.name == query_name:
                return query.description
    return query_name
