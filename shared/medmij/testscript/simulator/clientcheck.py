"""Judging a client (a PGO) by a PHR-Client script, from the requests it sent.

docs/QUALIFICATION.md §4.2, PHR-Client scripts: each test names the request the client
should make (``resource`` and ``params``, and the token in its ``Authorization``
header), then asserts on that request (``direction=request``: the header, no
``patient=`` or ``subject=``) and on the simulator's answer (status, Bundle, counts).

A test is matched to a recorded request by path (``Immunization``, ``Observation/$lastn``)
and query: the request must carry every parameter the test names (more is allowed). When
several requests match, one with exactly the named parameters and the test's token is
taken first, so two scenarios with the same searches but different patients each find
their own. A test without a matching request fails with what was expected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlsplit

from medmij.testscript.asserts import AssertContext, evaluate_assert
from medmij.testscript.errors import VariableError
from medmij.testscript.exchange import Exchange
from medmij.testscript.fhirpath import FhirPath
from medmij.testscript.model import Operation, ScriptTest, TestScript
from medmij.testscript.profiles import ProfileValidator
from medmij.testscript.results import (
    AssertResult,
    OperationResult,
    Outcome,
    ScriptResult,
    TestResult,
)
from medmij.testscript.variables import Variables

__all__ = ["evaluate_client_script", "expected_request", "pending_requests"]


def expected_request(
    operation: Operation, variables: Variables
) -> tuple[str, list[tuple[str, str]]]:
    """The path below the FHIR base and the query pairs a test's operation names."""
    params = variables.substitute(operation.params or "")
    extra_path, _, query = params.partition("?")
    path = (operation.resource or "") + extra_path.rstrip("/")
    return path.strip("/"), parse_qsl(query, keep_blank_values=True)


def _recorded(exchange: Exchange, base_path: str) -> tuple[str, list[tuple[str, str]]]:
    parts = urlsplit(exchange.request.url)
    path = parts.path
    prefix = base_path.rstrip("/")
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :]
    return path.strip("/"), parse_qsl(parts.query, keep_blank_values=True)


def _token(operation: Operation, variables: Variables) -> str | None:
    for item in operation.request_headers:
        if item.field.lower() == "authorization":
            try:
                return variables.substitute(item.value)
            except VariableError:
                return None
    return None


def _pick(
    operation: Operation,
    variables: Variables,
    exchanges: Sequence[Exchange],
    used: set[int],
    base_path: str,
) -> Exchange | None:
    path, params = expected_request(operation, variables)
    wanted = Counter(params)
    token = _token(operation, variables)
    best: tuple[int, int] | None = None
    for index, exchange in enumerate(exchanges):
        if index in used:
            continue
        got_path, got_params = _recorded(exchange, base_path)
        if got_path != path:
            continue
        got = Counter(got_params)
        if any(got[pair] < count for pair, count in wanted.items()):
            continue
        score = (2 if got == wanted else 0) + (
            1 if exchange.request.header("authorization") == token else 0
        )
        if best is None or score > best[0]:
            best = (score, index)
    if best is None:
        return None
    used.add(best[1])
    return exchanges[best[1]]


def _describe(operation: Operation, variables: Variables) -> str:
    path, params = expected_request(operation, variables)
    query = "&".join(f"{name}={value}" for name, value in params)
    return f"GET {path}" + (f"?{query}" if query else "")


def evaluate_client_script(
    script: TestScript,
    exchanges: Sequence[Exchange],
    *,
    base_url: str,
    base_path: str = "",
    validator: ProfileValidator | None = None,
    overrides: Mapping[str, str] | None = None,
) -> ScriptResult:
    """The result of a PHR-Client script over the requests a client sent to the simulator."""
    variables = Variables(script.variables, overrides)
    context = AssertContext(
        script, FhirPath(script.fhir_version), variables, validator or ProfileValidator()
    )
    used: set[int] = set()
    result = ScriptResult(script=script, base_url=base_url, setup=TestResult(None, "setup"))
    for test in script.tests:
        result.tests.append(_test(test, exchanges, used, variables, context, base_path))
    result.variables = variables.values
    return result


def _test(
    test: ScriptTest,
    exchanges: Sequence[Exchange],
    used: set[int],
    variables: Variables,
    context: AssertContext,
    base_path: str,
) -> TestResult:
    outcome = TestResult(test=test, title=test.title)
    last: Exchange | None = None
    stopped: str | None = None
    for action in test.actions:
        if stopped is not None:
            if isinstance(action, Operation):
                outcome.steps.append(OperationResult(action, None, Outcome.SKIPPED, stopped))
            else:
                outcome.steps.append(AssertResult(action, Outcome.SKIPPED, stopped))
            continue
        if isinstance(action, Operation):
            exchange = _pick(action, variables, exchanges, used, base_path)
            if exchange is None:
                expected = _describe(action, variables)
                message = f"the client sent no request {expected}"
                outcome.steps.append(OperationResult(action, None, Outcome.ERROR, message))
                stopped = f"not checked: {message}"
                continue
            last = exchange
            status = exchange.response.status if exchange.response else "no answer"
            outcome.steps.append(
                OperationResult(
                    action,
                    exchange,
                    Outcome.PASS,
                    f"client sent {exchange.request.method} {exchange.request.url} → {status}",
                )
            )
            continue
        checked = evaluate_assert(action, last, context)
        outcome.steps.append(checked)
        if action.stop_test_on_fail and checked.outcome in (Outcome.FAIL, Outcome.ERROR):
            stopped = f"not run: stopTestOnFail after '{action.title}'"
    return outcome


def pending_requests(
    script: TestScript, exchanges: Sequence[Exchange], base_path: str = ""
) -> list[str]:
    """The requests ``script`` expects that no recorded request (with its token) matches yet.

    ``medmij qualify-client`` stops listening once this is empty for every script.
    """
    variables = Variables(script.variables)
    pending = []
    for test in script.tests:
        for operation in test.operations:
            token = _token(operation, variables)
            candidates = [
                exchange
                for exchange in exchanges
                if token is None or exchange.request.header("authorization") == token
            ]
            if _pick(operation, variables, candidates, set(), base_path) is None:
                pending.append(f"{script.label}: {_describe(operation, variables)}")
    return pending
