"""Which patient a resource belongs to: the FHIR patient compartment, STU3 and R4.

Every search and read of the resource server is confined to the patient bound to the
access token (docs/qualification.md#xis-server-scripts: "the patient comes only from the
token"; docs/architecture.md#bad-input-and-failure: a token never reaches another patient's
data). A resource belongs to a patient when the reference named here points at that Patient;
the paths follow the patient CompartmentDefinition of each FHIR version
(http://hl7.org/fhir/STU3/compartmentdefinition-patient.html,
http://hl7.org/fhir/R4/compartmentdefinition-patient.html), narrowed to the one reference
that says whose record it is (Coverage: beneficiary, not subscriber or payor; Condition:
subject, not asserter), so every resource has at most one owner.

Readings taken:

* A resource whose owner reference is absent or names no Patient (an Observation about
  a Group, a Specimen without subject) belongs to no one: it is *shared*, like an
  Organization, and only reachable through a patient's references.
* Device is not in the base compartment, but a Device with `patient` is that patient's
  own device (a knee prosthesis); it is kept in that patient's compartment so that no
  other token can ever reach it. A Device without `patient` (a hearing-aid type) is shared.
* Appointment can name several Patient actors; the first one owns it. A second patient
  does not see it: failing closed is the safe side of an ambiguous record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medmij_stack.protocol.fhir import FhirVersion

from .indexing import references_at
from .searchparams import Path

__all__ = ["OWNER_PATHS", "SHARED_TYPES", "is_known_type", "owner"]

# The reference paths are the same in both versions unless listed in the overrides.
_COMMON: Mapping[str, Path] = {
    "Account": ("subject",),
    "AdverseEvent": ("subject",),
    "AllergyIntolerance": ("patient",),
    "Appointment": ("participant", "actor"),
    "AppointmentResponse": ("actor",),
    "Basic": ("subject",),
    "CarePlan": ("subject",),
    "CareTeam": ("subject",),
    "ClinicalImpression": ("subject",),
    "Communication": ("subject",),
    "CommunicationRequest": ("subject",),
    "Composition": ("subject",),
    "Condition": ("subject",),
    "Consent": ("patient",),
    "Coverage": ("beneficiary",),
    "DetectedIssue": ("patient",),
    "Device": ("patient",),
    "DeviceRequest": ("subject",),
    "DeviceUseStatement": ("subject",),
    "DiagnosticReport": ("subject",),
    "DocumentManifest": ("subject",),
    "DocumentReference": ("subject",),
    "Encounter": ("subject",),
    "EpisodeOfCare": ("patient",),
    "FamilyMemberHistory": ("patient",),
    "Flag": ("subject",),
    "Goal": ("subject",),
    "Immunization": ("patient",),
    "ImmunizationRecommendation": ("patient",),
    "List": ("subject",),
    "MedicationAdministration": ("subject",),
    "MedicationDispense": ("subject",),
    "MedicationRequest": ("subject",),
    "MedicationStatement": ("subject",),
    "NutritionOrder": ("patient",),
    "Observation": ("subject",),
    "Procedure": ("subject",),
    "QuestionnaireResponse": ("subject",),
    "RelatedPerson": ("patient",),
    "RiskAssessment": ("subject",),
    "Specimen": ("subject",),
    "VisionPrescription": ("patient",),
}

_STU3_ONLY: Mapping[str, Path] = {
    "BodySite": ("patient",),
    "ImagingStudy": ("patient",),
    "ProcedureRequest": ("subject",),
    "ReferralRequest": ("subject",),
}

_R4_ONLY: Mapping[str, Path] = {
    "ImagingStudy": ("subject",),
    "ServiceRequest": ("subject",),
}

#: Per FHIR version: resource type → the path of the reference to the owning Patient.
OWNER_PATHS: Mapping[FhirVersion, Mapping[str, Path]] = {
    FhirVersion.STU3: {**_COMMON, **_STU3_ONLY},
    FhirVersion.R4: {**_COMMON, **_R4_ONLY},
}

#: Types that are never in a patient compartment: served only through a patient's
#: references (_include, read). A search on them finds nothing.
SHARED_TYPES: frozenset[str] = frozenset(
    {
        "Endpoint",
        "Group",
        "HealthcareService",
        "Location",
        "Medication",
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "Substance",
    }
)


def is_known_type(fhir_version: FhirVersion, resource_type: str) -> bool:
    """Whether this server knows the resource type at all (for a clear "not supported")."""
    return (
        resource_type == "Patient"
        or resource_type in OWNER_PATHS[fhir_version]
        or resource_type in SHARED_TYPES
    )


def owner(fhir_version: FhirVersion, resource: Mapping[str, Any]) -> str | None:
    """The id of the Patient whose compartment holds this resource; None when shared."""
    resource_type = resource["resourceType"]
    if resource_type == "Patient":
        return str(resource["id"])
    path = OWNER_PATHS[fhir_version].get(resource_type)
    if path is None:
        return None
    for _, target in references_at(resource, path, "Patient"):
        return target
    return None
