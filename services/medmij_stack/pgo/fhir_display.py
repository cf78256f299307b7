"""FHIR resources in words a patient reads: a title, a date and a few labelled details.

The PGO shows what it stored as it came (validated FHIR, STU3 for BgZ, R4 for
Vaccinaties), so these readers take both releases and never fail on a missing or
unexpected element: whatever cannot be read is left out, not guessed. Labels are Dutch;
coded values show their ``text`` or ``display`` as the zorgaanbieder sent it, because only
the sender knows the right words for its codes. A reference shows its ``display``, or the
name of the resource it points to when that came along (``_include``, or a read).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "Entry",
    "Resolver",
    "concept",
    "dutch_date",
    "dutch_moment",
    "human_name",
    "summarize",
]

Json = Mapping[str, Any]

_MONTHS = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)  # fmt: skip
_FHIR_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::\d{2}(?:\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
try:
    _LOCAL: Any = ZoneInfo("Europe/Amsterdam")
except ZoneInfoNotFoundError:  # no tz database on this machine: show UTC rather than fail
    _LOCAL = None


def _local(moment: datetime) -> datetime:
    return moment if _LOCAL is None else moment.astimezone(_LOCAL)


def dutch_moment(moment: datetime) -> str:
    """``3 december 2026 om 15:04`` (Dutch time)."""
    here = _local(moment)
    return f"{here.day} {_MONTHS[here.month - 1]} {here.year} om {here:%H:%M}"


def dutch_date(value: Any) -> str | None:
    """A FHIR date or dateTime in Dutch: ``12 maart 2024`` (with the time when given)."""
    if not isinstance(value, str):
        return None
    match = _FHIR_DATE.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day = match["y"], match["m"], match["d"]
    if month is None:
        return year
    if not 1 <= int(month) <= 12:
        return None
    if day is None:
        return f"{_MONTHS[int(month) - 1]} {year}"
    if match["H"] is not None and match["tz"] is not None:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return dutch_moment(moment)
    text = f"{int(day)} {_MONTHS[int(month) - 1]} {year}"
    if match["H"] is not None:
        text += f" om {match['H']}:{match['M']}"
    return text


def _sort_key(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def concept(value: Any) -> str | None:
    """A CodeableConcept (or Coding) as words: its text, else a display, else the code."""
    if not isinstance(value, Mapping):
        return value if isinstance(value, str) and value else None
    text = value.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    codings = [value] if "code" in value or "display" in value else _list(value.get("coding"))
    for coding in codings:
        if isinstance(coding, Mapping) and isinstance(coding.get("display"), str):
            return str(coding["display"])
    for coding in codings:
        if isinstance(coding, Mapping) and isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


def _concepts(value: Any) -> str | None:
    words = [w for w in (concept(v) for v in _list(value)) if w]
    return ", ".join(dict.fromkeys(words)) or None


def human_name(value: Any) -> str | None:
    """The first usable HumanName: its text, else given names, prefix and family name."""
    for name in _list(value):
        if not isinstance(name, Mapping):
            continue
        if isinstance(name.get("text"), str) and name["text"].strip():
            return str(name["text"]).strip()
        parts = [p for p in _list(name.get("given")) if isinstance(p, str)]
        family = name.get("family")
        if isinstance(family, str):
            parts.append(family)
        if parts:
            return " ".join(parts)
    return None


def _quantity(value: Any) -> str | None:
    if not isinstance(value, Mapping) or not isinstance(value.get("value"), int | float):
        return None
    number = value["value"]
    shown = f"{number:g}".replace(".", ",") if isinstance(number, float) else str(number)
    unit = value.get("unit") or value.get("code")
    return f"{shown} {unit}" if isinstance(unit, str) and unit else shown


def _address(value: Any) -> str | None:
    for address in _list(value):
        if not isinstance(address, Mapping):
            continue
        if isinstance(address.get("text"), str):
            return str(address["text"])
        lines = [line for line in _list(address.get("line")) if isinstance(line, str)]
        place = " ".join(
            p for p in (address.get("postalCode"), address.get("city")) if isinstance(p, str)
        )
        shown = ", ".join(p for p in (*lines, place) if p)
        if shown:
            return shown
    return None


def _period(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return None
    start, end = dutch_date(value.get("start")), dutch_date(value.get("end"))
    if start and end:
        return f"{start} tot {end}"
    if start:
        return f"vanaf {start}"
    if end:
        return f"tot {end}"
    return None


_STATUS = {
    "active": "actief",
    "inactive": "niet actief",
    "resolved": "over",
    "completed": "afgerond",
    "entered-in-error": "foutief ingevoerd",
    "stopped": "gestopt",
    "on-hold": "gepauzeerd",
    "booked": "gepland",
    "pending": "nog niet bevestigd",
    "proposed": "voorgesteld",
    "cancelled": "geannuleerd",
    "finished": "afgerond",
    "in-progress": "bezig",
    "planned": "gepland",
    "final": "definitief",
    "preliminary": "voorlopig",
    "amended": "aangepast",
    "not-done": "niet gedaan",
    "intended": "gepland",
    "draft": "concept",
    "confirmed": "bevestigd",
    "unconfirmed": "niet bevestigd",
    "refuted": "weerlegd",
    "remission": "in remissie",
    "recurrence": "teruggekomen",
    "relapse": "teruggekomen",
}
_MEDICATION_KIND = {
    "MedicationStatement": "medicijngebruik",
    "MedicationRequest": "medicatieafspraak",
    "MedicationDispense": "toedieningsafspraak",
}
_GENDER = {"male": "man", "female": "vrouw", "other": "anders", "unknown": "onbekend"}
_CRITICALITY = {"low": "laag", "high": "hoog", "unable-to-assess": "niet te beoordelen"}


def _status(value: Any) -> str | None:
    code = value if isinstance(value, str) else concept(value)
    if not code:
        return None
    return _STATUS.get(code, code)


@dataclass
class Resolver:
    """The resources of one source by ``Type/id``, to name what a reference points to."""

    resources: dict[str, Json] = field(default_factory=dict)

    @classmethod
    def of(cls, resources: Iterable[Json]) -> Resolver:
        index: dict[str, Json] = {}
        for resource in resources:
            kind, ident = resource.get("resourceType"), resource.get("id")
            if isinstance(kind, str) and isinstance(ident, str):
                index[f"{kind}/{ident}"] = resource
        return cls(index)

    def target(self, reference: Any) -> Json | None:
        if not isinstance(reference, Mapping) or not isinstance(reference.get("reference"), str):
            return None
        text = str(reference["reference"]).split("/_history/")[0]
        parts = text.rstrip("/").split("/")
        key = "/".join(parts[-2:]) if len(parts) >= 2 else text
        return self.resources.get(key)

    def name(self, reference: Any) -> str | None:
        """Words for what a Reference points to."""
        if not isinstance(reference, Mapping):
            return None
        target = self.target(reference)
        if target is not None:
            named = name_of(target, self)
            if named:
                return named
        display = reference.get("display")
        return display if isinstance(display, str) and display else None


def name_of(resource: Json, resolver: Resolver | None = None) -> str | None:
    """How a person would call this resource: a name, a product, a place."""
    kind = resource.get("resourceType")
    if kind in ("Patient", "Practitioner", "RelatedPerson"):
        return human_name(resource.get("name"))
    if kind in ("Organization", "Location"):
        name = resource.get("name")
        return name if isinstance(name, str) else None
    if kind == "PractitionerRole":
        who = resolver.name(resource.get("practitioner")) if resolver else None
        where = resolver.name(resource.get("organization")) if resolver else None
        role = _concepts(resource.get("specialty")) or _concepts(resource.get("code"))
        return ", ".join(p for p in (who, role, where) if p) or None
    if kind == "Medication":
        return concept(resource.get("code"))
    if kind == "Device":
        return concept(resource.get("type")) or _first_text(resource.get("udi"), "name")
    return concept(resource.get("code"))


def _first_text(value: Any, key: str) -> str | None:
    for item in _list(value):
        if isinstance(item, Mapping) and isinstance(item.get(key), str):
            return str(item[key])
    return None


@dataclass(frozen=True)
class Entry:
    """One record as shown: what, when, and the details worth a label."""

    title: str
    when: str | None
    sort_key: str
    details: tuple[tuple[str, str], ...]
    resource_type: str


def _detail(details: list[tuple[str, str]], label: str, value: str | None) -> None:
    if value:
        details.append((label, value))


def _observation_value(resource: Json) -> str | None:
    for key in ("valueQuantity", "valueCodeableConcept", "valueString", "valueBoolean"):
        value = resource.get(key)
        if key == "valueQuantity":
            shown = _quantity(value)
        elif key == "valueBoolean" and isinstance(value, bool):
            shown = "ja" if value else "nee"
        else:
            shown = concept(value) if key == "valueCodeableConcept" else value
        if isinstance(shown, str) and shown:
            return shown
    parts = []
    for component in _list(resource.get("component")):
        if isinstance(component, Mapping):
            value = _quantity(component.get("valueQuantity")) or concept(
                component.get("valueCodeableConcept")
            )
            label = concept(component.get("code"))
            if value:
                parts.append(f"{label}: {value}" if label else value)
    return "; ".join(parts) or None


def _dosage(resource: Json) -> str | None:
    texts = []
    for key in ("dosage", "dosageInstruction"):
        for dosage in _list(resource.get(key)):
            if isinstance(dosage, Mapping) and isinstance(dosage.get("text"), str):
                texts.append(dosage["text"])
    return "; ".join(texts) or None


def summarize(resource: Json, resolver: Resolver) -> Entry:
    """A record in words; every resource type of BgZ and Vaccinaties has its own reading."""
    kind = str(resource.get("resourceType", ""))
    details: list[tuple[str, str]] = []
    title = name_of(resource, resolver)
    when_value: Any = None

    if kind == "Patient":
        when_value = None
        _detail(details, "Geboortedatum", dutch_date(resource.get("birthDate")))
        _detail(details, "Geslacht", _GENDER.get(str(resource.get("gender"))))
        _detail(details, "Adres", _address(resource.get("address")))
        phones = [
            str(t["value"])
            for t in _list(resource.get("telecom"))
            if isinstance(t, Mapping) and isinstance(t.get("value"), str)
        ]
        _detail(details, "Contact", ", ".join(phones) or None)
        _detail(
            details,
            "Huisarts",
            ", ".join(
                n
                for n in (resolver.name(r) for r in _list(resource.get("generalPractitioner")))
                if n
            )
            or None,
        )
    elif kind in ("Practitioner", "Organization", "Location", "PractitionerRole"):
        _detail(
            details,
            "Soort",
            _concepts(resource.get("type")) or _concepts(resource.get("qualification")),
        )
        _detail(details, "Adres", _address(resource.get("address")))
        _detail(details, "Organisatie", resolver.name(resource.get("managingOrganization")))
    elif kind == "Coverage":
        payor = ", ".join(n for n in (resolver.name(r) for r in _list(resource.get("payor"))) if n)
        title = payor or "Zorgverzekering"
        _detail(details, "Soort", concept(resource.get("type")))
        _detail(
            details,
            "Verzekerdennummer",
            resource.get("subscriberId") if isinstance(resource.get("subscriberId"), str) else None,
        )
        _detail(details, "Geldig", _period(resource.get("period")))
    elif kind == "Condition":
        when_value = (
            resource.get("onsetDateTime")
            or resource.get("assertedDate")
            or resource.get("recordedDate")
        )
        _detail(details, "Status", _status(resource.get("clinicalStatus")))
        _detail(details, "Soort", _concepts(resource.get("category")))
        _detail(details, "Plaats op het lichaam", _concepts(resource.get("bodySite")))
    elif kind == "AllergyIntolerance":
        when_value = (
            resource.get("onsetDateTime")
            or resource.get("assertedDate")
            or resource.get("recordedDate")
        )
        _detail(details, "Ernst", _CRITICALITY.get(str(resource.get("criticality"))))
        _detail(details, "Status", _status(resource.get("clinicalStatus")))
        reactions = [
            _concepts(r.get("manifestation"))
            for r in _list(resource.get("reaction"))
            if isinstance(r, Mapping)
        ]
        _detail(details, "Reactie", ", ".join(r for r in reactions if r) or None)
    elif kind == "Immunization":
        title = concept(resource.get("vaccineCode")) or title
        when_value = resource.get("occurrenceDateTime") or resource.get("date")
        _detail(details, "Status", _status(resource.get("status")))
    elif kind in ("MedicationStatement", "MedicationRequest", "MedicationDispense"):
        title = (
            resolver.name(resource.get("medicationReference"))
            or concept(resource.get("medicationCodeableConcept"))
            or "Medicijn"
        )
        period = resource.get("effectivePeriod")
        when_value = (
            (period.get("start") if isinstance(period, Mapping) else None)
            or resource.get("authoredOn")
            or resource.get("whenHandedOver")
            or resource.get("effectiveDateTime")
            or resource.get("dateAsserted")
        )
        _detail(details, "Soort", _MEDICATION_KIND[kind])
        _detail(details, "Gebruik", _dosage(resource))
        _detail(details, "Periode", _period(period))
        _detail(details, "Status", _status(resource.get("status")))
        requester = resource.get("requester")
        if isinstance(requester, Mapping) and "agent" in requester:  # STU3: a backbone element
            requester = requester.get("agent")
        _detail(details, "Voorgeschreven door", resolver.name(requester))
    elif kind == "Observation":
        when_value = (
            resource.get("effectiveDateTime")
            or (
                resource.get("effectivePeriod", {}).get("start")
                if isinstance(resource.get("effectivePeriod"), Mapping)
                else None
            )
            or resource.get("issued")
        )
        _detail(details, "Uitslag", _observation_value(resource))
        _detail(details, "Toelichting", _concepts(resource.get("interpretation")))
        _detail(details, "Status", _status(resource.get("status")))
    elif kind == "Procedure":
        period = resource.get("performedPeriod")
        when_value = resource.get("performedDateTime") or (
            period.get("start") if isinstance(period, Mapping) else None
        )
        _detail(details, "Plaats op het lichaam", _concepts(resource.get("bodySite")))
        _detail(details, "Status", _status(resource.get("status")))
    elif kind == "Encounter":
        title = (
            _concepts(resource.get("type")) or concept(resource.get("class")) or "Opname of contact"
        )
        period = resource.get("period")
        when_value = period.get("start") if isinstance(period, Mapping) else None
        _detail(details, "Periode", _period(period))
        _detail(
            details,
            "Reden",
            _concepts(resource.get("reason")) or _concepts(resource.get("reasonCode")),
        )
    elif kind == "Consent":
        title = _concepts(resource.get("category")) or "Wilsverklaring"
        when_value = resource.get("dateTime")
        _detail(details, "Status", _status(resource.get("status")))
        _detail(details, "Geldig", _period(resource.get("period")))
    elif kind == "Flag":
        when_value = (
            (resource.get("period") or {}).get("start")
            if isinstance(resource.get("period"), Mapping)
            else None
        )
        _detail(details, "Status", _status(resource.get("status")))
        _detail(details, "Soort", _concepts(resource.get("category")))
    elif kind == "NutritionOrder":
        diets = [
            _concepts(d.get("type")) for d in [resource.get("oralDiet")] if isinstance(d, Mapping)
        ]
        title = next((d for d in diets if d), None) or "Voedingsadvies"
        when_value = resource.get("dateTime")
        _detail(details, "Status", _status(resource.get("status")))
    elif kind in ("DeviceUseStatement", "DeviceRequest"):
        title = (
            resolver.name(resource.get("device"))
            or resolver.name(resource.get("codeReference"))
            or concept(resource.get("codeCodeableConcept"))
            or "Medisch hulpmiddel"
        )
        period = resource.get("whenUsed") or resource.get("occurrencePeriod")
        when_value = (
            (period.get("start") if isinstance(period, Mapping) else None)
            or resource.get("recordedOn")
            or resource.get("authoredOn")
        )
        _detail(details, "Periode", _period(period))
        _detail(details, "Plaats op het lichaam", concept(resource.get("bodySite")))
    elif kind == "ProcedureRequest":
        period = resource.get("occurrencePeriod")
        when_value = resource.get("occurrenceDateTime") or (
            period.get("start") if isinstance(period, Mapping) else None
        )
        _detail(details, "Status", _status(resource.get("status")))
    elif kind == "ImmunizationRecommendation":
        recs = [r for r in _list(resource.get("recommendation")) if isinstance(r, Mapping)]
        title = (
            next(
                (concept(r.get("vaccineCode")) for r in recs if concept(r.get("vaccineCode"))), None
            )
            or "Geplande vaccinatie"
        )
        when_value = next((r.get("date") for r in recs if r.get("date")), None)
    elif kind == "Appointment":
        title = (
            resource.get("description")
            if isinstance(resource.get("description"), str)
            else (_concepts(resource.get("serviceType")) or "Afspraak")
        )
        when_value = resource.get("start")
        _detail(details, "Status", _status(resource.get("status")))
    else:
        _detail(details, "Status", _status(resource.get("status")))

    when = dutch_date(when_value)
    return Entry(
        title=title or _fallback_title(kind),
        when=when,
        sort_key=_sort_key(when_value),
        details=tuple(details),
        resource_type=kind,
    )


_TITLES = {
    "Patient": "Persoon",
    "Practitioner": "Zorgverlener",
    "PractitionerRole": "Zorgverlener",
    "Organization": "Zorginstelling",
    "Location": "Locatie",
    "Condition": "Probleem",
    "AllergyIntolerance": "Allergie",
    "Immunization": "Vaccinatie",
    "Observation": "Meting",
    "Procedure": "Behandeling",
    "Flag": "Waarschuwing",
}


def _fallback_title(kind: str) -> str:
    return _TITLES.get(kind, "Gegeven")
