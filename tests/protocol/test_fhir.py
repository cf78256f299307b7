"""The one FHIR version type, its value and the other names each part of the stack uses; and
the FHIR formats."""

from __future__ import annotations

import importlib

import pytest

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.fhir import FhirFormat, FhirVersion


def test_the_value_is_the_mime_parameter_and_the_catalogue_uses_it() -> None:
    assert [version.value for version in FhirVersion] == ["3.0", "4.0"]
    assert catalogue.get("48").fhir_version is FhirVersion.STU3
    assert catalogue.get("63").fhir_version is FhirVersion.R4
    assert f"fhirVersion={FhirVersion.R4}" == "fhirVersion=4.0"


def test_release_full_version_and_models() -> None:
    assert [(v.release, v.full) for v in FhirVersion] == [("STU3", "3.0.2"), ("R4", "4.0.1")]
    for version in FhirVersion:
        models = importlib.import_module(version.models_package)
        patient = models.get_fhir_model_class("Patient").model_validate({"gender": "female"})
        assert patient.gender == "female"
    # ProcedureRequest is STU3 only (R4 renamed it ServiceRequest).
    stu3 = importlib.import_module(FhirVersion.STU3.models_package)
    r4 = importlib.import_module(FhirVersion.R4.models_package)
    assert stu3.get_fhir_model_class("ProcedureRequest").__name__ == "ProcedureRequest"
    with pytest.raises(ValueError, match="not a valid FHIR Model"):
        r4.get_fhir_model_class("ProcedureRequest")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("STU3", FhirVersion.STU3), ("stu3", FhirVersion.STU3), ("R4", FhirVersion.R4)],
)
def test_from_release(name: str, expected: FhirVersion) -> None:
    assert FhirVersion.from_release(name) is expected


@pytest.mark.parametrize("name", ["R4B", "R5", "DSTU2", "3.0", "", " R4"])
def test_from_release_knows_no_other_name(name: str) -> None:
    assert FhirVersion.from_release(name) is None


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("3.0", FhirVersion.STU3),
        ("3.0.2", FhirVersion.STU3),
        ("4.0", FhirVersion.R4),
        ("4.0.1", FhirVersion.R4),
        ("4.01", None),
        ("4", None),
        ("4.3.0", None),
        ("STU3", None),
    ],
)
def test_from_number_reads_major_minor(number: str, expected: FhirVersion | None) -> None:
    assert FhirVersion.from_number(number) is expected


def test_a_format_is_its_format_parameter_with_its_media_type() -> None:
    assert [(f.value, f.media_type) for f in FhirFormat] == [
        ("json", "application/fhir+json"),
        ("xml", "application/fhir+xml"),
    ]
