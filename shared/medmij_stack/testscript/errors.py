"""Errors of the TestScript engine.

::

    TestScriptError                 anything the engine refuses, with a message for a person
    ├── ScriptError                 a script file that cannot be read as a TestScript
    ├── VariableError               a ${name} with no value, or a variable that cannot be bound
    └── FhirPathError               an expression that does not compile or fails to evaluate

A failing assert is not an error: it is a result (:mod:`medmij_stack.testscript.results`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["FhirPathError", "ScriptError", "TestScriptError", "VariableError"]


class TestScriptError(Exception):
    """Base of the engine's errors; ``str()`` is meant for the person running the scripts."""

    __test__ = False  # a domain name, not a pytest class


class ScriptError(TestScriptError):
    """A TestScript file that is not XML, not a TestScript, or misses what the runner needs."""

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class VariableError(TestScriptError):
    """A ``${name}`` that has no value, or a variable whose source response never came."""


class FhirPathError(TestScriptError):
    """A FHIRPath expression that fhirpathpy cannot compile or evaluate."""

    def __init__(self, expression: str, message: str) -> None:
        super().__init__(f"FHIRPath {expression!r}: {message}")
        self.expression = expression
