"""TestScript variables and the Touchstone built-ins the Nictiz scripts use.

docs/qualification.md#runner-semantics: ``${name}`` is replaced in params, url, header values and
expressions. A variable has either a ``defaultValue`` or an ``expression`` (FHIRPath)
or ``headerField`` read from the response named by ``sourceId``, bound once that
response has arrived. Values given on the command line (``--var NAME=VALUE``) replace
both.

Built-ins (Touchstone's, as the scripts and fixtures use them):

* ``${UUID}``: a new UUID at every use, so every request gets its own
  ``MedMij-Request-ID``. A variable whose default is ``${UUID}`` (``X-Correlation-ID``)
  is resolved once per run, so one run shares one correlation id (MM-5132).
* ``${CURRENTDATE}`` and ``${CURRENTDATETIME}``: today, and now in UTC.
* ``${DATE, T, Y|M|D, ±n}``: a date n years, months or days from ``T`` (a variable, or
  today when no variable ``T`` exists). Fixtures use it for birth and vaccination dates
  (docs/qualification.md#date-placeholders); :func:`fill_dates` applies it to a fixture file's text.
"""

from __future__ import annotations

import calendar
import dataclasses
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

from medmij_stack.testscript.errors import VariableError
from medmij_stack.testscript.model import TestScript, Variable

__all__ = ["Variables", "fill_dates", "shift_date", "unknown_overrides"]

_PLACEHOLDER = re.compile(r"\$\{([^{}]+)\}")
_DATE = re.compile(r"^DATE\s*,\s*([^,]+?)\s*,\s*([YMD])\s*,\s*([+-]?\d+)\s*$")


def shift_date(start: date, unit: str, offset: int) -> date:
    """``start`` moved ``offset`` years (Y), months (M) or days (D); day clamped to the month."""
    if unit == "D":
        return start + timedelta(days=offset)
    months = offset * 12 if unit == "Y" else offset
    if unit not in ("Y", "M"):
        raise VariableError(f"DATE unit {unit!r} is not Y, M or D")
    total = start.year * 12 + (start.month - 1) + months
    year, month = divmod(total, 12)
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


def fill_dates(text: str, today: date) -> str:
    """Replace every ``${DATE, T, unit, offset}`` in a fixture's text, with T = ``today``."""

    def replace(match: re.Match[str]) -> str:
        found = _DATE.match(match.group(1))
        if found is None:
            return match.group(0)
        return shift_date(today, found.group(2), int(found.group(3))).isoformat()

    return _PLACEHOLDER.sub(replace, text)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _strings(item)


def _used_names(script: TestScript) -> set[str]:
    """Every name a script declares or writes as ``${NAME}`` (or as a DATE anchor)."""
    names = {variable.name for variable in script.variables}
    parts = [*script.variables, *script.setup, *script.teardown]
    parts += [action for test in script.tests for action in test.actions]
    for part in parts:
        for text in _strings(dataclasses.astuple(part)):
            for match in _PLACEHOLDER.finditer(text):
                inner = match.group(1).strip()
                found = _DATE.match(inner)
                names.add(found.group(1) if found is not None else inner)
    return names


def unknown_overrides(scripts: Sequence[TestScript], overrides: Mapping[str, str]) -> list[str]:
    """The ``--var`` names that no script declares or uses, in the order given.

    Such a value changes nothing, which is most often a misspelt name; the caller warns.
    """
    used: set[str] = set()
    for script in scripts:
        used |= _used_names(script)
    return [name for name in overrides if name not in used]


class Variables:
    """The variable values of one script run.

    ``today`` and ``new_uuid`` are injectable so that tests and reports are reproducible.
    """

    def __init__(
        self,
        declared: Iterable[Variable],
        overrides: Mapping[str, str] | None = None,
        *,
        today: date | None = None,
        now: datetime | None = None,
        new_uuid: Callable[[], str] | None = None,
    ) -> None:
        self._declared = {variable.name: variable for variable in declared}
        self._overrides = dict(overrides or {})
        self._now = now or datetime.now(UTC)
        self._today = today or self._now.date()
        self._new_uuid = new_uuid or (lambda: str(uuid.uuid4()))
        self._values: dict[str, str] = {}
        self._unbound: dict[str, str] = {}
        for name, variable in self._declared.items():
            if name in self._overrides:
                self._values[name] = self._overrides[name]
            elif variable.default_value is not None:
                self._values[name] = self.substitute(variable.default_value)
        for name, value in self._overrides.items():
            self._values.setdefault(name, value)

    @property
    def values(self) -> dict[str, str]:
        """Every variable that has a value now (for reports)."""
        return dict(self._values)

    def declared(self) -> list[Variable]:
        return list(self._declared.values())

    def overridden(self, name: str) -> bool:
        return name in self._overrides

    def bound_by(self, source_id: str) -> list[Variable]:
        """Variables to bind when the response (or fixture) ``source_id`` is known."""
        return [
            variable
            for variable in self._declared.values()
            if variable.source_id == source_id
            and variable.name not in self._overrides
            and (variable.expression is not None or variable.header_field is not None)
        ]

    def bind(self, name: str, value: str) -> None:
        self._values[name] = value
        self._unbound.pop(name, None)

    def unbind(self, name: str, reason: str) -> None:
        """Record why ``name`` could not be bound; a later use raises with that reason."""
        self._values.pop(name, None)
        self._unbound[name] = reason

    def has(self, name: str) -> bool:
        return name in self._values

    def substitute(self, text: str) -> str:
        """``text`` with every ``${...}`` replaced; a name without a value is an error."""

        def replace(match: re.Match[str]) -> str:
            return self._builtin_or_value(match.group(1).strip())

        return _PLACEHOLDER.sub(replace, text)

    def _builtin_or_value(self, name: str) -> str:
        if name in self._values:
            return self._values[name]
        if name == "UUID":
            return self._new_uuid()
        if name == "CURRENTDATE":
            return self._today.isoformat()
        if name == "CURRENTDATETIME":
            return self._now.isoformat(timespec="seconds")
        found = _DATE.match(name)
        if found is not None:
            anchor = found.group(1)
            start = self._today
            if anchor in self._values:
                try:
                    start = date.fromisoformat(self._values[anchor][:10])
                except ValueError as exc:
                    raise VariableError(f"${{{name}}}: {anchor} is not a date") from exc
            return shift_date(start, found.group(2), int(found.group(3))).isoformat()
        variable = self._declared.get(name)
        if name in self._unbound:
            raise VariableError(f"variable {name!r} has no value: {self._unbound[name]}")
        if variable is not None and variable.source_id is not None:
            raise VariableError(
                f"variable {name!r} has no value yet: it is read from {variable.source_id!r}, "
                "which has not been received"
            )
        if variable is not None:
            raise VariableError(f"variable {name!r} has no value; give one with --var {name}=…")
        raise VariableError(f"${{{name}}} is not a declared variable; give it with --var {name}=…")
