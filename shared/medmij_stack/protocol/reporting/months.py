"""Calendar months and ranges of them, in Dutch time, as MedMij's monthly reports count them.

A MedMij report covers a calendar month: "altijd 00h00m00s van de eerste van een
kalendermaand" up to the same moment of the next month (Managementinformatie,
https://afsprakenstelsel.medmij.nl/display/PUBLIC/Managementinformatie). The stelsel is
Dutch, so the month boundaries are those of Europe/Amsterdam: an event at 23:30 UTC on
31 January belongs to February. Events carry their own offset; :func:`Month.of` converts.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from medmij_stack.protocol.reporting.errors import ReportingError

__all__ = ["DUTCH_TIME", "Month", "Period"]

DUTCH_TIME: tzinfo = ZoneInfo("Europe/Amsterdam")
"""The zone whose calendar months the reports count."""

_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, order=True)
class Month:
    """One calendar month; ordered, so months compare and sort by time."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ReportingError(f"month {self.month} is not 1 to 12")
        if not 1 <= self.year <= 9999:
            raise ReportingError(f"year {self.year} is out of range")

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM`` (as ``--from 2026-01``); anything else is a :class:`ReportingError`."""
        found = _MONTH.fullmatch(text.strip())
        if found is None:
            raise ReportingError(f"{text!r} is not a month: write YYYY-MM, e.g. 2026-01")
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, moment: datetime, zone: tzinfo = DUTCH_TIME) -> Month:
        """The month that contains ``moment`` on the calendar of ``zone``."""
        if moment.tzinfo is None:
            raise ReportingError("a moment without a UTC offset belongs to no month")
        # A report puts millions of moments in their month: a search among the months'
        # starting instants is several times cheaper than converting each to local time.
        starts, months, exact = _month_starts(zone)
        index = bisect_right(starts, moment.timestamp()) - 1
        if 0 <= index < len(months) - 1 and exact[index] and exact[index + 1]:
            return months[index]
        local = moment.astimezone(zone)
        return cls(local.year, local.month)

    def shifted(self, months: int) -> Month:
        """This month moved ``months`` forward (negative: back)."""
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def start(self, zone: tzinfo = DUTCH_TIME) -> datetime:
        """00:00:00 on the first of the month, in ``zone``."""
        return datetime(self.year, self.month, 1, tzinfo=zone)

    def end(self, zone: tzinfo = DUTCH_TIME) -> datetime:
        """The start of the next month: the end of this one, exclusive."""
        return self.shifted(1).start(zone)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class Period:
    """The months ``first`` to ``last``, both included (a report's ``--from`` / ``--to``)."""

    first: Month
    last: Month

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ReportingError(f"the period ends ({self.last}) before it starts ({self.first})")

    @classmethod
    def parse(cls, first: str, last: str | None = None) -> Period:
        """``--from`` and ``--to`` as ``YYYY-MM``; without ``last`` the period is one month."""
        start = Month.parse(first)
        return cls(start, Month.parse(last) if last is not None else start)

    @classmethod
    def single(cls, month: Month) -> Period:
        return cls(month, month)

    def months(self) -> tuple[Month, ...]:
        return tuple(self)

    def __iter__(self) -> Iterator[Month]:
        month = self.first
        while month <= self.last:
            yield month
            month = month.shifted(1)

    def __contains__(self, month: object) -> bool:
        return isinstance(month, Month) and self.first <= month <= self.last

    def __str__(self) -> str:
        return f"{self.first}..{self.last}"


_FAST_YEARS = range(1970, 2200)


@functools.cache
def _month_starts(zone: tzinfo) -> tuple[list[float], list[Month], list[bool]]:
    """The instants (POSIX seconds) at which the months of ``_FAST_YEARS`` begin in ``zone``,
    the months, and whether each start is the zone's own midnight on the 1st (not where a
    clock change skips or repeats it: moments near such a start are converted instead)."""
    starts: list[float] = []
    months: list[Month] = []
    exact: list[bool] = []
    for year in _FAST_YEARS:
        for number in range(1, 13):
            start = datetime(year, number, 1, tzinfo=zone)
            instant = start.timestamp()
            local = datetime.fromtimestamp(instant, UTC).astimezone(zone)
            # A start is exact when that instant is 00:00 on the 1st there and the instant
            # just before it is still in the month before.
            before = (datetime.fromtimestamp(instant, UTC) - timedelta(microseconds=1)).astimezone(
                zone
            )
            starts.append(instant)
            months.append(Month(year, number))
            exact.append(
                (local.year, local.month, local.day, local.hour, local.minute, local.second)
                == (year, number, 1, 0, 0, 0)
                and (before.year, before.month) != (year, number)
            )
    return starts, months, exact
