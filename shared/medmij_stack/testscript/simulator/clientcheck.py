"""Judging a client (a PGO) by PHR-Client scripts, from the requests it sent.

docs/qualification.md#phr-client-scripts: each test names the request the client
should make (``resource`` and ``params``, and the token in its ``Authorization``
header), then asserts on that request (``direction=request``: the header, no
``patient=`` or ``subject=``) and on the simulator's answer (status, Bundle, counts).

Which recorded request a test is judged on is decided for all scripts of a run at once
(:mod:`medmij_stack.testscript.simulator.matching`): the scenario's token first, then exact
parameters, and each request for one test only. A test without a request fails with what
was expected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlsplit

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.asserts import AssertContext, evaluate_assert
from medmij_stack.testscript.errors import VariableError
from medmij_stack.testscript.exchange import Exchange
from medmij_stack.testscript.fhirpath import FhirPath
from medmij_stack.testscript.model import Operation, ScriptTest, TestScript
from medmij_stack.testscript.profiles import ProfileValidator
from medmij_stack.testscript.results import (
    AssertResult,
    OperationResult,
    Outcome,
    ScriptResult,
    TestResult,
)
from medmij_stack.testscript.simulator.matching import RIGHT_TOKEN, Key, Match, Wanted, assign
from medmij_stack.testscript.variables import Variables

__all__ = [
    "evaluate_client_script",
    "evaluate_client_scripts",
    "expected_request",
    "pending_requests",
]


def expected_request(
    operation: Operation, variables: Variables
) -> tuple[str, list[tuple[str, str]]]:
    """The path below the FHIR base and the query pairs a test's operation names."""
    params = variables.substitute(operation.params or "")
    extra_path, _, query = params.partition("?")
    path = (operation.resource or "") + extra_path.rstrip("/")
    return path.strip("/"), parse_qsl(query, keep_blank_values=True)


def _token(operation: Operation, variables: Variables) -> str | None:
    for item in operation.request_headers:
        if item.field.lower() == "authorization":
            try:
                return variables.substitute(item.value)
            except VariableError:
                return None
    return None


def _describe(operation: Operation, variables: Variables) -> str:
    path, params = expected_request(operation, variables)
    query = "&".join(f"{name}={value}" for name, value in params)
    return f"GET {path}" + (f"?{query}" if query else "")


def _wanted(
    scripts: Sequence[TestScript], variables: Sequence[Variables], base_paths: Sequence[str]
) -> tuple[list[Wanted], dict[Key, str]]:
    """What every operation of the run expects, and why an operation expects nothing."""
    wanted: list[Wanted] = []
    problems: dict[Key, str] = {}
    for number, (script, values, base_path) in enumerate(
        zip(scripts, variables, base_paths, strict=True)
    ):
        for test in script.tests:
            for position, action in enumerate(test.actions):
                if not isinstance(action, Operation):
                    continue
                key = (number, test.index, position)
                try:
                    path, params = expected_request(action, values)
                except VariableError as exc:
                    problems[key] = str(exc)
                    continue
                token = _token(action, values)
                wanted.append(Wanted(key, path, tuple(params), token, base_path))
    return wanted, problems


def evaluate_client_scripts(
    scripts: Sequence[TestScript],
    exchanges: Sequence[Exchange],
    *,
    base_urls: Mapping[FhirVersion, str],
    validator: ProfileValidator | None = None,
    overrides: Mapping[str, str] | None = None,
) -> list[ScriptResult]:
    """The results of the PHR-Client scripts of one run over the requests a client sent.

    ``base_urls`` is the simulator's FHIR base per release; its path is what recorded
    request paths are read below.
    """
    bases = [base_urls[script.fhir_version] for script in scripts]
    paths = [urlsplit(base).path for base in bases]
    return _evaluate(scripts, exchanges, bases, paths, validator, overrides)


def evaluate_client_script(
    script: TestScript,
    exchanges: Sequence[Exchange],
    *,
    base_url: str,
    base_path: str = "",
    validator: ProfileValidator | None = None,
    overrides: Mapping[str, str] | None = None,
) -> ScriptResult:
    """The result of one PHR-Client script, as if it were the only one in the run."""
    return _evaluate([script], exchanges, [base_url], [base_path], validator, overrides)[0]


def _evaluate(
    scripts: Sequence[TestScript],
    exchanges: Sequence[Exchange],
    base_urls: Sequence[str],
    base_paths: Sequence[str],
    validator: ProfileValidator | None,
    overrides: Mapping[str, str] | None,
) -> list[ScriptResult]:
    checker = validator or ProfileValidator()
    variables = [Variables(script.variables, overrides) for script in scripts]
    wanted, problems = _wanted(scripts, variables, base_paths)
    plan = assign(wanted, exchanges)
    results = []
    for number, (script, values, base_url) in enumerate(
        zip(scripts, variables, base_urls, strict=True)
    ):
        context = AssertContext(script, FhirPath(script.fhir_version), values, checker)
        result = ScriptResult(script=script, base_url=base_url, setup=TestResult(None, "setup"))
        for test in script.tests:
            where = (number, test.index)
            result.tests.append(_test(test, where, plan, problems, exchanges, values, context))
        result.variables = values.values
        results.append(result)
    return results


def _test(
    test: ScriptTest,
    where: tuple[int, int],
    plan: Mapping[Key, Match],
    problems: Mapping[Key, str],
    exchanges: Sequence[Exchange],
    variables: Variables,
    context: AssertContext,
) -> TestResult:
    outcome = TestResult(test=test, title=test.title)
    last: Exchange | None = None
    stopped: str | None = None
    for position, action in enumerate(test.actions):
        if stopped is not None:
            if isinstance(action, Operation):
                outcome.steps.append(OperationResult(action, None, Outcome.SKIPPED, stopped))
            else:
                outcome.steps.append(AssertResult(action, Outcome.SKIPPED, stopped))
            continue
        if isinstance(action, Operation):
            match = plan.get((*where, position))
            if match is None:
                message = problems.get((*where, position)) or (
                    f"the client sent no request {_describe(action, variables)}"
                )
                outcome.steps.append(OperationResult(action, None, Outcome.ERROR, message))
                stopped = f"not checked: {message}"
                continue
            last = exchanges[match.index]
            status = last.response.status if last.response else "no answer"
            outcome.steps.append(
                OperationResult(
                    action,
                    last,
                    Outcome.PASS,
                    f"client sent {last.request.method} {last.request.url} → {status}",
                )
            )
            continue
        checked = evaluate_assert(action, last, context)
        outcome.steps.append(checked)
        if action.stop_test_on_fail and checked.outcome in (Outcome.FAIL, Outcome.ERROR):
            stopped = f"not run: stopTestOnFail after '{action.title}'"
    return outcome


def pending_requests(
    scripts: Sequence[TestScript],
    exchanges: Sequence[Exchange],
    base_paths: Mapping[FhirVersion, str],
    overrides: Mapping[str, str] | None = None,
) -> list[str]:
    """The requests of a run that no recorded request with the test's token answers yet.

    ``medmij qualify-client`` stops listening once this is empty. A request already
    judged for another test does not count, so two scripts that expect the same request
    wait for two.
    """
    variables = [Variables(script.variables, overrides) for script in scripts]
    paths = [base_paths[script.fhir_version] for script in scripts]
    wanted, problems = _wanted(scripts, variables, paths)
    plan = assign(wanted, exchanges)
    pending = []
    for script_number, script in enumerate(scripts):
        for test in script.tests:
            for position, action in enumerate(test.actions):
                key = (script_number, test.index, position)
                if not isinstance(action, Operation) or key in problems:
                    continue
                match = plan.get(key)
                if match is None or match.rank >= RIGHT_TOKEN:
                    described = _describe(action, variables[script_number])
                    pending.append(f"{script.label}: {described}")
    return pending
