"""Touchstone date placeholders in the Nictiz qualification fixtures.

Some fixtures carry a date relative to the day the test engine loads them, written as
``${DATE, T, <unit>, <offset>}``: ``T`` is today, the unit is ``Y`` (years), ``M``
(months) or ``D`` (days) and the offset a signed whole number, so ``${DATE, T, Y, -17}``
is today seventeen years ago. The raw files are not valid FHIR until these are replaced
(docs/qualification.md#date-placeholders). Only this form occurs in BgZ-3-0 and
Immunization-2-0; any other ``${NAME…}`` variable is refused, so that a newer release with a
form we do not know fails loudly instead of serving a literal placeholder.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

__all__ = ["UnknownPlaceholderError", "shift", "substitute_dates"]

_DATE = re.compile(r"\$\{DATE,\s*T,\s*([YMD]),\s*([+-]?\d{1,4})\s*\}")
# A Touchstone variable: "${" and an upper-case name. Narrative text with a stray "${"
# followed by anything else is left alone.
_VARIABLE = re.compile(r"\$\{[A-Z][A-Z0-9_]*[^}]{0,80}\}")


class UnknownPlaceholderError(ValueError):
    """A ``${…}`` variable other than the ``DATE, T`` form is left in the text."""

    def __init__(self, placeholder: str) -> None:
        super().__init__(f"unsupported Touchstone placeholder {placeholder!r}")
        self.placeholder = placeholder


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    # 31 January plus one month is the last day of February, as in Touchstone.
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def shift(today: date, unit: str, offset: int) -> date:
    """`today` moved by `offset` years, months or days (unit ``Y``, ``M`` or ``D``)."""
    if unit == "D":
        return today + timedelta(days=offset)
    if unit == "M":
        return _add_months(today, offset)
    if unit == "Y":
        return _add_months(today, 12 * offset)
    raise ValueError(f"unknown date unit {unit!r}; expected Y, M or D")


def substitute_dates(text: str, today: date) -> str:
    """`text` with every ``${DATE, T, unit, offset}`` replaced by an ISO date.

    Raises UnknownPlaceholderError when another Touchstone variable remains.
    """
    replaced = _DATE.sub(lambda m: shift(today, m[1], int(m[2])).isoformat(), text)
    leftover = _VARIABLE.search(replaced)
    if leftover is not None:
        raise UnknownPlaceholderError(leftover[0])
    return replaced
