"""Judging a client by a PHR-Client script from the requests the simulator recorded."""

from __future__ import annotations

from medmij.testscript import FhirVersion, Outcome, TestOutcome, read_testscript
from medmij.testscript.simulator import Simulator, evaluate_client_script, pending_requests

from .conftest import ENGINE_R4, engine_simulator

SCRIPT = read_testscript(ENGINE_R4 / "PHR-Client" / "engine-retrieve.xml")
BASE = "http://fhir.test/r4"


def client_asks(simulator: Simulator, path: str, query: str, token: str | None) -> None:
    params = [tuple(pair.split("=", 1)) for pair in query.split("&") if pair]
    headers = [("authorization", token)] if token else []
    url = f"{BASE}/{path}" + (f"?{query}" if query else "")
    simulator.handle(FhirVersion.R4, "GET", BASE, path, params, headers, url)  # type: ignore[arg-type]


def test_a_well_behaved_client_passes() -> None:
    simulator = engine_simulator()
    assert len(pending_requests(SCRIPT, simulator.recorded(), "/r4")) == 2
    client_asks(
        simulator, "Immunization", "_include=Immunization:patient", "Bearer engine-token-anna"
    )
    client_asks(simulator, "Medication/engine-med-1", "", "Bearer engine-token-anna")
    assert pending_requests(SCRIPT, simulator.recorded(), "/r4") == []
    result = evaluate_client_script(SCRIPT, simulator.recorded(), base_url=BASE, base_path="/r4")
    assert [test.outcome for test in result.tests] == [TestOutcome.PASSED] * 2


def test_a_client_that_sends_the_patient_and_the_wrong_token_fails_those_asserts() -> None:
    simulator = engine_simulator()
    client_asks(
        simulator, "Immunization", "patient=engine-patient-anna", "Bearer engine-token-bram"
    )
    result = evaluate_client_script(SCRIPT, simulator.recorded(), base_url=BASE, base_path="/r4")
    search, read = result.tests
    failed = {step.check.title for step in search.asserts if step.outcome is Outcome.FAIL}
    assert failed == {
        "Confirm that HTTP header Authorization contains the patient token "
        "Bearer engine-token-anna",
        "Confirm that query parameter 'patient=' was not present to avoid BSNs in the URL.",
        "Confirm that the response Bundle contains 2 Immunization resource(s).",
    }
    assert read.outcome is TestOutcome.FAILED
    assert read.operations[0].message == "the client sent no request GET Medication/engine-med-1"
    assert {step.outcome for step in read.asserts} == {Outcome.SKIPPED}


def test_with_two_requests_the_one_with_the_scripts_token_is_judged() -> None:
    simulator = engine_simulator()
    client_asks(simulator, "Immunization", "", "Bearer engine-token-bram")
    client_asks(simulator, "Immunization", "", "Bearer engine-token-anna")
    result = evaluate_client_script(SCRIPT, simulator.recorded(), base_url=BASE, base_path="/r4")
    assert result.tests[0].outcome is TestOutcome.PASSED
