"""FHIRPath: the release's model, the three shims, and every expression of the real scripts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript import FhirPath, FhirPathError, discover, read_testscript
from medmij_stack.testscript.fhirpath import as_boolean
from medmij_stack.testscript.simulator import SearchRequest, search

from .conftest import nictiz_simulator

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [
        {
            "system": "http://fhir.nl/fhir/NamingSystem/bsn",
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
    "name": [
        {
            "use": "official",
            "text": "Anna XXX_Engine",
            "family": "XXX_Engine",
            "_family": {"extension": [{"url": "urn:own-name", "valueString": "XXX_Engine"}]},
            "given": ["Anna", "Maria"],
            "_given": [None, {"extension": [{"url": "urn:kind", "valueString": "roepnaam"}]}],
        }
    ],
    "telecom": [
        {
            "system": "phone",
            "_system": {"extension": [{"url": "urn:kind", "valueString": "landline"}]},
            "value": "0201234567",
        },
        {"system": "email", "value": "anna@example.org"},
    ],
    "maritalStatus": {"coding": [{"system": "urn:x", "code": "M", "display": "Married"}]},
}


@pytest.fixture(scope="module")
def r4() -> FhirPath:
    return FhirPath(FhirVersion.R4)


def test_primitives_with_an_extension_compare_and_count_as_one(r4: FhirPath) -> None:
    # Stock fhirpathpy returns the value and its extension as two items: false and 2 here.
    assert r4.evaluate(PATIENT, "Patient.telecom.where(system = 'phone').exists()") == [True]
    assert r4.evaluate(PATIENT, "Patient.telecom.system.count()") == [2]
    assert r4.evaluate(PATIENT, "Patient.name.given.count()") == [2]
    assert r4.evaluate(PATIENT, "Patient.telecom.system.extension.url") == ["urn:kind"]
    assert r4.evaluate(PATIENT, "Patient.name.given[1].extension('urn:kind').value") == ["roepnaam"]
    assert r4.evaluate(PATIENT, "Patient.name.family.extension('urn:own-name').exists()") == [True]


def test_an_extension_only_primitive_stays_present_without_a_value(r4: FhirPath) -> None:
    masked = "Patient.identifier.value"
    assert r4.evaluate(PATIENT, f"{masked}.empty().not() and {masked}.extension.exists()") == [True]
    assert r4.evaluate(PATIENT, f"{masked}.hasValue()") == [False]


def test_has_value_is_true_only_for_a_primitive_with_a_value(r4: FhirPath) -> None:
    assert r4.evaluate(PATIENT, "Patient.name.text.hasValue()") == [True]
    assert r4.evaluate(PATIENT, "Patient.name.family.hasValue()") == [True]
    assert r4.evaluate(PATIENT, "Patient.name.hasValue()") == [False]
    assert r4.evaluate(PATIENT, "Patient.birthDate.hasValue()") == [False]


def test_a_single_non_boolean_counts_as_true_where_a_boolean_is_expected(r4: FhirPath) -> None:
    # FHIRPath §4.5 singleton evaluation; stock fhirpathpy raises "Expected boolean".
    assert r4.evaluate(PATIENT, "Patient.telecom.where(system and value).count()") == [2]
    assert r4.evaluate(
        PATIENT, "Patient.maritalStatus.coding.where(code and display).exists()"
    ) == [True]
    assert r4.evaluate(PATIENT, "Patient.telecom.where(value and use).exists()") == [False]


def test_the_model_makes_type_tests_find_something() -> None:
    expression = "Patient.descendants().where($this.is(Coding)).count()"
    assert FhirPath(FhirVersion.R4).evaluate(PATIENT, expression) == [1]
    assert FhirPath(FhirVersion.STU3).evaluate(PATIENT, expression) == [1]


def test_syntax_errors_and_unknown_functions_are_errors(r4: FhirPath) -> None:
    with pytest.raises(FhirPathError, match="syntax error"):
        r4.compile("Bundle.entry.where((")
    with pytest.raises(FhirPathError, match="syntax error"):
        r4.compile("Bundle..entry")
    with pytest.raises(FhirPathError, match="Not implemented: nosuchfunction"):
        r4.evaluate(PATIENT, "Patient.nosuchfunction()")


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ([], False),
        ([True], True),
        ([False], False),
        ([0], False),
        ([3], True),
        (["false"], False),
        (["x"], True),
        ([{"a": 1}], True),
        ([False, False], True),
    ],
)
def test_results_read_as_a_condition_like_touchstone(result: list[Any], expected: bool) -> None:
    assert as_boolean(result) is expected


def _expressions(nictiz: Path) -> dict[FhirVersion, set[str]]:
    found: dict[FhirVersion, set[str]] = {FhirVersion.STU3: set(), FhirVersion.R4: set()}
    for path in discover(nictiz / "output"):
        script = read_testscript(path)
        for variable in script.variables:
            if variable.expression:
                found[script.fhir_version].add(variable.expression)
        for test in script.tests:
            for check in test.asserts:
                if check.expression:
                    found[script.fhir_version].add(check.expression)
    return found


def test_every_expression_of_the_real_scripts_compiles_and_runs(nictiz: Path) -> None:
    """Each FHIRPath of BgZ-3-0 and Immunization-2-0 compiles with the shims and evaluates
    without error on a real answer (a searchset of that release's fixtures)."""
    simulator = nictiz_simulator(nictiz)
    bundles = {
        FhirVersion.STU3: search(
            simulator.stores[FhirVersion.STU3][0],
            "medmij-bgz-patient-ts-01",
            SearchRequest("Patient", (("_include", "Patient:general-practitioner"),)),
            "http://fhir.test/stu3",
        ),
        FhirVersion.R4: search(
            simulator.stores[FhirVersion.R4][0],
            "nl-core-Patient--XXX-Boekwijt",
            SearchRequest("Immunization", (("_include", "Immunization:patient"),)),
            "http://fhir.test/r4",
        ),
    }
    medication = {"resourceType": "Medication", "id": "m", "code": {"text": "x"}}
    total = 0
    for version, expressions in _expressions(nictiz).items():
        engine = FhirPath(version)
        for expression in sorted(expressions):
            # Variables of the CheckContent scripts are ids; any id will do to compile.
            concrete = re.sub(r"\$\{[^}]+\}", "some-id", expression)
            engine.compile(concrete)
            subject = medication if concrete.startswith("Medication") else bundles[version]
            engine.evaluate(subject, concrete)
            total += 1
    assert total >= 300
