"""Touchstone date placeholders: the forms the Nictiz fixtures use, and what is refused."""

from __future__ import annotations

from datetime import date

import pytest

from medmij_stack.zorgaanbieder.sources.touchstone import (
    UnknownPlaceholderError,
    shift,
    substitute_dates,
)

TODAY = date(2026, 3, 31)


@pytest.mark.parametrize(
    ("unit", "offset", "expected"),
    [
        ("Y", -17, date(2009, 3, 31)),
        ("Y", 0, TODAY),
        ("D", -1, date(2026, 3, 30)),
        ("D", +30, date(2026, 4, 30)),
        ("M", -1, date(2026, 2, 28)),  # no 31 February: the month's last day
        ("M", +11, date(2027, 2, 28)),
    ],
)
def test_shift_counts_from_today(unit: str, offset: int, expected: date) -> None:
    assert shift(TODAY, unit, offset) == expected


def test_a_leap_day_minus_a_year_is_the_28th() -> None:
    assert shift(date(2024, 2, 29), "Y", -1) == date(2023, 2, 28)


def test_placeholders_become_iso_dates_in_attributes_and_text() -> None:
    text = (
        '<birthDate value="${DATE, T, Y, -17}"/>'
        '<start value="${DATE, T, D, +7}T00:00:00+02:00"/>'
        "<div>${DATE, T, D, -1} - ${DATE, T, D, +30}</div>"
    )
    assert substitute_dates(text, TODAY) == (
        '<birthDate value="2009-03-31"/>'
        '<start value="2026-04-07T00:00:00+02:00"/>'
        "<div>2026-03-30 - 2026-04-30</div>"
    )


def test_another_touchstone_variable_is_refused_by_name() -> None:
    with pytest.raises(UnknownPlaceholderError, match=r"\$\{CURRENTDATE\}"):
        substitute_dates('<date value="${CURRENTDATE}"/>', TODAY)


def test_text_without_variables_is_unchanged() -> None:
    text = "<div>Prijs: ${ 12 } euro</div>"
    assert substitute_dates(text, TODAY) == text
