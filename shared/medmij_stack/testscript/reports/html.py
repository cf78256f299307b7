"""The HTML report of a qualification run: every test, every request and response.

A page people read, so it is in Dutch at B1 level (the scripts' own descriptions stay
as Nictiz wrote them, in English). One self-contained file: no scripts, no external
styles, so it can be mailed or attached to a CI run. Bodies are shown pretty-printed
and cut off beyond :data:`MAX_BODY_CHARS` characters, saying so. Bearer tokens are
shown masked (:mod:`medmij_stack.testscript.reports.masking`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from lxml import etree

from medmij_stack.testscript.exchange import Exchange
from medmij_stack.testscript.fhirxml import parse_xml
from medmij_stack.testscript.reports.masking import mask_tokens
from medmij_stack.testscript.results import (
    AssertResult,
    OperationResult,
    Outcome,
    ScriptResult,
    TestOutcome,
)

__all__ = ["MAX_BODY_CHARS", "html_report"]

MAX_BODY_CHARS = 200_000


def _shown(value: Any) -> Any:
    # Every value the template prints passes here, so no header, message or body can
    # show a whole bearer token, whichever field it sits in.
    return mask_tokens(value) if isinstance(value, str) else value


_environment = Environment(
    loader=PackageLoader("medmij_stack.testscript.reports", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_shown,
)

OUTCOME_NL = {
    Outcome.PASS: "geslaagd",
    Outcome.FAIL: "mislukt",
    Outcome.WARNING: "waarschuwing",
    Outcome.PARTIAL: "deels gecontroleerd",
    Outcome.NOT_CHECKED: "niet gecontroleerd",
    Outcome.SKIPPED: "overgeslagen",
    Outcome.ERROR: "fout",
}
TEST_NL = {
    TestOutcome.PASSED: "geslaagd",
    TestOutcome.FAILED: "mislukt",
    TestOutcome.SKIPPED: "overgeslagen",
}
PARTLY_CHECKED_NL = "geslaagd*, deels gecontroleerd"
"""A passed test of which a check was not or only partly done (``TestResult.partly_checked``)."""


def _pretty(body: bytes | None) -> str:
    if not body:
        return ""
    text = body.decode("utf-8", errors="replace")
    stripped = text.lstrip()
    try:
        if stripped.startswith(("{", "[")):
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        elif stripped.startswith("<"):
            text = etree.tostring(parse_xml(body), pretty_print=True, encoding="unicode")
    except ValueError:
        pass
    if len(text) > MAX_BODY_CHARS:
        cut = len(text) - MAX_BODY_CHARS
        text = text[:MAX_BODY_CHARS] + f"\n… (nog {cut} tekens niet getoond)"
    return text


def _exchange(exchange: Exchange | None) -> dict[str, Any] | None:
    if exchange is None:
        return None
    response = exchange.response
    return {
        "method": exchange.request.method,
        "url": exchange.request.url,
        "request_headers": list(exchange.request.headers),
        "request_body": _pretty(exchange.request.body),
        "status": response.status if response else None,
        "error": exchange.error,
        "response_headers": list(response.headers) if response else [],
        "response_body": _pretty(response.body) if response else "",
        "elapsed_ms": round(response.elapsed_ms) if response else None,
    }


def _step(step: AssertResult | OperationResult) -> dict[str, Any]:
    if isinstance(step, OperationResult):
        operation = step.operation
        return {
            "kind": "operation",
            "outcome": step.outcome.value,
            "outcome_nl": OUTCOME_NL[step.outcome],
            "title": operation.description or operation.label or operation.type_code or "",
            "message": step.message,
            "exchange": _exchange(step.exchange),
        }
    return {
        "kind": "assert",
        "outcome": step.outcome.value,
        "outcome_nl": OUTCOME_NL[step.outcome],
        "title": step.check.title,
        "check": step.check.kind,
        "warning_only": step.check.warning_only,
        "message": step.message,
        "details": step.details,
        "not_checked": step.not_checked,
    }


def html_report(
    results: Sequence[ScriptResult],
    *,
    title: str = "Kwalificatie",
    when: datetime | None = None,
) -> str:
    """The HTML page for ``results``."""
    scripts: list[dict[str, Any]] = []
    for result in results:
        tests = []
        for test in result.all_tests():
            tests.append(
                {
                    "title": test.title,
                    "id": test.test.id if test.test else None,
                    "outcome": "partial" if test.partly_checked else test.outcome.value,
                    "outcome_nl": PARTLY_CHECKED_NL
                    if test.partly_checked
                    else TEST_NL[test.outcome],
                    "skipped_reason": test.skipped_reason,
                    "steps": [_step(step) for step in test.steps],
                }
            )
        scripts.append(
            {
                "label": result.script.label,
                "path": str(result.script.path),
                "version": result.script.fhir_version.release,
                "role": result.script.role.value,
                "server": result.base_url,
                "seconds": round(result.seconds, 1),
                "passed": result.count(TestOutcome.PASSED),
                "partly_checked": result.partly_checked_count(),
                "failed": result.count(TestOutcome.FAILED),
                "skipped": result.count(TestOutcome.SKIPPED),
                "partial": result.assert_count(Outcome.PARTIAL),
                "not_checked": result.assert_count(Outcome.NOT_CHECKED),
                "warnings": result.assert_count(Outcome.WARNING),
                "problems": result.binding_problems,
                "tests": tests,
            }
        )
    counted = (
        "passed",
        "partly_checked",
        "failed",
        "skipped",
        "partial",
        "not_checked",
        "warnings",
    )
    totals = {key: sum(int(item[key]) for item in scripts) for key in counted}
    moment = (when or datetime.now().astimezone()).strftime("%d-%m-%Y %H:%M")
    return _environment.get_template("report.html").render(
        title=title, scripts=scripts, totals=totals, when=moment
    )
