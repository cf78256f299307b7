"""Variables: defaults, ${UUID} per use, overrides, Touchstone dates, unbound variables."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript import (
    Assert,
    Operation,
    Role,
    ScriptTest,
    TestScript,
    Variable,
    VariableError,
)
from medmij_stack.testscript.model import RequestHeader
from medmij_stack.testscript.variables import Variables, fill_dates, shift_date, unknown_overrides

DECLARED = [
    Variable(name="token", default_value="Bearer abc"),
    Variable(name="X-Correlation-ID", default_value="${UUID}"),
    Variable(name="anna-id", expression="Patient.id", source_id="search"),
]


def test_uuid_is_new_at_every_use_but_a_uuid_default_holds_for_the_run() -> None:
    variables = Variables(DECLARED)
    first, second = variables.substitute("${UUID}"), variables.substitute("${UUID}")
    assert first != second
    assert uuid.UUID(first)
    assert uuid.UUID(second)
    correlation = variables.substitute("${X-Correlation-ID}")
    assert correlation == variables.substitute("${X-Correlation-ID}")
    assert uuid.UUID(correlation)


def test_defaults_overrides_and_bound_values_are_substituted() -> None:
    variables = Variables(DECLARED, {"token": "Bearer mine", "extra": "x"})
    assert variables.substitute("${token} ${extra}") == "Bearer mine x"
    variables.bind("anna-id", "p1")
    assert variables.substitute("Patient/${anna-id}") == "Patient/p1"
    assert [v.name for v in variables.bound_by("search")] == ["anna-id"]
    # An override wins over the expression: the variable is then never bound.
    overridden = Variables(DECLARED, {"anna-id": "given"})
    assert overridden.bound_by("search") == []
    assert overridden.substitute("${anna-id}") == "given"


def test_a_variable_without_a_value_is_an_error_that_says_why() -> None:
    variables = Variables(DECLARED)
    with pytest.raises(VariableError, match="read from 'search', which has not been received"):
        variables.substitute("${anna-id}")
    variables.unbind("anna-id", "its expression found nothing in search")
    with pytest.raises(VariableError, match="found nothing in search"):
        variables.substitute("${anna-id}")
    with pytest.raises(VariableError, match="not a declared variable; give it with --var"):
        variables.substitute("${nobody}")


def test_touchstone_dates_are_relative_to_today() -> None:
    today = date(2024, 2, 29)
    variables = Variables([], today=today)
    assert variables.substitute("${CURRENTDATE}") == "2024-02-29"
    assert variables.substitute("${DATE, T, Y, -17}") == "2007-02-28"
    assert variables.substitute("${DATE, T, M, +1}") == "2024-03-29"
    assert variables.substitute("${DATE, T, D, -1}") == "2024-02-28"
    assert shift_date(date(2024, 1, 31), "M", 1) == date(2024, 2, 29)
    text = '<birthDate value="${DATE, T, Y, -1}"/><x value="${DATE, T, D, +30}T00:00:00+02:00"/>'
    assert fill_dates(text, today) == (
        '<birthDate value="2023-02-28"/><x value="2024-03-30T00:00:00+02:00"/>'
    )


def test_an_override_no_script_declares_or_uses_is_named() -> None:
    """``--var`` values count when a script declares the variable or uses it as ``${NAME}``
    (also as the anchor of a ``${DATE, …}``, or to fix a built-in); anything else is a typo
    that would otherwise go unnoticed."""
    script = TestScript(
        path=Path("engine.xml"),
        id="engine",
        url=None,
        name=None,
        title=None,
        description=None,
        fhir_version=FhirVersion.R4,
        role=Role.SERVER,
        variables=(Variable(name="token", default_value="Bearer abc"),),
        tests=(
            ScriptTest(
                id=None,
                name="read",
                description=None,
                actions=(
                    Operation(
                        type_code="read",
                        params="/${undeclared-id}",
                        request_headers=(RequestHeader("MedMij-Request-ID", "${UUID}"),),
                    ),
                    Assert(expression="Patient.birthDate = '${DATE, anchor, Y, -1}'"),
                ),
            ),
        ),
    )
    given = ["token", "undeclared-id", "anchor", "UUID", "tokne", "other"]
    assert unknown_overrides([script], dict.fromkeys(given, "x")) == ["tokne", "other"]
    assert unknown_overrides([], {"token": "x"}) == ["token"]
