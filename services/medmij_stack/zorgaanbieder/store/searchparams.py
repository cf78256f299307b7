"""The search parameters and _include values the resource server supports, per FHIR version.

These are exactly what the MedMij gegevensdiensten ask of a server
(docs/qualification.md#bgz-searches and #vaccinaties-searches;
`medmij_stack.protocol.catalogue` holds the requests themselves): token searches on
`category`, `code`, `status` and `class`, and the _include values of the BgZ and Vaccinaties
queries. Each parameter's path is its FHIRPath expression in the FHIR specification of that
version (SearchParameter definitions), written as element names; whether an element is a
`code`, `Coding` or `CodeableConcept`, and whether it repeats, is read from the data, so one
path serves both versions where the element kept its name (STU3 MedicationRequest.category
is one CodeableConcept, R4's a list of them).

Parameters that name the patient (`patient`, `subject`, `identifier`, `_id`) are refused:
in MedMij the patient comes from the access token alone (docs/qualification.md#xis-server-scripts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from medmij_stack.protocol.fhir import FhirVersion

__all__ = [
    "INCLUDES",
    "PATIENT_PARAMS",
    "TOKEN_PARAMS",
    "IncludeSpec",
    "Path",
]

#: A path of element names from the resource root; a list on the way fans out.
Path = tuple[str, ...]

#: Parameters that would select the patient: refused with this explanation.
PATIENT_PARAMS: Mapping[str, str] = {
    name: "the patient is the one the access token is bound to; a search may not name it"
    for name in ("patient", "subject", "identifier", "_id", "patient.identifier")
}


def _p(*names: str) -> Path:
    return tuple(names)


_STATUS = _p("status")
_CATEGORY = _p("category")
_CODE = _p("code")

_TOKENS_COMMON: Mapping[str, Mapping[str, Path]] = {
    "AllergyIntolerance": {"category": _CATEGORY, "code": _CODE},
    "Appointment": {"status": _STATUS},
    "CarePlan": {"category": _CATEGORY, "status": _STATUS},
    "Condition": {"category": _CATEGORY, "code": _CODE},
    "Consent": {"category": _CATEGORY, "status": _STATUS},
    "Coverage": {"status": _STATUS},
    "DeviceRequest": {"status": _STATUS},
    "DeviceUseStatement": {"status": _STATUS},
    "DiagnosticReport": {"category": _CATEGORY, "code": _CODE, "status": _STATUS},
    "Encounter": {"class": _p("class"), "status": _STATUS},
    "Flag": {"status": _STATUS},
    "Immunization": {"status": _STATUS},
    "MedicationDispense": {
        "category": _CATEGORY,
        "code": _p("medicationCodeableConcept"),
        "status": _STATUS,
    },
    "MedicationRequest": {
        "category": _CATEGORY,
        "code": _p("medicationCodeableConcept"),
        "status": _STATUS,
    },
    "MedicationStatement": {
        "category": _CATEGORY,
        "code": _p("medicationCodeableConcept"),
        "status": _STATUS,
    },
    "NutritionOrder": {"status": _STATUS},
    "Observation": {"category": _CATEGORY, "code": _CODE, "status": _STATUS},
    "Procedure": {"category": _CATEGORY, "code": _CODE, "status": _STATUS},
}

#: Per FHIR version: resource type → search parameter → path of the indexed element.
TOKEN_PARAMS: Mapping[FhirVersion, Mapping[str, Mapping[str, Path]]] = {
    FhirVersion.STU3: {
        **_TOKENS_COMMON,
        "ProcedureRequest": {"category": _CATEGORY, "code": _CODE, "status": _STATUS},
    },
    FhirVersion.R4: {
        **_TOKENS_COMMON,
        "Flag": {"category": _CATEGORY, "status": _STATUS},
        "ServiceRequest": {"category": _CATEGORY, "code": _CODE, "status": _STATUS},
    },
}


@dataclass(frozen=True)
class IncludeSpec:
    """One `_include=Source:param` the server resolves: where its references are, and
    which types the parameter may point at (a typed include must name one of them)."""

    name: str
    path: Path
    targets: frozenset[str]

    @property
    def source_type(self) -> str:
        return self.name.partition(":")[0]


def _inc(name: str, path: Path, *targets: str) -> tuple[str, IncludeSpec]:
    return name, IncludeSpec(name, path, frozenset(targets))


_MEDICATION = _p("medicationReference")

_INCLUDES_COMMON = dict(
    (
        _inc("Coverage:payor", _p("payor"), "Organization", "Patient", "RelatedPerson"),
        _inc("MedicationStatement:medication", _MEDICATION, "Medication"),
        _inc("MedicationRequest:medication", _MEDICATION, "Medication"),
        _inc("MedicationDispense:medication", _MEDICATION, "Medication"),
        _inc("DeviceUseStatement:device", _p("device"), "Device"),
        _inc("DeviceRequest:device", _p("codeReference"), "Device"),
        _inc("Observation:specimen", _p("specimen"), "Specimen"),
        _inc("Immunization:patient", _p("patient"), "Patient"),
        _inc("Immunization:location", _p("location"), "Location"),
    )
)

#: Per FHIR version: `Source:param` → what to include.
INCLUDES: Mapping[FhirVersion, Mapping[str, IncludeSpec]] = {
    FhirVersion.STU3: {
        **_INCLUDES_COMMON,
        **dict(
            (
                _inc(
                    "Patient:general-practitioner",
                    _p("generalPractitioner"),
                    "Organization",
                    "Practitioner",
                ),
                _inc(
                    "Observation:related-target",
                    _p("related", "target"),
                    "Observation",
                    "QuestionnaireResponse",
                    "Sequence",
                ),
                _inc("Immunization:practitioner", _p("practitioner", "actor"), "Practitioner"),
            )
        ),
    },
    FhirVersion.R4: {
        **_INCLUDES_COMMON,
        **dict(
            (
                _inc(
                    "Patient:general-practitioner",
                    _p("generalPractitioner"),
                    "Organization",
                    "Practitioner",
                    "PractitionerRole",
                ),
                _inc(
                    "Immunization:performer",
                    _p("performer", "actor"),
                    "Organization",
                    "Practitioner",
                    "PractitionerRole",
                ),
            )
        ),
    },
}
