"""JUnit XML for a qualification run, so CI systems show it like any test suite.

One ``testsuite`` per script, one ``testcase`` per test (and per setup or teardown that
did something). A failed assert is a ``failure``; an assert or operation that could not
be evaluated is an ``error``; a test skipped after a failed setup is ``skipped``.
Warnings, partly checked and not checked asserts go to the test case's ``system-out``,
with each request line, so nothing unchecked looks like a plain pass. A passed test with
such an assert (``TestResult.partly_checked``, ``PASS*`` on the console) has the property
``checked`` = ``partly`` and a first ``system-out`` line saying so; each suite counts them
in its property ``partlyChecked``. Bearer tokens are shown masked
(:mod:`medmij_stack.testscript.reports.masking`).
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from medmij_stack.testscript.reports.masking import mask_tokens
from medmij_stack.testscript.results import (
    AssertResult,
    OperationResult,
    Outcome,
    ScriptResult,
    TestOutcome,
    TestResult,
)

__all__ = ["junit_xml"]


def _label(step: AssertResult | OperationResult) -> str:
    if isinstance(step, AssertResult):
        return step.check.title
    operation = step.operation
    return operation.description or operation.label or f"operation {operation.type_code}"


def _out_lines(test: TestResult) -> list[str]:
    lines = []
    if test.partly_checked:
        lines.append(
            f"PASS* passed, but {len(test.unchecked)} check(s) not or only partly done "
            "(listed below): no proof that everything is right"
        )
    for step in test.steps:
        if isinstance(step, OperationResult) and step.exchange is not None:
            request = step.exchange.request
            status = (
                step.exchange.response.status if step.exchange.response else step.exchange.error
            )
            lines.append(f"{request.method} {request.url} → {status}")
        elif isinstance(step, AssertResult) and step.outcome in (
            Outcome.WARNING,
            Outcome.PARTIAL,
            Outcome.NOT_CHECKED,
        ):
            lines.append(f"[{step.outcome.value}] {step.check.title}: {step.message}")
            lines += [f"    not checked: {item}" for item in step.not_checked]
    return lines


def _case(parent: etree._Element, script: ScriptResult, test: TestResult) -> tuple[int, int, int]:
    case = etree.SubElement(
        parent,
        "testcase",
        name=test.title,
        classname=script.script.id or script.script.path.stem,
        file=str(script.script.path),
    )
    failures = [step for step in test.steps if step.outcome is Outcome.FAIL]
    errors = [step for step in test.steps if step.outcome is Outcome.ERROR]
    if test.outcome is TestOutcome.SKIPPED:
        etree.SubElement(case, "skipped", message=test.skipped_reason or "skipped")
        return 0, 0, 1
    if test.partly_checked:
        properties = etree.SubElement(case, "properties")
        etree.SubElement(properties, "property", name="checked", value="partly")
    if errors:
        node = etree.SubElement(case, "error", message=_label(errors[0]), type="error")
        node.text = "\n".join(f"{_label(step)}: {step.message}" for step in errors)
    if failures:
        node = etree.SubElement(case, "failure", message=_label(failures[0]), type="assert")
        node.text = "\n".join(f"{_label(step)}: {step.message}" for step in failures)
    out = _out_lines(test)
    if out:
        etree.SubElement(case, "system-out").text = "\n".join(out)
    return (1 if failures and not errors else 0), (1 if errors else 0), 0


def _mask(root: etree._Element) -> None:
    # Masking the finished tree covers every attribute and text, whichever field a
    # token came in by (a header value in a message, a script's own description).
    for element in root.iter():
        if element.text:
            element.text = mask_tokens(element.text)
        for name, value in element.attrib.items():
            element.set(name, mask_tokens(str(value)))


def junit_xml(results: Sequence[ScriptResult], *, name: str = "medmij qualify") -> bytes:
    """The JUnit XML document for ``results``."""
    root = etree.Element("testsuites", name=name)
    totals = [0, 0, 0, 0]
    seconds = 0.0
    for result in results:
        suite = etree.SubElement(
            root,
            "testsuite",
            name=result.script.label,
            file=str(result.script.path),
            time=f"{result.seconds:.3f}",
        )
        properties = etree.SubElement(suite, "properties")
        for key, text in (
            ("server", result.base_url),
            ("fhirVersion", result.script.fhir_version.release),
            ("role", result.script.role.value),
            ("partlyChecked", str(result.partly_checked_count())),
        ):
            etree.SubElement(properties, "property", name=key, value=text)
        counts = [0, 0, 0, 0]
        for test in result.all_tests():
            failed, errored, skipped = _case(suite, result, test)
            counts[0] += 1
            counts[1] += failed
            counts[2] += errored
            counts[3] += skipped
        for key, number in zip(("tests", "failures", "errors", "skipped"), counts, strict=True):
            suite.set(key, str(number))
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        seconds += result.seconds
    for key, number in zip(("tests", "failures", "errors", "skipped"), totals, strict=True):
        root.set(key, str(number))
    root.set("time", f"{seconds:.3f}")
    _mask(root)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
