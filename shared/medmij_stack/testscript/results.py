"""What a run found: per assert, per operation, per test and per script.

An assert has one of seven outcomes. Two of them exist so that nothing is reported as
passed that was not checked: ``partial`` (what was checked found nothing wrong, and the
result lists what was not checked) and ``not checked`` (the runner cannot evaluate this
kind of assert at all). Neither makes a test fail, and both are counted and shown
everywhere a pass is. A passed test with such an assert is ``partly checked``
(:attr:`TestResult.partly_checked`): it counts as passed, and every report marks it and
counts it apart.

A test fails when an assert fails (``fail``), an assert or operation could not be
evaluated (``error``), and is skipped only when the setup stopped the script. A failing
``warningOnly`` assert is a ``warning``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from medmij_stack.testscript.exchange import Exchange
from medmij_stack.testscript.model import Assert, Operation, ScriptTest, TestScript

__all__ = [
    "AssertResult",
    "OperationResult",
    "Outcome",
    "ScriptResult",
    "Step",
    "TestOutcome",
    "TestResult",
]


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105
    FAIL = "fail"
    WARNING = "warning"
    PARTIAL = "partial"
    NOT_CHECKED = "not checked"
    SKIPPED = "skipped"
    ERROR = "error"


class TestOutcome(StrEnum):
    __test__ = False  # a domain name, not a pytest class

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


_UNCHECKED = (Outcome.PARTIAL, Outcome.NOT_CHECKED)


@dataclass
class AssertResult:
    check: Assert
    outcome: Outcome
    message: str = ""
    details: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)
    exchange: Exchange | None = None
    """The request/response the assert was judged on."""


@dataclass
class OperationResult:
    operation: Operation
    exchange: Exchange | None
    outcome: Outcome
    message: str = ""


Step = AssertResult | OperationResult


@dataclass
class TestResult:
    __test__ = False  # a domain name, not a pytest class

    test: ScriptTest | None
    """None for the setup and teardown of a script."""
    title: str
    steps: list[Step] = field(default_factory=list)
    skipped_reason: str | None = None

    @property
    def asserts(self) -> list[AssertResult]:
        return [step for step in self.steps if isinstance(step, AssertResult)]

    @property
    def operations(self) -> list[OperationResult]:
        return [step for step in self.steps if isinstance(step, OperationResult)]

    @property
    def outcome(self) -> TestOutcome:
        if self.skipped_reason is not None:
            return TestOutcome.SKIPPED
        for step in self.steps:
            if step.outcome in (Outcome.FAIL, Outcome.ERROR):
                return TestOutcome.FAILED
        return TestOutcome.PASSED

    def count(self, outcome: Outcome) -> int:
        return sum(1 for step in self.asserts if step.outcome is outcome)

    @property
    def unchecked(self) -> list[AssertResult]:
        """The asserts that were only partly checked or not checked at all."""
        return [step for step in self.asserts if step.outcome in _UNCHECKED]

    @property
    def partly_checked(self) -> bool:
        """Passed, but not every check was done in full: no proof that all is right."""
        return self.outcome is TestOutcome.PASSED and bool(self.unchecked)

    @property
    def failures(self) -> list[Step]:
        return [step for step in self.steps if step.outcome in (Outcome.FAIL, Outcome.ERROR)]


@dataclass
class ScriptResult:
    script: TestScript
    base_url: str
    setup: TestResult
    tests: list[TestResult] = field(default_factory=list)
    teardown: TestResult | None = None
    variables: dict[str, str] = field(default_factory=dict)
    binding_problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def all_tests(self) -> list[TestResult]:
        """The tests, with setup and teardown as tests of their own when they did anything."""
        every = [self.setup, *self.tests]
        if self.teardown is not None:
            every.append(self.teardown)
        return [test for test in every if test.test is not None or test.steps]

    def count(self, outcome: TestOutcome) -> int:
        return sum(1 for test in self.all_tests() if test.outcome is outcome)

    @property
    def failed(self) -> bool:
        return self.count(TestOutcome.FAILED) > 0

    def assert_count(self, outcome: Outcome) -> int:
        return sum(test.count(outcome) for test in self.all_tests())

    def partly_checked_count(self) -> int:
        """Passed tests of which a check was only partly done or not done (counted in
        `count(TestOutcome.PASSED)` as well)."""
        return sum(1 for test in self.all_tests() if test.partly_checked)
