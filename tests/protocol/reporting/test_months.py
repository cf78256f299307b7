"""Months count in Dutch time, parse from YYYY-MM, and make up --from/--to periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from medmij_stack.protocol.reporting.errors import ReportingError
from medmij_stack.protocol.reporting.months import Month, Period


def test_a_month_parses_and_prints_as_yyyy_mm() -> None:
    assert Month.parse("2026-01") == Month(2026, 1)
    assert str(Month(2026, 3)) == "2026-03"


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-01", "januari", "2026-00", ""])
def test_a_bad_month_is_a_clear_error(text: str) -> None:
    with pytest.raises(ReportingError):
        Month.parse(text)


def test_months_shift_across_years() -> None:
    assert Month(2026, 1).shifted(-1) == Month(2025, 12)
    assert Month(2026, 3).shifted(-12) == Month(2025, 3)
    assert Month(2025, 12).shifted(1) == Month(2026, 1)
    assert Month(2026, 3).shifted(-11) == Month(2025, 4)


def test_the_month_of_a_moment_is_the_dutch_calendar_month() -> None:
    # 23:30 UTC on 31 January is 00:30 on 1 February in Amsterdam (winter, +01:00).
    assert Month.of(datetime(2026, 1, 31, 23, 30, tzinfo=UTC)) == Month(2026, 2)
    assert Month.of(datetime(2026, 1, 31, 22, 59, 59, tzinfo=UTC)) == Month(2026, 1)
    # Summer time, +02:00: 22:00 UTC on 31 July is already August.
    assert Month.of(datetime(2026, 7, 31, 22, 0, tzinfo=UTC)) == Month(2026, 8)
    assert Month.of(datetime(2026, 7, 31, 21, 59, tzinfo=UTC)) == Month(2026, 7)


def test_a_moment_without_offset_has_no_month() -> None:
    with pytest.raises(ReportingError):
        Month.of(datetime(2026, 1, 1, 12, 0))


def test_month_boundaries_are_midnight_in_amsterdam() -> None:
    january = Month(2026, 1)
    assert january.start().utcoffset() == timedelta(hours=1)
    assert january.start().astimezone(UTC) == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    assert january.end() == Month(2026, 2).start()
    assert Month(2026, 7).start().utcoffset() == timedelta(hours=2)
    assert january.first_day() == date(2026, 1, 1)


def test_a_period_holds_its_months_from_first_to_last() -> None:
    period = Period.parse("2025-11", "2026-02")
    assert period.months() == (Month(2025, 11), Month(2025, 12), Month(2026, 1), Month(2026, 2))
    assert Month(2025, 12) in period
    assert Month(2026, 3) not in period
    assert Period.parse("2026-05").months() == (Month(2026, 5),)


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ReportingError, match="ends"):
        Period.parse("2026-03", "2026-01")


@pytest.mark.parametrize(
    "zone",
    [
        "Europe/Amsterdam",
        "UTC",
        "Asia/Kolkata",  # a half-hour offset
        "America/Havana",  # clock changes at midnight: some months begin at 01:00
        "America/Sao_Paulo",
    ],
)
def test_the_month_of_a_moment_is_its_month_on_the_zone_s_calendar(zone: str) -> None:
    # Month.of searches the months' starting instants; every moment around every start
    # (and outside the years it keeps starts for) lands where converting it puts it.
    tz = ZoneInfo(zone)
    other = timezone(timedelta(hours=5))
    for year in (1960, 1999, 2024, 2026, 2027, 2199, 2250):
        for number in range(1, 13):
            start = datetime(year, number, 1, tzinfo=tz)
            for seconds in (-3601, -1, -0.000001, 0, 0.000001, 1, 3600, 86400 * 3):
                moment = (start + timedelta(seconds=seconds)).astimezone(other)
                local = moment.astimezone(tz)
                assert Month.of(moment, tz) == Month(local.year, local.month), moment
