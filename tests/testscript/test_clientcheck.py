"""Judging a client by a PHR-Client script from the requests the simulator recorded."""

from __future__ import annotations

from pathlib import Path

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript import Outcome, ScriptResult, TestOutcome, read_testscript
from medmij_stack.testscript.simulator import (
    Simulator,
    evaluate_client_script,
    evaluate_client_scripts,
    pending_requests,
)

from .conftest import ENGINE_R4, engine_simulator, nictiz_simulator

SCRIPT = read_testscript(ENGINE_R4 / "PHR-Client" / "engine-retrieve.xml")
BASE = "http://fhir.test/r4"
R4_PATH = {FhirVersion.R4: "/r4"}


def client_asks(simulator: Simulator, path: str, query: str, token: str | None) -> None:
    params = [tuple(pair.split("=", 1)) for pair in query.split("&") if pair]
    headers = [("authorization", token)] if token else []
    url = f"{BASE}/{path}" + (f"?{query}" if query else "")
    simulator.handle(FhirVersion.R4, "GET", BASE, path, params, headers, url)  # type: ignore[arg-type]


def test_a_well_behaved_client_passes() -> None:
    simulator = engine_simulator()
    assert len(pending_requests([SCRIPT], simulator.recorded(), R4_PATH)) == 2
    client_asks(
        simulator, "Immunization", "_include=Immunization:patient", "Bearer engine-token-anna"
    )
    client_asks(simulator, "Medication/engine-med-1", "", "Bearer engine-token-anna")
    assert pending_requests([SCRIPT], simulator.recorded(), R4_PATH) == []
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


SCENARIOS = ENGINE_R4 / "PHR-Client-Scenarios"
ANNA = read_testscript(SCENARIOS / "engine-scenario-anna.xml")
BRAM = read_testscript(SCENARIOS / "engine-scenario-bram.xml")
INCLUDES = "_include=Immunization:patient&_include=Immunization:performer"


def judged_url(result: ScriptResult) -> str | None:
    exchange = result.tests[0].operations[0].exchange
    return None if exchange is None else exchange.request.url


def test_the_scenarios_token_outweighs_an_exact_parameter_match() -> None:
    """Anna's search carries extra parameters, Bram's matches the script exactly: Anna's
    scenario is still judged on Anna's request."""
    simulator = engine_simulator()
    client_asks(simulator, "Immunization", INCLUDES, "Bearer engine-token-anna")
    client_asks(simulator, "Immunization", "", "Bearer engine-token-bram")
    result = evaluate_client_script(ANNA, simulator.recorded(), base_url=BASE, base_path="/r4")
    assert result.tests[0].outcome is TestOutcome.PASSED
    assert judged_url(result) == f"{BASE}/Immunization?{INCLUDES}"


def test_two_scenarios_each_get_the_request_with_their_token() -> None:
    simulator = engine_simulator()
    client_asks(simulator, "Immunization", INCLUDES, "Bearer engine-token-anna")
    client_asks(simulator, "Immunization", "", "Bearer engine-token-bram")
    assert pending_requests([ANNA, BRAM], simulator.recorded(), R4_PATH) == []
    anna, bram = evaluate_client_scripts(
        [ANNA, BRAM], simulator.recorded(), base_urls={FhirVersion.R4: BASE}
    )
    assert [anna.tests[0].outcome, bram.tests[0].outcome] == [TestOutcome.PASSED] * 2
    assert judged_url(anna) == f"{BASE}/Immunization?{INCLUDES}"
    assert judged_url(bram) == f"{BASE}/Immunization"


def test_a_request_is_used_for_one_test_in_the_whole_run() -> None:
    """Two scripts with the same search (as Nictiz's Test and Cert variants) each need a
    request of their own."""
    simulator = engine_simulator()
    client_asks(simulator, "Immunization", "", "Bearer engine-token-anna")
    recorded = simulator.recorded()
    assert pending_requests([ANNA, ANNA], recorded, R4_PATH) == [
        "Engine scenario - Immunization resources of Anna: GET Immunization"
    ]
    first, second = evaluate_client_scripts(
        [ANNA, ANNA], recorded, base_urls={FhirVersion.R4: BASE}
    )
    assert first.tests[0].outcome is TestOutcome.PASSED
    assert second.tests[0].outcome is TestOutcome.FAILED
    assert second.tests[0].operations[0].message == ("the client sent no request GET Immunization")
    client_asks(simulator, "Immunization", "", "Bearer engine-token-anna")
    assert pending_requests([ANNA, ANNA], simulator.recorded(), R4_PATH) == []


def test_another_patients_request_is_not_taken_from_the_scenario_it_belongs_to() -> None:
    """A request with the wrong token is only judged when no scenario has it as its own."""
    simulator = engine_simulator()
    client_asks(simulator, "Immunization", "", "Bearer engine-token-bram")
    anna, bram = evaluate_client_scripts(
        [ANNA, BRAM], simulator.recorded(), base_urls={FhirVersion.R4: BASE}
    )
    assert bram.tests[0].outcome is TestOutcome.PASSED
    assert anna.tests[0].operations[0].message == "the client sent no request GET Immunization"


def test_nictiz_immunization_scenarios_are_judged_on_their_own_patients_requests(
    nictiz: Path,
) -> None:
    folder = nictiz / "output" / "R4" / "Immunization-2-0" / "MedMij" / "Cert" / "PHR-Client"
    scripts = [
        read_testscript(folder / name)
        for name in ("imm-retrieve-cert-1-1.xml", "imm-retrieve-cert-1-2.xml")
    ]
    simulator = nictiz_simulator(nictiz)
    boekwijt = "Bearer 43100d9c-e64b-4151-900d-9ce64b8151f5"
    other = "Bearer 12437b6a-3ed2-4cb5-837b-6a3ed23cb549"
    client_asks(simulator, "Immunization", INCLUDES, boekwijt)
    client_asks(simulator, "Immunization", "", other)
    results = evaluate_client_scripts(
        scripts, simulator.recorded(), base_urls={FhirVersion.R4: BASE}
    )
    assert [result.tests[0].outcome for result in results] == [TestOutcome.PASSED] * 2
    assert judged_url(results[0]) == f"{BASE}/Immunization?{INCLUDES}"
    assert judged_url(results[1]) == f"{BASE}/Immunization"
