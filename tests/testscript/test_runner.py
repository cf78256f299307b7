"""The runner on hand-made scripts, against a correct simulated server and a misbehaving one."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import httpx
import pytest

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript import (
    HttpxTransport,
    Outcome,
    Runner,
    ScriptResult,
    TestOutcome,
    read_testscript,
)
from medmij_stack.testscript.asserts import compare
from medmij_stack.testscript.results import AssertResult, OperationResult

from .conftest import ENGINE_R4, ENGINE_STU3, Mutate, engine_simulator, simulator_client

BASICS = ENGINE_R4 / "XIS-Server" / "engine-basics.xml"
R4_BASE = "http://fhir.test/r4"


def run(script_path: Any, mutate: Mutate | None = None, **options: Any) -> ScriptResult:
    script = read_testscript(script_path)
    base = R4_BASE if script.fhir_version is FhirVersion.R4 else "http://fhir.test/stu3"
    with simulator_client(engine_simulator(), mutate) as client:
        return Runner(HttpxTransport(client), base, **options).run(script)


def outcomes(result: ScriptResult, test_index: int) -> dict[str, Outcome]:
    test = result.tests[test_index]
    return {step.check.title: step.outcome for step in test.asserts}


def failed_asserts(result: ScriptResult) -> set[str]:
    return {
        step.check.title
        for test in result.tests
        for step in test.asserts
        if step.outcome in (Outcome.FAIL, Outcome.ERROR)
    }


def requests_of(result: ScriptResult) -> list[httpx.Request | Any]:
    return [
        step.exchange.request
        for test in result.tests
        for step in test.operations
        if step.exchange is not None
    ]


def test_every_construct_passes_against_a_correct_server() -> None:
    result = run(BASICS)
    assert [test.outcome for test in result.tests] == [TestOutcome.PASSED] * 4
    assert failed_asserts(result) == set()
    # The profile check is honest: base structure checked, the rest listed as not checked.
    profile = next(
        step for step in result.tests[0].asserts if step.check.kind == "validateProfileId"
    )
    assert profile.outcome is Outcome.PARTIAL
    assert any("no profile folder given" in item for item in profile.not_checked)
    assert result.variables["anna-id"] == "engine-patient-anna"
    assert result.variables["medication-url"] == f"{R4_BASE}/Medication/engine-med-1"


def test_requests_carry_the_right_headers_encoding_and_urls() -> None:
    result = run(BASICS)
    search, medication, patient = requests_of(result)
    assert search.url == (
        f"{R4_BASE}/Immunization?vaccine-code=http://snomed.info/sct%7C28531000087107"
        "%2Chttp://snomed.info/sct%7C871878002&_include=Immunization:patient"
        "&_include=Immunization:performer"
    )
    assert search.header("Accept") == "application/fhir+json"
    assert search.header("Authorization") == "Bearer engine-token-anna"
    request_id = search.header("MedMij-Request-ID")
    assert request_id is not None
    assert uuid.UUID(request_id)
    correlation = search.header("X-Correlation-ID")
    assert correlation is not None
    assert uuid.UUID(correlation)
    assert correlation != request_id
    assert medication.url == f"{R4_BASE}/Medication/engine-med-1"
    assert patient.url == f"{R4_BASE}/Patient/engine-patient-anna"
    assert patient.header("Accept") == "application/fhir+xml"


def test_each_request_gets_its_own_request_id_and_the_run_one_correlation_id() -> None:
    script = read_testscript(BASICS)
    with simulator_client(engine_simulator()) as client:
        runner = Runner(HttpxTransport(client), R4_BASE)
        first, second = runner.run(script), runner.run(script)
    ids = [request.header("MedMij-Request-ID") for request in requests_of(first)]
    assert len([value for value in ids if value]) == 1  # only the search sends one
    assert requests_of(first)[0].header("MedMij-Request-ID") != requests_of(second)[0].header(
        "MedMij-Request-ID"
    )
    assert requests_of(first)[0].header("X-Correlation-ID") != requests_of(second)[0].header(
        "X-Correlation-ID"
    )


def _drop_one_immunization(
    request: httpx.Request, status: int, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    if body.get("resourceType") == "Bundle":
        entries = body["entry"]
        first = next(e for e in entries if e["resource"]["resourceType"] == "Immunization")
        entries.remove(first)
    return status, body


def test_a_wrong_count_fails_exactly_the_count_assert() -> None:
    result = run(BASICS, _drop_one_immunization)
    assert failed_asserts(result) == {
        "Confirm that the response Bundle contains 2 Immunization resource(s).",
        "Confirm that there are Coding elements at all (the model is in use).",
        # A CheckContent-style assert in a later test, judged on the same (last) response.
        "Confirm that each Immunization has a vaccine code with a display (boolean coercion).",
    }


def _no_self_link(
    request: httpx.Request, status: int, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    body.pop("link", None)
    return status, body


def test_a_missing_self_link_fails_warns_and_leaves_the_medication_url_unbound() -> None:
    result = run(BASICS, _no_self_link)
    search = outcomes(result, 0)
    assert search["Confirm that the returned Bundle contains a self link."] is Outcome.FAIL
    rule = (
        "Confirm that the parameters in the request URL are all handled by the server, "
        "by inspecting the self link."
    )
    assert search[rule] is Outcome.WARNING
    # The script builds the Medication URL from the self link, so without one it has no
    # value, and the read fails saying so instead of requesting something else.
    read = result.tests[2].operations[0]
    assert read.outcome is Outcome.ERROR
    assert read.message == (
        "variable 'medication-url' has no value: its expression found nothing in search-response"
    )
    assert "medication-url" not in result.variables


def _unmask_bsn(
    request: httpx.Request, status: int, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    for entry in body.get("entry", []):
        resource = entry["resource"]
        for identifier in resource.get("identifier", []):
            if identifier.get("system") == "http://fhir.nl/fhir/NamingSystem/bsn":
                identifier.pop("_value", None)
                identifier["value"] = "999911120"
    return status, body


def test_a_bsn_in_the_output_fails_the_bsn_assert() -> None:
    result = run(BASICS, _unmask_bsn)
    assert failed_asserts(result) == {
        "Confirm that Bundle does not use Burgerservicenummer (BSN) anywhere."
    }


def _server_error(
    request: httpx.Request, status: int, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    if "Immunization" in request.url.path:
        return 500, {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "fatal", "code": "exception"}],
        }
    return status, body


def test_a_wrong_status_stops_the_test_and_later_tests_see_the_error_response() -> None:
    result = run(BASICS, _server_error)
    search = result.tests[0]
    assert search.outcome is TestOutcome.FAILED
    steps = search.asserts
    assert steps[0].outcome is Outcome.FAIL
    assert steps[0].message == "HTTP status 500 (in 200,201)"
    assert {step.outcome for step in steps[1:]} == {Outcome.SKIPPED}
    assert result.tests[1].outcome is TestOutcome.FAILED
    # The medication URL could not be bound; the read says so rather than guessing.
    read = result.tests[2].operations[0]
    assert read.outcome is Outcome.ERROR
    assert "medication-url" in read.message
    assert "search-response" in read.message


def _no_bundle_type(
    request: httpx.Request, status: int, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    if body.get("resourceType") == "Bundle":
        body.pop("type")
    return status, body


def test_a_bundle_that_breaks_the_base_spec_fails_the_profile_check() -> None:
    result = run(BASICS, _no_bundle_type)
    search = outcomes(result, 0)
    assert search["Confirm that the returned Bundle type is searchset."] is Outcome.FAIL
    profile = (
        "Confirm that the returned Bundle conforms to the base FHIR specification and the "
        "resources to the stated profiles in the meta.profile tag."
    )
    assert search[profile] is Outcome.FAIL
    step = next(s for s in result.tests[0].asserts if s.check.title == profile)
    assert step.message == "1 conformance error(s): error: Bundle.type: required, but absent"


def test_asserts_written_to_fail_do_fail() -> None:
    result = run(ENGINE_R4 / "XIS-Server" / "engine-must-fail.xml")
    assert [test.outcome for test in result.tests] == [TestOutcome.FAILED] * 4
    for test in result.tests:
        for step in test.asserts:
            title = step.check.title
            expected = {
                "MUST FAIL": Outcome.FAIL,
                "MUST WARN": Outcome.WARNING,
                "MUST ERROR": Outcome.ERROR,
                "NOT CHECKED": Outcome.NOT_CHECKED,
                "SKIPPED": Outcome.SKIPPED,
            }[title.split(":")[0].removesuffix(" and stop")]
            assert step.outcome is expected, (title, step.message)
    unbound = result.tests[2].operations[0]
    assert unbound.outcome is Outcome.ERROR
    assert "never-bound" in unbound.message
    assert "found nothing" in unbound.message


def test_stu3_scripts_use_lastn_include_xml_and_the_stu3_model() -> None:
    result = run(ENGINE_STU3 / "XIS-Server" / "engine-stu3.xml")
    assert failed_asserts(result) == set()
    assert all(test.outcome is TestOutcome.PASSED for test in result.tests)
    search = requests_of(result)[0]
    assert search.url == "http://fhir.test/stu3/Observation/$lastn?code=http://loinc.org%7C29463-7"


class Recorder:
    """A server that records requests and answers with a fixed status."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json={"resourceType": "Bundle", "type": "searchset"})


def test_update_puts_the_fixture_and_binds_variables_from_it() -> None:
    recorder = Recorder(200)
    script = read_testscript(ENGINE_R4 / "Loader" / "engine-update.xml")
    with httpx.Client(transport=httpx.MockTransport(recorder)) as client:
        result = Runner(HttpxTransport(client), R4_BASE).run(script)
    put, search = recorder.requests
    assert (put.method, str(put.url)) == ("PUT", f"{R4_BASE}/Patient/engine-patient-anna")
    assert put.headers["content-type"] == "application/fhir+xml"
    body = put.content.decode()
    assert '<family value="XXX_Engine">' in body
    assert "${DATE" not in body
    assert str(search.url) == f"{R4_BASE}/Patient?family=XXX_Engine"
    assert result.setup.outcome is TestOutcome.PASSED
    body_check = result.setup.asserts[0]
    assert body_check.check.direction == "request"
    assert body_check.outcome is Outcome.PASS
    assert result.tests[0].outcome is TestOutcome.PASSED


def test_a_failed_setup_skips_every_test() -> None:
    recorder = Recorder(500)
    script = read_testscript(ENGINE_R4 / "Loader" / "engine-update.xml")
    with httpx.Client(transport=httpx.MockTransport(recorder)) as client:
        result = Runner(HttpxTransport(client), R4_BASE).run(script)
    assert result.setup.outcome is TestOutcome.FAILED
    assert [test.outcome for test in result.tests] == [TestOutcome.SKIPPED]
    assert result.count(TestOutcome.FAILED) == 1  # the setup itself counts as failed
    assert len(recorder.requests) == 1


def test_no_response_is_a_failed_test_with_the_reason() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    script = read_testscript(BASICS)
    with httpx.Client(transport=httpx.MockTransport(refuse)) as client:
        result = Runner(HttpxTransport(client), R4_BASE).run(script)
    operation = result.tests[0].steps[0]
    assert isinstance(operation, OperationResult)
    assert operation.outcome is Outcome.ERROR
    assert operation.message == "no response: connection refused"
    assert all(test.outcome is TestOutcome.FAILED for test in result.tests)


def test_command_line_variables_override_defaults() -> None:
    result = run(BASICS, overrides={"patient-token": "Bearer engine-token-bram"})
    # Bram has one Immunization: the count asserts fail, and say so.
    assert (
        "Confirm that the response Bundle contains 2 Immunization resource(s)."
        in failed_asserts(result)
    )
    assert requests_of(result)[0].header("Authorization") == "Bearer engine-token-bram"


@pytest.mark.parametrize("test_index", [0, 1])
def test_each_assert_result_keeps_the_exchange_it_judged(test_index: int) -> None:
    result = run(BASICS)
    for step in result.tests[test_index].asserts:
        assert isinstance(step, AssertResult)
        assert step.exchange is not None
        assert step.exchange.response is not None
        assert step.exchange.request.url.startswith(f"{R4_BASE}/Immunization?")


def test_the_runner_does_not_change_the_served_fixtures() -> None:
    simulator = engine_simulator()
    before = copy.deepcopy(simulator.stores)
    with simulator_client(simulator) as client:
        Runner(HttpxTransport(client), R4_BASE).run(read_testscript(BASICS))
    assert simulator.stores == before


def test_an_operator_the_runner_does_not_know_is_not_checked_never_passed_or_failed() -> None:
    result = run(ENGINE_R4 / "XIS-Server-Asserts" / "engine-operators.xml")
    test = result.tests[0]
    assert test.outcome is TestOutcome.PASSED
    assert outcomes(result, 0) == {
        "memberOf: the vaccine code is in the vaccine ValueSet": Outcome.NOT_CHECKED,
        "eval: the total is 2": Outcome.NOT_CHECKED,
        "manualEval: a person judges the status": Outcome.NOT_CHECKED,
        "A known operator is still evaluated": Outcome.PASS,
    }
    member_of = test.asserts[0]
    assert member_of.message == "not checked: this runner does not evaluate the operator memberOf"
    assert member_of.not_checked == ["operator memberOf"]
    with pytest.raises(ValueError, match="memberOf"):
        compare("memberOf", "28531000087107", "http://example.org/fhir/ValueSet/engine-vaccines")
