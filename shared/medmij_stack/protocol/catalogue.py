"""The gegevensdienst catalogue: which services exist, and what the served ones ask of a server.

MedMij publishes its list of gegevensdiensten as the Catalogus (an ODS spreadsheet, AS
"Catalogus"); the Gegevensdienstnamenlijst (GNL) gives each GegevensdienstId (1-30
characters) a Weergavenaam (3-50 characters). This module is a static extract of both, as
collected in docs/protocol.md#gegevensdiensten, plus the exact resource requests of the two services
this stack serves:

* 48, Basisgegevens zorg (BgZ 3.0, FHIR STU3, systeemrol ``MM-3.0-BZB-FHIR``): the 28
  searches of the Nictiz qualification script ``medmij-bgz-xis-1-1-serve-bgz-json.xml``
  (tests 01..28), in that order and spelled exactly as its ``<resource>`` + ``<params>``.
* 63, Vaccinaties (Vaccination-Immunization, FHIR R4, systeemrol ``MM-1.0-VAB-FHIR``): the one
  search of ``imm-serve-cert-1-1-json.xml`` and the ``read`` interactions of the
  CapabilityStatement ``imm-RetrieveServe``.

At run time the GNL and the Zorgaanbiederslijst (ZAL) are authoritative; this table is what
the code needs when no list says otherwise (query sets, FHIR version, Accept header).

Readings taken where the sources are unsure or disagree:

* Names are the practical extract of docs/protocol.md#gegevensdiensten (MGO fixtures and the 2021
  "Actuele gegevensdiensten" table), version in brackets where that table gives one. The
  live GNL Weergavenaam wins wherever one is available.
* 55 (Beelden): only one source lists it, as Delen, and docs/protocol.md#gegevensdiensten
  calls that doubtful. We keep that single reading (Delen) rather than invent another;
  nothing here serves it.
* 58 (Medicatiegerelateerde Overgevoeligheden 2.A): MGO lists it as Verzamelen, the 2021
  table as Delen. We take Verzamelen: its systeemrol ``MM-2.A-AIB-FHIR`` ends in B
  (beschikbaarstellend, the serving side of a retrieval), and the MGO data is newer.
* 48: only ``MM-3.0-BZB-FHIR`` is listed. The older ``MM-2.1-BZB-FHIR`` (BgZ 2.1) names a
  previous version of the standard that these 28 queries do not describe, and the
  published release3 ZAL example pairs it with the AS 1.0 id 1.
* 49: ``MM-2.0-HGB-FHIR`` as in the MGO fixtures; the ``MM-3.0-HGB-FHIR`` of the MGO mocks
  is not taken.
* 65: ``GZ-1.0-IZB-FHIR``; one MGO fixture's ``GZ-1.0-IZR-FHIR`` ends in R (the retrieving
  side, which the ZAL never lists), so it is read as a typo.
* The AS 1.0 ids 1-7 are left out: the Catalogus renumbered them (AS 1.2) and no end date
  is known, so they could only be listed as current, which they are not.
* Reads for 48: the BgZ scripts do no reads, but the STU3 Core IG ("General technical
  specifications") requires that references to Patient, Practitioner(Role) and
  Organization resolve by ``read`` when they are not included in the Bundle.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from urllib.parse import unquote

from .fhir import FhirRelease, FhirVersion

__all__ = [
    "CATALOGUE",
    "GEGEVENSDIENST_ID_PATTERN",
    "Functie",
    "Gegevensdienst",
    "Query",
    "for_systeemrol",
    "get",
    "served",
]

#: A GegevensdienstId: the GNL allows any string of 1-30 characters; every id ever issued is
#: a decimal number, and the scope grammar needs it free of "~", "/" and spaces.
GEGEVENSDIENST_ID_PATTERN = re.compile(r"[0-9]{1,30}")

# The catalogue says these ended on this date (cloudcosmonaut/Medmij.Contract, 2021).
_ENDED_2022 = date(2022, 4, 30)


class Functie(StrEnum):
    """The use case a gegevensdienst belongs to: the PGO retrieves (Verzamelen) or sends (Delen)."""

    VERZAMELEN = "verzamelen"
    DELEN = "delen"


@dataclass(frozen=True)
class Query:
    """One FHIR request of a gegevensdienst, relative to the ResourceEndpointuri.

    ``path`` is written as in the qualification scripts: not percent-encoded, so ``|`` and
    ``,`` appear literally (the test engine encodes them on the wire).
    """

    name: str
    path: str
    description: str
    resource_type: str
    includes: tuple[str, ...] = ()

    @property
    def resource_path(self) -> str:
        """The part before the query string, e.g. ``Observation/$lastn``."""
        return self.path.partition("?")[0]

    @property
    def params(self) -> tuple[tuple[str, str], ...]:
        """Decoded (name, value) pairs in request order; repeated names stay repeated."""
        query = self.path.partition("?")[2]
        if not query:
            return ()
        pairs: list[tuple[str, str]] = []
        for part in query.split("&"):
            name, _, value = part.partition("=")
            # unquote, not unquote_plus: these are URL paths, not form bodies, so a "+"
            # would be a literal plus.
            pairs.append((unquote(name), unquote(value)))
        return tuple(pairs)


@dataclass(frozen=True)
class Gegevensdienst:
    """A gegevensdienst as the Catalogus and the GNL describe it."""

    id: str
    naam: str
    functie: Functie
    fhir_version: FhirVersion | None = None
    systeemrollen: tuple[str, ...] = ()
    queries: tuple[Query, ...] = ()
    reads: tuple[str, ...] = ()
    served: bool = False
    ended: date | None = None

    @property
    def accept(self) -> str:
        """The Accept header of a resource request (docs/protocol.md#resource-requests)."""
        if self.fhir_version is None:
            return "application/fhir+json"
        return f"application/fhir+json; fhirVersion={self.fhir_version}"

    @property
    def fhir_release(self) -> FhirRelease | None:
        """``STU3`` or ``R4`` for the FHIR version, None when unknown."""
        return None if self.fhir_version is None else self.fhir_version.release

    def query(self, name: str) -> Query:
        """The query with this name; KeyError when the service has none by that name."""
        for query in self.queries:
            if query.name == name:
                return query
        raise KeyError(f"gegevensdienst {self.id} has no query named {name!r}")


def _q(name: str, path: str, description: str, resource_type: str, *includes: str) -> Query:
    return Query(name, path, description, resource_type, tuple(includes))


# Nictiz Cert script medmij-bgz-xis-1-1-serve-bgz-json.xml, tests "NN-serve-<name>".
# Included types follow the STU3 search parameter targets of each _include.
_BGZ_QUERIES = (
    _q(
        "Patient",
        "Patient?_include=Patient:general-practitioner",
        "Patiëntgegevens",
        "Patient",
        "Practitioner",
        "Organization",
    ),
    _q(
        "Payer",
        "Coverage?_include=Coverage:payor:Patient&_include=Coverage:payor:Organization",
        "Zorgverzekering en betaler",
        "Coverage",
        "Patient",
        "Organization",
    ),
    _q(
        "TreatmentDirective",
        "Consent?category=http://snomed.info/sct|11291000146105",
        "Behandelaanwijzingen",
        "Consent",
    ),
    _q(
        "AdvanceDirective",
        "Consent?category=http://snomed.info/sct|11341000146107",
        "Wilsverklaringen",
        "Consent",
    ),
    _q(
        "FunctionalOrMentalStatus",
        "Observation/$lastn?category=http://snomed.info/sct|118228005,"
        "http://snomed.info/sct|384821006",
        "Functionele of mentale toestand",
        "Observation",
    ),
    _q("Problem", "Condition", "Problemen", "Condition"),
    _q(
        "LivingSituation",
        "Observation/$lastn?code=http://snomed.info/sct|365508006",
        "Woonsituatie",
        "Observation",
    ),
    _q(
        "DrugUse",
        "Observation?code=http://snomed.info/sct|228366006",
        "Drugsgebruik",
        "Observation",
    ),
    _q(
        "AlcoholUse",
        "Observation?code=http://snomed.info/sct|228273003",
        "Alcoholgebruik",
        "Observation",
    ),
    _q(
        "TobaccoUse",
        "Observation?code=http://snomed.info/sct|365980008",
        "Tabaksgebruik",
        "Observation",
    ),
    _q("NutritionAdvice", "NutritionOrder", "Voedingsadviezen", "NutritionOrder"),
    _q("Alert", "Flag", "Waarschuwingen", "Flag"),
    _q(
        "AllergyIntolerance",
        "AllergyIntolerance",
        "Allergieën en overgevoeligheden",
        "AllergyIntolerance",
    ),
    _q(
        "MedicationUse",
        "MedicationStatement?category=urn:oid:2.16.840.1.113883.2.4.3.11.60.20.77.5.3|6"
        "&_include=MedicationStatement:medication",
        "Medicijngebruik",
        "MedicationStatement",
        "Medication",
    ),
    _q(
        "MedicationAgreement",
        "MedicationRequest?category=http://snomed.info/sct|16076005"
        "&_include=MedicationRequest:medication",
        "Medicatieafspraken",
        "MedicationRequest",
        "Medication",
    ),
    _q(
        "AdministrationAgreement",
        "MedicationDispense?category=http://snomed.info/sct|422037009"
        "&_include=MedicationDispense:medication",
        "Toedieningsafspraken",
        "MedicationDispense",
        "Medication",
    ),
    _q(
        "MedicalDevice",
        "DeviceUseStatement?_include=DeviceUseStatement:device",
        "Medische hulpmiddelen",
        "DeviceUseStatement",
        "Device",
    ),
    _q("Vaccination", "Immunization?status=completed", "Vaccinaties", "Immunization"),
    _q(
        "BloodPressure",
        "Observation/$lastn?code=http://loinc.org|85354-9",
        "Bloeddruk",
        "Observation",
    ),
    _q(
        "BodyWeight",
        "Observation/$lastn?code=http://loinc.org|29463-7",
        "Lichaamsgewicht",
        "Observation",
    ),
    _q(
        "BodyHeight",
        "Observation/$lastn?code=http://loinc.org|8302-2,http://loinc.org|8306-3,"
        "http://loinc.org|8308-9",
        "Lichaamslengte",
        "Observation",
    ),
    _q(
        "LaboratoryTestResult",
        "Observation/$lastn?category=http://snomed.info/sct|275711006"
        "&_include=Observation:related-target&_include=Observation:specimen",
        "Laboratoriumuitslagen",
        "Observation",
        "Observation",
        "Specimen",
    ),
    _q(
        "Procedure",
        "Procedure?category=http://snomed.info/sct|387713003",
        "Behandelingen en onderzoeken",
        "Procedure",
    ),
    _q(
        "Contact",
        "Encounter?class=http://hl7.org/fhir/v3/ActCode|IMP,"
        "http://hl7.org/fhir/v3/ActCode|ACUTE,http://hl7.org/fhir/v3/ActCode|NONAC",
        "Opnames",
        "Encounter",
    ),
    _q(
        "PlannedCareActivity-ProcedureRequest",
        "ProcedureRequest?status=active",
        "Geplande behandelingen en onderzoeken",
        "ProcedureRequest",
    ),
    _q(
        "PlannedCareActivity-ImmunizationRecommendation",
        "ImmunizationRecommendation",
        "Geplande vaccinaties",
        "ImmunizationRecommendation",
    ),
    _q(
        "PlannedCareActivity-Appointment",
        "Appointment?status=booked,pending,proposed",
        "Geplande afspraken",
        "Appointment",
    ),
    _q(
        "PlannedCareActivity-DeviceRequest",
        "DeviceRequest?status=active&_include=DeviceRequest:device",
        "Geplande medische hulpmiddelen",
        "DeviceRequest",
        "Device",
    ),
)

# imm-serve-cert-1-1-json.xml. The R4 targets of Immunization:performer are Practitioner,
# PractitionerRole and Organization. Immunization:location is not in the CapabilityStatement
# but the Cert script sends it, so a server must honour it.
_VACCINATIE_QUERIES = (
    _q(
        "Vaccination",
        "Immunization?_include=Immunization:patient&_include=Immunization:performer"
        "&_include=Immunization:location",
        "Vaccinaties",
        "Immunization",
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "Location",
    ),
)


def _v(
    id: str,
    naam: str,
    *systeemrollen: str,
    functie: Functie = Functie.VERZAMELEN,
    fhir_version: FhirVersion | None = FhirVersion.STU3,
    ended: date | None = None,
) -> Gegevensdienst:
    return Gegevensdienst(
        id=id,
        naam=naam,
        functie=functie,
        fhir_version=fhir_version,
        systeemrollen=tuple(systeemrollen),
        ended=ended,
    )


_DELEN = Functie.DELEN

_ENTRIES: tuple[Gegevensdienst, ...] = (
    # Ended 2022-04-30.
    _v("24", "Laboratoriumresultaten", ended=_ENDED_2022),
    _v("26", "Basisgegevens zorg", ended=_ENDED_2022),
    _v("28", "Huisartsgegevens", ended=_ENDED_2022),
    _v("32", "Basisgegevens GGZ", ended=_ENDED_2022),
    _v("33", "Documenten", ended=_ENDED_2022),
    _v("36", "Meetwaarden vitale functies", ended=_ENDED_2022),
    _v("37", "Meetwaarden vitale functies", functie=_DELEN, ended=_ENDED_2022),
    _v("38", "Overgevoeligheden", ended=_ENDED_2022),
    _v("41", "Documenten", functie=_DELEN, ended=_ENDED_2022),
    _v("42", "Medicatiegerelateerde Overgevoeligheden", ended=_ENDED_2022),
    _v("43", "Verwijzing naar vragenlijst", ended=_ENDED_2022),
    _v("45", "Antwoorden op vragenlijst", functie=_DELEN, ended=_ENDED_2022),
    # Current.
    _v("30", "Medicatieoverzichten"),
    _v("31", "Medicatiegegevens (9.0)"),
    _v("35", "Medicatiegegevens (9.A)"),
    _v("46", "Laboratoriumresultaten (2.0)"),
    _v("47", "Afspraken (eAfspraak)", "EA-2.0-AFB-FHIR"),
    Gegevensdienst(
        id="48",
        naam="Basisgegevens zorg (BgZ 3.0)",
        functie=Functie.VERZAMELEN,
        fhir_version=FhirVersion.STU3,
        systeemrollen=("MM-3.0-BZB-FHIR",),
        queries=_BGZ_QUERIES,
        reads=("Patient", "Practitioner", "PractitionerRole", "Organization"),
        served=True,
    ),
    _v("49", "Huisartsgegevens (2.0)", "MM-2.0-HGB-FHIR"),
    _v("50", "Basisgegevens GGZ (2.0)", "MM-2.0-GGB-FHIR"),
    # One service, two roles: the document list and the documents, on the same endpoint.
    _v("51", "Documenten (3.0, PDF/A)", "MM-3.0-PLB-FHIR", "MM-3.0-PDB-FHIR"),
    _v("52", "Meetwaarden vitale functies (2.0)", "MM-2.0-MVB-FHIR"),
    _v("53", "Meetwaarden vitale functies", functie=_DELEN),
    _v("54", "Overgevoeligheden (2.0)"),
    # Single, doubtful source (see the module docstring); no FHIR version known.
    _v("55", "Beelden", functie=_DELEN, fhir_version=None),
    _v("57", "Documenten", functie=_DELEN),
    # Sources conflict; Verzamelen taken (see the module docstring).
    _v("58", "Medicatiegerelateerde Overgevoeligheden (2.A)", "MM-2.A-AIB-FHIR"),
    _v("59", "Verwijzing naar vragenlijst (2.0)"),
    _v("60", "Antwoorden op vragenlijst", functie=_DELEN),
    _v("61", "Basisgegevens Langdurige Zorg (3.0)", "MM-3.0-LZB-FHIR"),
    Gegevensdienst(
        id="63",
        naam="Vaccinaties (1.0)",
        functie=Functie.VERZAMELEN,
        fhir_version=FhirVersion.R4,
        systeemrollen=("MM-1.0-VAB-FHIR",),
        queries=_VACCINATIE_QUERIES,
        # CapabilityStatement imm-RetrieveServe, in its order; the Cert script reads the
        # Medication of each Immunization (PharmaceuticalProduct extension).
        reads=(
            "Patient",
            "Organization",
            "Location",
            "Practitioner",
            "PractitionerRole",
            "Medication",
        ),
        served=True,
    ),
    # The digest leaves the FHIR version of the Integrale Zwangerschapskaart open.
    _v("65", "Integrale Zwangerschapskaart (1.0)", "GZ-1.0-IZB-FHIR", fhir_version=None),
    # Granular services, MedMij-STU3-Core "Granular exchange" (1.0.0-rc.3); 408 is not listed.
    _v("900000401", "Bloeddruk"),
    _v("900000402", "Lichaamslengte"),
    _v("900000403", "Lichaamsgewicht"),
    _v("900000404", "Alert"),
    _v("900000405", "Voedingsadvies"),
    _v("900000406", "Woonsituatie"),
    _v("900000407", "Betaler"),
    _v("900000409", "Lichaamstemperatuur"),
    _v("900000410", "Vochtbalans"),
    _v("900000411", "Ademhaling"),
    _v("900000412", "Polsfrequentie"),
)


def _build(entries: tuple[Gegevensdienst, ...]) -> Mapping[str, Gegevensdienst]:
    # Checked at import so that a bad edit to the table fails every test at once.
    by_id: dict[str, Gegevensdienst] = {}
    for entry in sorted(entries, key=lambda e: int(e.id)):
        if not GEGEVENSDIENST_ID_PATTERN.fullmatch(entry.id):
            raise ValueError(f"gegevensdienst id {entry.id!r} is not 1-30 digits")
        if entry.id in by_id:
            raise ValueError(f"gegevensdienst id {entry.id} is listed twice")
        by_id[entry.id] = entry
    return types.MappingProxyType(by_id)


#: Every known gegevensdienst by id, in numeric order. Read-only.
CATALOGUE: Mapping[str, Gegevensdienst] = _build(_ENTRIES)


def _index_systeemrollen(
    catalogue: Mapping[str, Gegevensdienst],
) -> Mapping[str, Gegevensdienst]:
    # A Systeemrolcode belongs to one gegevensdienst, or for_systeemrol would be ambiguous.
    by_code: dict[str, Gegevensdienst] = {}
    for dienst in catalogue.values():
        for code in dienst.systeemrollen:
            if code in by_code:
                raise ValueError(
                    f"systeemrol {code} is listed for {by_code[code].id} and {dienst.id}"
                )
            by_code[code] = dienst
    return types.MappingProxyType(by_code)


_BY_SYSTEEMROL = _index_systeemrollen(CATALOGUE)


def get(id: str | int) -> Gegevensdienst:
    """The gegevensdienst with this id; KeyError naming the id when the catalogue lacks it."""
    key = str(id)
    try:
        return CATALOGUE[key]
    except KeyError:
        raise KeyError(f"gegevensdienst {key!r} is not in the MedMij catalogue") from None


def served() -> tuple[Gegevensdienst, ...]:
    """The gegevensdiensten this stack implements (48 and 63), in id order."""
    return tuple(dienst for dienst in CATALOGUE.values() if dienst.served)


def for_systeemrol(code: str) -> Gegevensdienst | None:
    """The gegevensdienst a serving Systeemrolcode from the ZAL belongs to, if known."""
    return _BY_SYSTEEMROL.get(code)
