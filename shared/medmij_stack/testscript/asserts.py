"""Evaluating one TestScript assert against one request/response.

The assert kinds and flags the Nictiz XIS and PHR scripts use
(docs/qualification.md#runner-semantics): ``responseCode`` (with ``in``), ``response``,
``resource``, ``contentType``, ``expression`` (alone, or with ``operator`` and ``value``),
``headerField``, ``requestURL``, ``requestMethod``, ``validateProfileId``, and the
Touchstone rule ``assert-response-queryParamsInSelfLink``. ``direction`` says whether the
request or the response is judged; ``warningOnly`` turns a failure into a warning.

Operators follow the TestScript ``assertionOperatorType`` codes. Without an operator an
``expression`` must come out true (read as Touchstone reads a result, see
:func:`medmij_stack.testscript.fhirpath.as_boolean`); any other kind defaults to ``equals``.
An assert kind or operator the runner cannot evaluate (R5's ``memberOf``, ``eval``,
``manualEval``, …) is ``not checked``, never ``pass`` and never a false ``fail``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote_plus

from medmij_stack.testscript.errors import FhirPathError, VariableError
from medmij_stack.testscript.exchange import Exchange, parse_body
from medmij_stack.testscript.fhirpath import FhirPath, as_boolean, result_text
from medmij_stack.testscript.model import Assert, TestScript
from medmij_stack.testscript.profiles import ProfileValidator
from medmij_stack.testscript.results import AssertResult, Outcome
from medmij_stack.testscript.selflink import RULE_ID, check_query_params_in_self_link
from medmij_stack.testscript.structure import structure_for
from medmij_stack.testscript.variables import Variables

__all__ = ["OPERATORS", "AssertContext", "compare", "evaluate_assert"]

_RESPONSE_CODES = {
    "okay": "200",
    "created": "201",
    "noContent": "204",
    "notModified": "304",
    "bad": "400",
    "forbidden": "403",
    "notFound": "404",
    "methodNotAllowed": "405",
    "conflict": "409",
    "gone": "410",
    "preconditionFailed": "412",
    "unprocessable": "422",
}
_MIME = {"json": "application/fhir+json", "xml": "application/fhir+xml"}
OPERATORS = frozenset(
    {
        "equals",
        "notEquals",
        "in",
        "notIn",
        "greaterThan",
        "lessThan",
        "empty",
        "notEmpty",
        "contains",
        "notContains",
    }
)
"""The operators :func:`compare` evaluates."""


@dataclass
class AssertContext:
    script: TestScript
    fhirpath: FhirPath
    variables: Variables
    validator: ProfileValidator


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        return None


def compare(operator: str, actual: str | None, expected: str | None) -> bool:
    """TestScript ``assertionOperatorType`` on text values (numbers compare as numbers).

    Raises ValueError for an operator outside :data:`OPERATORS`: guessing one would turn
    an unknown check into a pass or a fail.
    """
    if operator not in OPERATORS:
        raise ValueError(f"operator {operator!r} is not evaluated by this runner")
    if operator == "empty":
        return actual is None or actual == ""
    if operator == "notEmpty":
        return actual is not None and actual != ""
    if actual is None:
        return operator in ("notEquals", "notIn", "notContains")
    wanted = expected or ""
    if operator in ("in", "notIn"):
        found = actual in [item.strip() for item in wanted.split(",")]
        return found if operator == "in" else not found
    if operator in ("contains", "notContains"):
        return (wanted in actual) if operator == "contains" else (wanted not in actual)
    left, right = _number(actual), _number(wanted)
    if operator in ("greaterThan", "lessThan"):
        if left is not None and right is not None:
            return left > right if operator == "greaterThan" else left < right
        return actual > wanted if operator == "greaterThan" else actual < wanted
    same = (left == right) if left is not None and right is not None else actual == wanted
    if operator == "notEquals":
        return not same
    return same


def _text(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    return str(item)


def _done(check: Assert, ok: bool, message: str, **extra: Any) -> AssertResult:
    if ok:
        return AssertResult(check, Outcome.PASS, message, **extra)
    outcome = Outcome.WARNING if check.warning_only else Outcome.FAIL
    return AssertResult(check, outcome, message, **extra)


def evaluate_assert(check: Assert, target: Exchange | None, ctx: AssertContext) -> AssertResult:
    """Judge ``check`` on ``target`` (the last exchange, or the one its ``sourceId`` names)."""
    result = _evaluate(check, target, ctx)
    result.exchange = target
    return result


def _evaluate(check: Assert, target: Exchange | None, ctx: AssertContext) -> AssertResult:
    if check.unsupported:
        names = ", ".join(check.unsupported)
        return AssertResult(
            check,
            Outcome.NOT_CHECKED,
            f"not checked: this runner does not evaluate {names}",
            not_checked=[names],
        )
    if check.operator is not None and check.operator not in OPERATORS:
        return AssertResult(
            check,
            Outcome.NOT_CHECKED,
            f"not checked: this runner does not evaluate the operator {check.operator}",
            not_checked=[f"operator {check.operator}"],
        )
    if target is None:
        return AssertResult(check, Outcome.ERROR, "there is no request or response to check yet")
    try:
        if check.direction == "request":
            return _request_assert(check, target, ctx)
        return _response_assert(check, target, ctx)
    except VariableError as exc:
        return AssertResult(check, Outcome.ERROR, str(exc))
    except FhirPathError as exc:
        return AssertResult(check, Outcome.ERROR, str(exc))


def _request_assert(check: Assert, target: Exchange, ctx: AssertContext) -> AssertResult:
    request = target.request
    operator = check.operator or "equals"
    if check.header_field is not None:
        actual = request.header(check.header_field)
        expected = None if check.value is None else ctx.variables.substitute(check.value)
        if check.operator is None and expected is None:
            operator = "notEmpty"
        ok = compare(operator, actual, expected)
        shown = "absent" if actual is None else repr(actual)
        return _done(check, ok, f"request header {check.header_field} is {shown}")
    if check.request_url is not None:
        expected = ctx.variables.substitute(check.request_url)
        actual = unquote_plus(request.url)
        ok = compare(operator, actual, expected)
        return _done(check, ok, f"request URL {actual} ({operator} {expected!r})")
    if check.request_method is not None:
        ok = compare(operator, request.method.lower(), check.request_method.lower())
        return _done(check, ok, f"request method is {request.method}")
    if check.content_type is not None:
        wanted = _MIME.get(check.content_type, check.content_type)
        actual = request.header("content-type")
        ok = actual is not None and actual.split(";")[0].strip() == wanted
        return _done(check, ok, f"request Content-Type is {actual or 'absent'}")
    if check.expression is not None:
        parsed = parse_body(
            request.body or b"",
            request.header("content-type"),
            structure_for(ctx.script.fhir_version),
        )
        problems = "; ".join(parsed.problems) or "the request has no FHIR body"
        return _expression(check, parsed.resource, ctx, unparsed=problems)
    return AssertResult(
        check,
        Outcome.NOT_CHECKED,
        f"not checked: {check.kind} on a request is not evaluated by this runner",
        not_checked=[check.kind],
    )


def _response_assert(check: Assert, target: Exchange, ctx: AssertContext) -> AssertResult:
    response = target.response
    if response is None:
        return _done(check, False, f"no response: {target.error or 'the request was not sent'}")
    operator = check.operator or "equals"
    if check.response_code is not None:
        ok = compare(operator, str(response.status), check.response_code)
        return _done(check, ok, f"HTTP status {response.status} ({operator} {check.response_code})")
    if check.response is not None:
        wanted = _RESPONSE_CODES.get(check.response)
        if wanted is None:
            return AssertResult(
                check,
                Outcome.NOT_CHECKED,
                f"not checked: unknown response code name {check.response!r}",
                not_checked=["response"],
            )
        ok = compare(operator, str(response.status), wanted)
        return _done(check, ok, f"HTTP status {response.status} (expected {check.response})")
    if check.rule_id is not None:
        return _rule(check, target)
    if check.validate_profile_id is not None:
        return _profile(check, target, ctx)
    if check.resource is not None:
        actual = None if target.resource is None else str(target.resource.get("resourceType"))
        ok = compare(operator, actual, check.resource)
        shown = actual or _unparsed(target)
        return _done(check, ok, f"resource type is {shown}")
    if check.content_type is not None:
        wanted = _MIME.get(check.content_type, check.content_type)
        actual = response.content_type
        ok = actual is not None and actual.split(";")[0].strip() == wanted
        return _done(check, ok, f"Content-Type is {actual or 'absent'}")
    if check.header_field is not None:
        actual = response.header(check.header_field)
        expected = None if check.value is None else ctx.variables.substitute(check.value)
        if check.operator is None and expected is None:
            operator = "notEmpty"
        ok = compare(operator, actual, expected)
        shown = "absent" if actual is None else repr(actual)
        return _done(check, ok, f"response header {check.header_field} is {shown}")
    if check.expression is not None:
        return _expression(check, target.resource, ctx, unparsed=_unparsed(target))
    if check.request_url is not None or check.request_method is not None:
        return _request_assert(check, target, ctx)
    return AssertResult(
        check, Outcome.NOT_CHECKED, "not checked: the assert names no check", not_checked=["empty"]
    )


def _unparsed(target: Exchange) -> str:
    problems = "; ".join(target.parsed.problems)
    return f"no FHIR resource in the body ({problems})" if problems else "no FHIR resource"


def _expression(
    check: Assert,
    resource: dict[str, Any] | None,
    ctx: AssertContext,
    *,
    unparsed: str = "no FHIR resource",
) -> AssertResult:
    expression = ctx.variables.substitute(check.expression or "")
    if resource is None:
        return _done(check, False, f"cannot evaluate {expression}: {unparsed}")
    result = ctx.fhirpath.evaluate(resource, expression)
    if check.operator is None and check.value is None:
        ok = as_boolean(result)
        return _done(check, ok, f"{expression} → {result_text(result)}")
    operator = check.operator or "equals"
    expected = None if check.value is None else ctx.variables.substitute(check.value)
    actual = None if not result else _text(result[0])
    ok = compare(operator, actual, expected)
    wanted = operator if expected is None else f"{operator} {expected!r}"
    return _done(check, ok, f"{expression} → {result_text(result)} ({wanted})")


def _rule(check: Assert, target: Exchange) -> AssertResult:
    if check.rule_id != RULE_ID:
        return AssertResult(
            check,
            Outcome.NOT_CHECKED,
            f"not checked: the rule {check.rule_id} is not known to this runner",
            not_checked=[f"rule {check.rule_id}"],
        )
    verdict = check_query_params_in_self_link(target.request.url, target.resource)
    return _done(check, verdict.ok, verdict.message)


def _profile(check: Assert, target: Exchange, ctx: AssertContext) -> AssertResult:
    profile = ctx.script.profiles.get(check.validate_profile_id or "")
    if profile is None:
        return AssertResult(
            check,
            Outcome.ERROR,
            f"the script declares no profile with id {check.validate_profile_id!r}",
        )
    if target.resource is None:
        return _done(check, False, f"cannot validate: {_unparsed(target)}")
    report = ctx.validator.validate(target.resource, profile, ctx.script.fhir_version)
    details = [str(issue) for issue in report.issues]
    if report.errors:
        return _done(
            check,
            False,
            f"{len(report.errors)} conformance error(s): {report.errors[0]}",
            details=details,
            not_checked=list(report.not_checked),
        )
    if report.not_checked:
        return AssertResult(
            check,
            Outcome.PARTIAL,
            f"no errors in what was checked ({report.summary()}); "
            f"not checked: {len(report.not_checked)} item(s), listed with this check",
            details=details,
            not_checked=list(report.not_checked),
        )
    return AssertResult(check, Outcome.PASS, f"conforms ({report.summary()})", details=details)
