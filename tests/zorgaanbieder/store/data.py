"""Small hand-made datasets for the store tests: two STU3 patients with the same codes,
one R4 patient beside a decoy, and the shared resources between them.

Patient A (`pat-a`) has one resource for every BgZ search; patient B (`pat-b`) has some of
the same codes, so any leak between them shows as an extra match. Some shared resources
are referenced by A only, some by B only, one only through another shared resource.
"""

from __future__ import annotations

from typing import Any

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.zorgaanbieder.dataset import (
    Dataset,
    EndpointKey,
    PatientRecord,
    QualificationToken,
)

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ACTCODE = "http://hl7.org/fhir/v3/ActCode"
MEDICATION_USE = "urn:oid:2.16.840.1.113883.2.4.3.11.60.20.77.5.3"
PHARMACEUTICAL_PRODUCT = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-imm-Vaccination.PharmaceuticalProduct"
)

BGZ = EndpointKey("ziekenhuis@medmij", "48")
VACCINATIES = EndpointKey("ggd@medmij", "63")

BSN_A = "999911120"
BSN_B = "999911284"
BSN_R = "999901382"
TOKEN_A = "token-of-patient-a"
TOKEN_R = "token-of-patient-r"

Resource = dict[str, Any]


def ref(target: str) -> dict[str, str]:
    return {"reference": target}


def concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def resource(resource_type: str, id: str, **fields: Any) -> Resource:
    return {"resourceType": resource_type, "id": id, **fields}


def observation(id: str, patient: str, *codings: tuple[str, str], **fields: Any) -> Resource:
    code = {"coding": [{"system": s, "code": c} for s, c in codings]}
    fields = {"status": "final", "code": code, "subject": ref(f"Patient/{patient}"), **fields}
    return resource("Observation", id, **fields)


def _shared() -> list[Resource]:
    return [
        resource("Practitioner", "prac-gp"),
        resource("Organization", "org-gp"),
        resource("Organization", "org-insurer"),
        resource("Organization", "org-of-role"),  # reached only through role-a
        resource("PractitionerRole", "role-a", organization=ref("Organization/org-of-role")),
        resource("Organization", "org-b-only"),
        resource("Organization", "org-unreferenced"),
        resource("Medication", "med-a", code=concept("urn:oid:2.16.840.1.113883.2.4.4.10", "1")),
        resource("Medication", "med-b-only"),
        resource("Device", "dev-shared"),  # no patient: a hearing-aid type
        resource("Location", "loc-a"),
    ]


def _patient_a() -> list[Resource]:
    a = "Patient/pat-a"
    return [
        resource(
            "Patient",
            "pat-a",
            generalPractitioner=[ref("Practitioner/prac-gp"), ref("Organization/org-gp")],
        ),
        resource("Coverage", "cov-a1", beneficiary=ref(a), payor=[ref("Organization/org-insurer")]),
        resource("Coverage", "cov-a2", beneficiary=ref(a), payor=[ref(a)]),
        # Paid by patient B: the payor include must not hand A the Patient of B.
        resource("Coverage", "cov-a3", beneficiary=ref(a), payor=[ref("Patient/pat-b")]),
        resource(
            "Consent",
            "consent-treatment",
            status="active",
            category=[concept(SNOMED, "11291000146105")],
            patient=ref(a),
        ),
        resource(
            "Consent",
            "consent-advance",
            status="active",
            category=[concept(SNOMED, "11341000146107")],
            patient=ref(a),
        ),
        observation("weight-old", "pat-a", (LOINC, "29463-7"), effectiveDateTime="2019-01-01"),
        observation(
            "weight-new",
            "pat-a",
            (LOINC, "29463-7"),
            effectiveDateTime="2020-06-01T10:00:00+02:00",
            valueQuantity={"value": 72.5, "unit": "kg"},
        ),
        observation(
            "weight-mid", "pat-a", (LOINC, "29463-7"), effectivePeriod={"start": "2020-03"}
        ),
        observation(
            "height", "pat-a", (LOINC, "8302-2"), (LOINC, "8308-9"), issued="2018-01-01T00:00:00Z"
        ),
        observation(
            "lab-chloride",
            "pat-a",
            (LOINC, "2069-3"),
            category=[concept(SNOMED, "49581000146104"), concept(SNOMED, "275711006")],
            effectiveDateTime="2012-05-23T12:00:00+02:00",
            specimen=ref("Specimen/spec-a"),
            related=[
                {"type": "has-member", "target": ref("Observation/lab-part")},
                # Another patient's Observation, by a data error: never included.
                {"type": "has-member", "target": ref("Observation/b-weight")},
                {"type": "has-member", "target": ref("#contained-part")},
            ],
            performer=[
                {
                    "extension": [
                        {
                            "url": "http://nictiz.nl/fhir/StructureDefinition/practitionerrole-reference",
                            "valueReference": ref("PractitionerRole/role-a"),
                        }
                    ],
                    "reference": "Practitioner/prac-gp",
                }
            ],
        ),
        observation(
            "lab-part",
            "pat-a",
            (LOINC, "2075-0"),
            category=[concept(SNOMED, "275711006")],
            effectiveDateTime="2012-05-23",
        ),
        observation(
            "living",
            "pat-a",
            (SNOMED, "365508006"),
            category=[concept(SNOMED, "118228005")],
            status="amended",
        ),
        resource(
            "Observation",
            "free-text",
            status="preliminary",
            code={"text": "vrije tekst"},
            subject=ref(a),
        ),
        resource(
            "Observation",
            "no-system",
            status="final",
            code={"coding": [{"code": "local-1"}]},
            subject=ref(a),
        ),
        resource("Condition", "cond-a1", category=[concept(SNOMED, "282291009")], subject=ref(a)),
        resource("Condition", "cond-a2", subject=ref(a)),
        resource(
            "MedicationStatement",
            "ms-a",
            status="active",
            category=concept(MEDICATION_USE, "6"),
            medicationReference=ref("Medication/med-a"),
            subject=ref(a),
        ),
        resource(
            "MedicationRequest",
            "mr-a",
            intent="order",
            category=concept(SNOMED, "16076005"),
            medicationReference=ref("Medication/med-a"),
            subject=ref(a),
        ),
        resource(
            "MedicationRequest",
            "mr-a2",
            intent="order",
            category=concept(SNOMED, "16076005"),
            medicationReference=ref("https://elders.example/fhir/Medication/med-a/_history/3"),
            subject=ref(a),
        ),
        resource(
            "MedicationDispense",
            "md-a",
            contained=[resource("Medication", "contained-med")],
            status="completed",
            category=concept(SNOMED, "422037009"),
            medicationReference=ref("#contained-med"),
            subject=ref(a),
        ),
        resource(
            "DeviceUseStatement",
            "dus-a1",
            status="active",
            device=ref("Device/dev-shared"),
            subject=ref(a),
        ),
        resource(
            "DeviceUseStatement",
            "dus-a2",
            status="active",
            device=ref("Device/dev-a"),
            subject=ref(a),
        ),
        resource("Device", "dev-a", patient=ref(a)),
        resource(
            "DeviceRequest",
            "dr-a",
            status="active",
            codeReference=ref("Device/dev-a"),
            subject=ref(a),
        ),
        resource("Immunization", "imm-a", status="completed", notGiven=False, patient=ref(a)),
        resource("Immunization", "imm-a-entered", status="entered-in-error", patient=ref(a)),
        resource(
            "Encounter",
            "enc-imp",
            status="finished",
            **{"class": {"system": ACTCODE, "code": "IMP"}},
            subject=ref(a),
        ),
        resource(
            "Encounter",
            "enc-amb",
            status="finished",
            **{"class": {"system": ACTCODE, "code": "AMB"}},
            subject=ref(a),
        ),
        resource(
            "Procedure",
            "proc-a",
            status="completed",
            category=concept(SNOMED, "387713003"),
            subject=ref(a),
        ),
        resource("ProcedureRequest", "preq-a", status="active", intent="plan", subject=ref(a)),
        resource("ImmunizationRecommendation", "imrec-a", patient=ref(a)),
        resource(
            "Appointment",
            "app-a",
            status="booked",
            participant=[
                {"actor": ref("Location/loc-a"), "status": "accepted"},
                {"actor": ref(a), "status": "accepted"},
            ],
        ),
        resource(
            "Appointment", "app-a-cancelled", status="cancelled", participant=[{"actor": ref(a)}]
        ),
        resource("Specimen", "spec-a", subject=ref(a)),
        resource("Flag", "flag-a", status="active", subject=ref(a)),
        resource("NutritionOrder", "nut-a", status="active", patient=ref(a)),
        resource("AllergyIntolerance", "allergy-a", category=["food"], patient=ref(a)),
    ]


def _patient_b() -> list[Resource]:
    b = "Patient/pat-b"
    return [
        resource("Patient", "pat-b"),
        observation("b-weight", "pat-b", (LOINC, "29463-7"), effectiveDateTime="2024-01-01"),
        observation(
            "b-lab",
            "pat-b",
            (LOINC, "2069-3"),
            category=[concept(SNOMED, "275711006")],
            effectiveDateTime="2024-01-01",
        ),
        resource("Condition", "cond-b", category=[concept(SNOMED, "282291009")], subject=ref(b)),
        resource(
            "MedicationStatement",
            "ms-b",
            status="active",
            category=concept(MEDICATION_USE, "6"),
            medicationReference=ref("Medication/med-b-only"),
            subject=ref(b),
        ),
        resource("Coverage", "cov-b", beneficiary=ref(b), payor=[ref("Organization/org-b-only")]),
        resource(
            "Encounter",
            "enc-b",
            status="finished",
            **{"class": {"system": ACTCODE, "code": "IMP"}},
            subject=ref(b),
        ),
        resource("Immunization", "imm-b", status="completed", patient=ref(b)),
    ]


def bgz_resources() -> list[Resource]:
    """Every resource of the STU3 dataset, in load order."""
    return [*_shared(), *_patient_a(), *_patient_b()]


def bgz_dataset(version: str = "v1", resources: list[Resource] | None = None) -> Dataset:
    return Dataset(
        endpoint=BGZ,
        fhir_version=FhirVersion.STU3,
        resources=tuple(bgz_resources() if resources is None else resources),
        patients=(PatientRecord("pat-a", BSN_A), PatientRecord("pat-b", BSN_B)),
        source="test:bgz",
        version=version,
        tokens=(QualificationToken(TOKEN_A, "pat-a"),),
    )


def vaccinatie_resources() -> list[Resource]:
    """R4 Vaccinaties: patient R with two Immunizations, a decoy with one."""
    r, decoy = "Patient/pat-r", "Patient/pat-decoy"
    return [
        resource("Patient", "pat-r"),
        resource("Patient", "pat-decoy"),
        resource("Organization", "org-r"),
        resource("Organization", "org-decoy"),
        resource("PractitionerRole", "role-r", organization=ref("Organization/org-r")),
        resource("Location", "loc-r"),
        resource("Medication", "med-r1"),
        resource("Medication", "med-r2"),
        resource("Medication", "med-decoy"),
        resource(
            "Immunization",
            "imm-r1",
            contained=[resource("Location", "here")],
            extension=[
                {
                    "url": PHARMACEUTICAL_PRODUCT,
                    "valueReference": {**ref("Medication/med-r1"), "type": "Medication"},
                }
            ],
            status="completed",
            patient=ref(r),
            occurrenceDateTime="2025-01-01",
            location=ref("#here"),
            performer=[{"actor": ref("Organization/org-r")}],
        ),
        resource(
            "Immunization",
            "imm-r2",
            extension=[{"url": PHARMACEUTICAL_PRODUCT, "valueReference": ref("Medication/med-r2")}],
            status="completed",
            patient=ref(r),
            occurrenceDateTime="2024-01-01",
            location=ref("Location/loc-r"),
            performer=[
                {"actor": ref("PractitionerRole/role-r")},
                {"actor": ref("Organization/org-r")},
            ],
        ),
        resource(
            "Immunization",
            "imm-decoy",
            extension=[
                {"url": PHARMACEUTICAL_PRODUCT, "valueReference": ref("Medication/med-decoy")}
            ],
            status="completed",
            patient=ref(decoy),
            occurrenceDateTime="2024-01-01",
            location=ref("Location/loc-r"),
            performer=[{"actor": ref("Organization/org-decoy")}],
        ),
    ]


def vaccinatie_dataset(version: str = "v1") -> Dataset:
    return Dataset(
        endpoint=VACCINATIES,
        fhir_version=FhirVersion.R4,
        resources=tuple(vaccinatie_resources()),
        patients=(PatientRecord("pat-r", BSN_R), PatientRecord("pat-decoy")),
        source="test:vaccinaties",
        version=version,
        tokens=(QualificationToken(TOKEN_R, "pat-r"),),
    )
