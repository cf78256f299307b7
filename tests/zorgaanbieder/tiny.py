"""Two small hand-written datasets (BgZ STU3 and Vaccinaties R4) for two persons, A and B.

Small enough to know every answer by heart, shaped like the Nictiz fixtures (meta.profile
everywhere, a masked BSN, a display on every Reference and Coding), with the traps that
matter: two body weights for $lastn, a lab result with a Specimen, a contained Location,
and a Medication that only B's record references (so A must never read it).
"""

from __future__ import annotations

from typing import Any

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.protocol.persons import TestPerson
from medmij_stack.zorgaanbieder.dataset import (
    Dataset,
    EndpointKey,
    PatientRecord,
    QualificationToken,
)

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
BSN_SYSTEM = "http://fhir.nl/fhir/NamingSystem/bsn"
PHARMACEUTICAL_PRODUCT = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-imm-Vaccination.PharmaceuticalProduct"
)

TOKEN_A_48 = "tiny-a-48-0b6f7c1e"
TOKEN_B_48 = "tiny-b-48-5d1e2a90"
TOKEN_A_63 = "tiny-a-63-77aa3c02"
TOKEN_B_63 = "tiny-b-63-9c0d4e11"


def _meta(profile: str) -> dict[str, Any]:
    return {"profile": [f"http://nictiz.nl/fhir/StructureDefinition/{profile}"]}


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _ref(target: str, display: str) -> dict[str, str]:
    return {"reference": target, "display": display}


def _patient(patient_id: str, person: TestPerson) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "meta": _meta("nl-core-patient"),
        "identifier": [
            {
                "system": BSN_SYSTEM,
                # Masked as in the Nictiz fixtures: the BSN itself is never served.
                "_value": {
                    "extension": [
                        {
                            "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                            "valueCode": "masked",
                        }
                    ]
                },
            }
        ],
        "name": [{"family": person.family_name, "given": [person.given_name]}],
        "gender": person.gender,
        "birthDate": person.birth_date.isoformat(),
    }


def bgz(zorgaanbieder: str, a: TestPerson, b: TestPerson) -> Dataset:
    """BgZ (48, STU3): A has a full-ish record, B only a Patient and one Condition."""
    pat_a = _patient("pat-a", a) | {
        "generalPractitioner": [_ref("Practitioner/gp-1", "Dr. Huisarts")]
    }
    subject_a = _ref("Patient/pat-a", a.name)
    weight = _concept(LOINC, "29463-7", "Body weight")
    vital = [_concept(SNOMED, "118227000", "Vital signs finding")]
    resources: list[dict[str, Any]] = [
        pat_a,
        {
            "resourceType": "Practitioner",
            "id": "gp-1",
            "meta": _meta("nl-core-practitioner"),
            "name": [{"family": "Huisarts", "prefix": ["Dr."]}],
        },
        {
            "resourceType": "Condition",
            "id": "cond-a-1",
            "meta": _meta("zib-Problem"),
            "clinicalStatus": "active",
            "verificationStatus": "confirmed",
            "code": _concept(SNOMED, "38341003", "Hypertensie"),
            "subject": subject_a,
        },
        {
            "resourceType": "Observation",
            "id": "weight-a-old",
            "meta": _meta("zib-BodyWeight"),
            "status": "final",
            "category": vital,
            "code": weight,
            "subject": subject_a,
            "effectiveDateTime": "2020-01-10T09:00:00+01:00",
            "valueQuantity": {
                "value": 80,
                "unit": "kg",
                "system": "http://unitsofmeasure.org",
                "code": "kg",
            },
        },
        {
            "resourceType": "Observation",
            "id": "weight-a-new",
            "meta": _meta("zib-BodyWeight"),
            "status": "final",
            "category": vital,
            "code": weight,
            "subject": subject_a,
            "effectiveDateTime": "2024-03-01T09:00:00+01:00",
            "valueQuantity": {
                "value": 78,
                "unit": "kg",
                "system": "http://unitsofmeasure.org",
                "code": "kg",
            },
        },
        {
            "resourceType": "Observation",
            "id": "lab-a-1",
            "meta": _meta("zib-LaboratoryTestResult-Observation"),
            "status": "final",
            "category": [_concept(SNOMED, "275711006", "Chemistry procedure")],
            "code": _concept(LOINC, "2345-7", "Glucose"),
            "subject": subject_a,
            "effectiveDateTime": "2024-02-02T08:00:00+01:00",
            "specimen": _ref("Specimen/spec-a-1", "Bloed"),
            "valueQuantity": {
                "value": 5.4,
                "unit": "mmol/l",
                "system": "http://unitsofmeasure.org",
                "code": "mmol/L",
            },
        },
        {
            "resourceType": "Specimen",
            "id": "spec-a-1",
            "meta": _meta("zib-LaboratoryTestResult-Specimen"),
            "type": _concept(SNOMED, "119297000", "Bloed"),
            "subject": subject_a,
        },
        {
            "resourceType": "MedicationStatement",
            "id": "ms-a-1",
            "meta": _meta("zib-MedicationUse"),
            "status": "active",
            "category": _concept(
                "urn:oid:2.16.840.1.113883.2.4.3.11.60.20.77.5.3", "6", "Medicatiegebruik"
            ),
            "medicationReference": _ref("Medication/med-1", "Metoprolol"),
            "subject": subject_a,
            "taken": "y",
        },
        {
            "resourceType": "Medication",
            "id": "med-1",
            "meta": _meta("zib-Product"),
            "code": _concept("urn:oid:2.16.840.1.113883.2.4.4.10", "12345", "Metoprolol"),
        },
        {
            "resourceType": "Immunization",
            "id": "imm-a-1",
            "meta": _meta("zib-Vaccination"),
            "status": "completed",
            "notGiven": False,
            "vaccineCode": _concept("http://www.whocc.no/atc", "J07BB02", "Influenza"),
            "patient": subject_a,
            "date": "2023-10-15",
            "primarySource": True,
        },
        {
            "resourceType": "Encounter",
            "id": "enc-a-1",
            "meta": _meta("zib-Encounter"),
            "status": "finished",
            "class": {
                "system": "http://hl7.org/fhir/v3/ActCode",
                "code": "IMP",
                "display": "inpatient encounter",
            },
            "subject": subject_a,
        },
        _patient("pat-b", b),
        {
            "resourceType": "Condition",
            "id": "cond-b-1",
            "meta": _meta("zib-Problem"),
            "clinicalStatus": "active",
            "verificationStatus": "confirmed",
            "code": _concept(SNOMED, "73211009", "Diabetes mellitus"),
            "subject": _ref("Patient/pat-b", b.name),
        },
    ]
    return Dataset(
        endpoint=EndpointKey(zorgaanbieder, "48"),
        fhir_version=FhirVersion.STU3,
        resources=tuple(resources),
        patients=(PatientRecord("pat-a", a.bsn), PatientRecord("pat-b", b.bsn)),
        source="test:tiny-bgz",
        version="tiny-bgz-1",
        tokens=(QualificationToken(TOKEN_A_48, "pat-a"), QualificationToken(TOKEN_B_48, "pat-b")),
    )


def _immunization(
    immunization_id: str,
    patient: str,
    display: str,
    medication: str,
    *,
    location: dict[str, Any],
    contained: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": immunization_id,
        "meta": _meta("imm-Vaccination-event"),
        "extension": [
            {
                "url": PHARMACEUTICAL_PRODUCT,
                "valueReference": {
                    "reference": f"Medication/{medication}",
                    "type": "Medication",
                    "display": "BMR vaccin",
                },
            }
        ],
        "identifier": [
            {"system": "urn:oid:2.16.840.1.113883.2.4.3.11.999.7.6", "value": immunization_id}
        ],
        "status": "completed",
        "vaccineCode": _concept(SNOMED, "871831003", "Bof-, mazelen- en rubellavaccin"),
        "patient": _ref(f"Patient/{patient}", display),
        "occurrenceDateTime": "2022-05-01",
        "location": location,
        "performer": [
            {
                "function": _concept(
                    "http://terminology.hl7.org/CodeSystem/v2-0443",
                    "AP",
                    "Administering Provider",
                ),
                "actor": _ref("Organization/org-1", "GGD Testregio"),
            }
        ],
    }
    if contained:
        resource["contained"] = contained
    return resource


def vaccinaties(zorgaanbieder: str, a: TestPerson, b: TestPerson) -> Dataset:
    """Vaccinaties (63, R4): A has two (one at a contained Location), B one."""
    resources: list[dict[str, Any]] = [
        _patient("pat-a", a),
        _immunization(
            "imm-a-1", "pat-a", a.name, "mmr-1", location=_ref("Location/loc-1", "Priklocatie")
        ),
        _immunization(
            "imm-a-2",
            "pat-a",
            a.name,
            "mmr-1",
            location=_ref("#loc-c", "Adres: Nederland"),
            contained=[{"resourceType": "Location", "id": "loc-c", "name": "Buitenland"}],
        ),
        {
            "resourceType": "Medication",
            "id": "mmr-1",
            "meta": _meta("imm-PharmaceuticalProduct"),
            "code": _concept("urn:oid:2.16.840.1.113883.2.4.4.7", "2925508", "BMR vaccin"),
        },
        {
            "resourceType": "Organization",
            "id": "org-1",
            "meta": _meta("nl-core-HealthcareProvider-Organization"),
            "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/ura", "value": "1234"}],
            "name": "GGD Testregio",
        },
        {
            "resourceType": "Location",
            "id": "loc-1",
            "meta": _meta("nl-core-HealthcareProvider"),
            "name": "Priklocatie",
        },
        _patient("pat-b", b),
        _immunization(
            "imm-b-1", "pat-b", b.name, "mmr-b", location=_ref("Location/loc-1", "Priklocatie")
        ),
        {
            "resourceType": "Medication",
            "id": "mmr-b",
            "meta": _meta("imm-PharmaceuticalProduct"),
            "code": _concept("urn:oid:2.16.840.1.113883.2.4.4.7", "2924528", "Ander vaccin"),
        },
    ]
    return Dataset(
        endpoint=EndpointKey(zorgaanbieder, "63"),
        fhir_version=FhirVersion.R4,
        resources=tuple(resources),
        patients=(PatientRecord("pat-a", a.bsn), PatientRecord("pat-b", b.bsn)),
        source="test:tiny-vaccinaties",
        version="tiny-vaccinaties-1",
        tokens=(QualificationToken(TOKEN_A_63, "pat-a"), QualificationToken(TOKEN_B_63, "pat-b")),
    )
