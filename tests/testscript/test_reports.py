"""JUnit XML and the Dutch HTML report, from a real run on the hand-made scripts."""

from __future__ import annotations

import pytest
from lxml import etree

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript import (
    HttpxTransport,
    Runner,
    ScriptResult,
    read_testscript,
)
from medmij_stack.testscript.model import Assert
from medmij_stack.testscript.reports import html_report, junit_xml, mask_tokens
from medmij_stack.testscript.results import AssertResult, Outcome, Step, TestOutcome, TestResult
from medmij_stack.testscript.simulator import evaluate_client_script

from .conftest import ENGINE_R4, engine_simulator, simulator_client


def results() -> list[ScriptResult]:
    with simulator_client(engine_simulator()) as client:
        runner = Runner(HttpxTransport(client), "http://fhir.test/r4")
        return [
            runner.run(read_testscript(ENGINE_R4 / "XIS-Server" / name))
            for name in ("engine-basics.xml", "engine-must-fail.xml")
        ]


def test_junit_counts_failures_errors_and_keeps_what_was_not_checked() -> None:
    root = etree.fromstring(junit_xml(results()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("8", "2", "2")
    basics, must_fail = root.findall("testsuite")
    assert basics.get("failures") == "0"
    cases = must_fail.findall("testcase")
    failure = cases[0].find("failure")
    assert failure is not None
    assert failure.get("message") == "MUST FAIL: expects a 404"
    assert "HTTP status 200 (in 404,410)" in (failure.text or "")
    error = cases[0].find("error")
    assert error is not None
    assert "syntax error" in (error.text or "")
    out = cases[0].findtext("system-out") or ""
    assert "[not checked] NOT CHECKED: minimumId is not evaluated" in out
    assert "GET http://fhir.test/r4/Immunization?_include=Immunization:patient → 200" in out
    partial = basics.findall("testcase")[0].findtext("system-out") or ""
    assert "[partial]" in partial
    assert "not checked: " in partial


def test_html_shows_every_request_and_response_in_dutch_and_escapes_content() -> None:
    page = html_report(results(), title="Kwalificatie <test>")
    assert "<title>Kwalificatie &lt;test&gt;: 4 geslaagd, 4 mislukt</title>" in page
    assert "Verzoek en antwoord" in page
    assert "HTTP 200" in page
    assert "GET http://fhir.test/r4/Medication/engine-med-1" in page
    assert "&#34;resourceType&#34;: &#34;Medication&#34;" in page  # the response body
    assert "deels gecontroleerd" in page
    assert "niet gecontroleerd" in page
    assert "Niet gecontroleerd (" in page
    assert "mislukt" in page
    assert "waarschuwing" in page


def test_a_bearer_token_is_cut_to_its_first_eight_characters() -> None:
    token = "43100d9c-e64b-4151-900d-9ce64b8151f5"
    assert mask_tokens(f"Authorization: Bearer {token}") == "Authorization: Bearer 43100d9c…"
    assert mask_tokens(f"header is 'bearer {token}'") == "header is 'bearer 43100d9c…'"
    assert mask_tokens("Bearer abcd") == "Bearer ab…"  # a short token is never shown whole
    assert mask_tokens("Bearer ${patient-token}") == "Bearer ${patient-token}"


def client_result() -> ScriptResult:
    """A client that sent another patient's token: its value lands in failure messages."""
    simulator = engine_simulator()
    url = "http://fhir.test/r4/Immunization"
    headers = [("authorization", "Bearer engine-token-bram")]
    simulator.handle(FhirVersion.R4, "GET", "http://fhir.test/r4", "Immunization", [], headers, url)
    script = read_testscript(ENGINE_R4 / "PHR-Client" / "engine-retrieve.xml")
    return evaluate_client_script(
        script, simulator.recorded(), base_url="http://fhir.test/r4", base_path="/r4"
    )


def test_reports_never_show_a_whole_bearer_token() -> None:
    every = [*results(), client_result()]
    page = html_report(every)
    junit = junit_xml(every).decode("utf-8")
    for text in (page, junit):
        assert "engine-token-anna" not in text
        assert "engine-token-bram" not in text
    assert "authorization: Bearer engine-t…" in page  # the request headers
    assert "request header Authorization is &#39;Bearer engine-t…&#39;" in page
    assert "request header Authorization is 'Bearer engine-t…'" in junit


def _test(*outcomes: Outcome) -> TestResult:
    steps: list[Step] = [
        AssertResult(Assert(description=f"check {n}"), outcome, f"{outcome.value} here")
        for n, outcome in enumerate(outcomes)
    ]
    return TestResult(test=None, title="t", steps=steps)


@pytest.mark.parametrize(
    ("outcomes", "partly"),
    [
        ((Outcome.PASS, Outcome.PASS), False),
        ((Outcome.PASS, Outcome.PARTIAL), True),  # a profile only partly validated
        ((Outcome.NOT_CHECKED,), True),  # an assert the runner cannot evaluate
        ((Outcome.WARNING, Outcome.PARTIAL), True),
        ((Outcome.WARNING,), False),
        ((Outcome.PARTIAL, Outcome.FAIL), False),  # failed: that is what it is
        ((Outcome.NOT_CHECKED, Outcome.ERROR), False),
    ],
)
def test_a_passed_test_is_partly_checked_when_any_check_was_not_done_in_full(
    outcomes: tuple[Outcome, ...], partly: bool
) -> None:
    test = _test(*outcomes)
    assert test.partly_checked is partly
    assert [step.outcome for step in test.unchecked] == [
        outcome for outcome in outcomes if outcome in (Outcome.PARTIAL, Outcome.NOT_CHECKED)
    ]


def test_both_reports_mark_and_count_the_partly_checked_passes_apart() -> None:
    every = results()
    basics = every[0]
    partly = [test.title for test in basics.all_tests() if test.partly_checked]
    assert partly == ["Search immunizations", "Read the patient as XML"]
    assert basics.partly_checked_count() == 2
    assert basics.count(TestOutcome.PASSED) == 4  # still passed, counted apart as well
    # engine-must-fail has a not-checked assert in a failed test: no partly checked pass.
    assert every[1].partly_checked_count() == 0

    root = etree.fromstring(junit_xml(every))
    suites = root.findall("testsuite")
    counts = [
        suite.find("properties/property[@name='partlyChecked']").get("value")  # type: ignore[union-attr]
        for suite in suites
    ]
    assert counts == ["2", "0"]
    for case in suites[0].findall("testcase"):
        marked = case.find("properties/property[@name='checked']")
        if case.get("name") in partly:
            assert marked is not None
            assert marked.get("value") == "partly"
            out = case.findtext("system-out") or ""
            assert out.startswith("PASS* passed, but 1 check(s) not or only partly done")
        else:
            assert marked is None

    page = html_report(every)
    assert page.count('<span class="badge partial">geslaagd*, deels gecontroleerd</span>') == 2
    assert '<td class="partial">2</td>' in page  # the totals table
    assert '(waarvan <span class="partial">2 deels gecontroleerd</span>)' in page
