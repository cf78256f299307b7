"""The result of validating one resource: issues found, and what was and was not checked.

A validator here checks a subset of what a StructureDefinition asks. Whatever it did not
check is named in ``not_checked`` (deduplicated, with the profile and element it
belongs to), so that an answer without errors is never mistaken for full conformance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Issue", "ValidationReport"]


@dataclass(frozen=True)
class Issue:
    severity: str
    """``error`` or ``warning``."""
    location: str
    message: str
    profile: str | None = None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        source = f" [{self.profile}]" if self.profile else ""
        return f"{self.severity}: {where}{self.message}{source}"


@dataclass
class ValidationReport:
    issues: list[Issue] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    """What was checked, one line per resource and profile."""
    not_checked: list[str] = field(default_factory=list)
    rules_checked: int = 0

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    def error(self, location: str, message: str, profile: str | None = None) -> None:
        self.issues.append(Issue("error", location, message, profile))

    def warning(self, location: str, message: str, profile: str | None = None) -> None:
        self.issues.append(Issue("warning", location, message, profile))

    def skip(self, what: str) -> None:
        """Record something the validator did not check (once)."""
        if what not in self.not_checked:
            self.not_checked.append(what)

    def merge(self, other: ValidationReport) -> None:
        self.issues.extend(other.issues)
        self.checked.extend(line for line in other.checked if line not in self.checked)
        for line in other.not_checked:
            self.skip(line)
        self.rules_checked += other.rules_checked

    def summary(self) -> str:
        return (
            f"{self.rules_checked} rule(s) checked on {len(self.checked)} resource/profile "
            f"pair(s), {len(self.errors)} error(s), "
            f"{len(self.issues) - len(self.errors)} warning(s)"
        )
