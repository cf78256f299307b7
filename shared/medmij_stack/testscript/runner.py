"""Running a TestScript against a FHIR server: setup, tests, teardown, in order.

docs/qualification.md#runner-semantics, the semantics the Nictiz scripts rely on:

* an assert without ``sourceId`` judges the last response, also in a later test that has
  no operation of its own (the CheckContent tests do this);
* a failing assert with ``stopTestOnFail`` ends its test (the rest is ``skipped``);
* a variable with an ``expression`` and a ``sourceId`` is bound when that response
  (``responseId``) or fixture is known, and a request that needs an unbound variable is
  an error of its test, with the reason;
* a failure in the setup skips every test of the script.

The runner talks to the server only through a :class:`~medmij_stack.testscript.transport.
Transport`, so it runs the same against httpx, a mock transport or an in-process app.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from medmij_stack.testscript.asserts import AssertContext, evaluate_assert
from medmij_stack.testscript.errors import FhirPathError, VariableError
from medmij_stack.testscript.exchange import Exchange, parse_body
from medmij_stack.testscript.fhirpath import FhirPath
from medmij_stack.testscript.fhirxml import parse_xml, xml_to_json
from medmij_stack.testscript.model import Action, Assert, Operation, TestScript
from medmij_stack.testscript.operations import UnsupportedOperation, build_request
from medmij_stack.testscript.profiles import ProfileValidator
from medmij_stack.testscript.results import (
    AssertResult,
    OperationResult,
    Outcome,
    ScriptResult,
    TestResult,
)
from medmij_stack.testscript.structure import structure_for
from medmij_stack.testscript.transport import Transport, TransportError
from medmij_stack.testscript.variables import Variables, fill_dates

__all__ = ["RunListener", "Runner", "load_fixture"]


class RunListener(Protocol):
    """Progress callbacks (the CLI draws its live line from these)."""

    def test_started(self, script: TestScript, title: str) -> None: ...

    def test_finished(self, script: TestScript, result: TestResult) -> None: ...


class _Quiet:
    def test_started(self, script: TestScript, title: str) -> None:
        return None

    def test_finished(self, script: TestScript, result: TestResult) -> None:
        return None


def load_fixture(script: TestScript, reference: str, today: date) -> dict[str, Any]:
    """A fixture file beside the script, with Touchstone dates filled in, as FHIR JSON."""
    path = (script.path.parent / reference).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise VariableError(f"fixture {reference}: cannot read {path}: {exc.strerror}") from exc
    text = fill_dates(text, today)
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise VariableError(f"fixture {reference}: not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise VariableError(f"fixture {reference}: not a FHIR resource")
        return data
    try:
        root = parse_xml(text.encode("utf-8"))
    except ValueError as exc:
        raise VariableError(f"fixture {reference}: {exc}") from exc
    return xml_to_json(root, structure_for(script.fhir_version))


@dataclass
class _Run:
    script: TestScript
    variables: Variables
    context: AssertContext
    sources: dict[str, dict[str, Any] | None]
    exchanges: dict[str, Exchange]
    problems: list[str]
    last: Exchange | None = None


class Runner:
    """Runs scripts against one server (``base_url``)."""

    def __init__(
        self,
        transport: Transport,
        base_url: str,
        *,
        validator: ProfileValidator | None = None,
        overrides: Mapping[str, str] | None = None,
        listener: RunListener | None = None,
        today: date | None = None,
        new_uuid: Callable[[], str] | None = None,
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.validator = validator or ProfileValidator()
        self.overrides = dict(overrides or {})
        self.listener: RunListener = listener or _Quiet()
        self.today = today
        self.new_uuid = new_uuid
        self._fhirpath: dict[str, FhirPath] = {}

    def _engine(self, script: TestScript) -> FhirPath:
        engine = self._fhirpath.get(script.fhir_version)
        if engine is None:
            engine = self._fhirpath[script.fhir_version] = FhirPath(script.fhir_version)
        return engine

    def run(self, script: TestScript) -> ScriptResult:
        started = time.perf_counter()
        variables = Variables(
            script.variables, self.overrides, today=self.today, new_uuid=self.new_uuid
        )
        today = self.today or date.today()
        run = _Run(
            script=script,
            variables=variables,
            context=AssertContext(script, self._engine(script), variables, self.validator),
            sources={},
            exchanges={},
            problems=[],
        )
        for fixture in script.fixtures:
            try:
                run.sources[fixture.id] = load_fixture(script, fixture.reference, today)
            except VariableError as exc:
                run.sources[fixture.id] = None
                run.problems.append(str(exc))
            self._bind(run, fixture.id)

        self.listener.test_started(script, "setup")
        setup = TestResult(test=None, title="setup")
        self._actions(run, script.setup, setup)
        self.listener.test_finished(script, setup)
        result = ScriptResult(script=script, base_url=self.base_url, setup=setup)
        setup_failed = bool(setup.failures)
        for test in script.tests:
            self.listener.test_started(script, test.title)
            outcome = TestResult(test=test, title=test.title)
            if setup_failed:
                outcome.skipped_reason = "the setup failed"
            else:
                self._actions(run, test.actions, outcome)
            result.tests.append(outcome)
            self.listener.test_finished(script, outcome)
        if script.teardown:
            teardown = TestResult(test=None, title="teardown")
            self._actions(run, script.teardown, teardown)
            result.teardown = teardown
        result.variables = variables.values
        result.binding_problems = run.problems
        result.seconds = time.perf_counter() - started
        return result

    def _actions(self, run: _Run, actions: Sequence[Action], into: TestResult) -> None:
        stopped: str | None = None
        for action in actions:
            if stopped is not None:
                if isinstance(action, Assert):
                    into.steps.append(AssertResult(action, Outcome.SKIPPED, stopped))
                else:
                    into.steps.append(OperationResult(action, None, Outcome.SKIPPED, stopped))
                continue
            if isinstance(action, Operation):
                step = self._operation(run, action)
                into.steps.append(step)
                if step.outcome is Outcome.ERROR:
                    stopped = f"not run: the operation before it failed ({step.message})"
                continue
            target = run.exchanges.get(action.source_id) if action.source_id else run.last
            checked = evaluate_assert(action, target, run.context)
            into.steps.append(checked)
            if action.stop_test_on_fail and checked.outcome in (Outcome.FAIL, Outcome.ERROR):
                stopped = f"not run: stopTestOnFail after '{action.title}'"

    def _operation(self, run: _Run, operation: Operation) -> OperationResult:
        structure = structure_for(run.script.fhir_version)
        try:
            request = build_request(operation, self.base_url, run.variables, run.sources, structure)
        except (VariableError, UnsupportedOperation) as exc:
            return OperationResult(operation, None, Outcome.ERROR, str(exc))
        try:
            sent, response = self.transport.send(request)
        except TransportError as exc:
            exchange = Exchange(request=request, error=str(exc))
            run.last = exchange
            return OperationResult(operation, exchange, Outcome.ERROR, f"no response: {exc}")
        exchange = Exchange(
            request=sent,
            response=response,
            parsed=parse_body(response.body, response.content_type, structure),
        )
        run.last = exchange
        if operation.response_id:
            run.exchanges[operation.response_id] = exchange
            run.sources[operation.response_id] = exchange.resource
            self._bind(run, operation.response_id)
        if operation.request_id:
            run.exchanges[operation.request_id] = exchange
        return OperationResult(
            operation, exchange, Outcome.PASS, f"{sent.method} {sent.url} → {response.status}"
        )

    def _bind(self, run: _Run, source_id: str) -> None:
        resource = run.sources.get(source_id)
        exchange = run.exchanges.get(source_id)
        for variable in run.variables.bound_by(source_id):
            if variable.header_field is not None:
                value = None
                if exchange is not None and exchange.response is not None:
                    value = exchange.response.header(variable.header_field)
                if value is None:
                    reason = f"{source_id} has no header {variable.header_field}"
                    run.variables.unbind(variable.name, reason)
                    run.problems.append(f"{variable.name}: {reason}")
                else:
                    run.variables.bind(variable.name, value)
                continue
            if resource is None:
                reason = f"{source_id} holds no FHIR resource"
                run.variables.unbind(variable.name, reason)
                run.problems.append(f"{variable.name}: {reason}")
                continue
            try:
                expression = run.variables.substitute(variable.expression or "")
                found = run.context.fhirpath.evaluate(resource, expression)
            except (FhirPathError, VariableError) as exc:
                run.variables.unbind(variable.name, str(exc))
                run.problems.append(f"{variable.name}: {exc}")
                continue
            if not found:
                reason = f"its expression found nothing in {source_id}"
                run.variables.unbind(variable.name, reason)
                run.problems.append(f"{variable.name}: {reason}")
                continue
            first = found[0]
            run.variables.bind(
                variable.name,
                ("true" if first else "false") if isinstance(first, bool) else str(first),
            )
