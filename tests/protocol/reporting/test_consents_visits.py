"""Long-term consents held at a month's end, and visits read from JSON."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medmij_stack.protocol.funnel import Device
from medmij_stack.protocol.reporting.consents import LongTermConsent, holders_at
from medmij_stack.protocol.reporting.errors import ReportingError
from medmij_stack.protocol.reporting.months import Month
from medmij_stack.protocol.reporting.visits import Visit
from tests.protocol.reporting.builders import at


def test_holders_are_persons_with_a_consent_held_at_the_last_instant() -> None:
    end = Month(2026, 1).end()
    consents = [
        LongTermConsent("a", "umc", at(2026, 1, 5)),
        LongTermConsent("a", "huisarts", at(2026, 1, 6)),
        LongTermConsent("b", "umc", at(2025, 1, 5), end),  # ends as February begins
        LongTermConsent("c", "umc", at(2026, 1, 5), at(2026, 1, 20)),
        LongTermConsent("d", "umc", end),  # starts as February begins
    ]
    assert holders_at(consents, end) == 2  # a (once), b
    assert holders_at([], end) == 0


def test_a_consent_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ReportingError):
        LongTermConsent("a", "umc", at(2026, 1, 5), at(2026, 1, 4))
    with pytest.raises(ReportingError):
        LongTermConsent("a", "umc", datetime(2026, 1, 5))


def test_a_visit_survives_json_and_bad_ones_are_refused() -> None:
    visit = Visit("a", datetime(2026, 1, 5, 10, tzinfo=UTC), "s1", Device.APP)
    assert Visit.from_json(visit.to_json()) == visit
    with pytest.raises(ReportingError):
        Visit.from_json(
            {"person": "a", "at": "2026-01-05T10:00:00", "session": "s", "device": "app"}
        )
    with pytest.raises(ReportingError):
        Visit.from_json({"person": "a"})
    with pytest.raises(ReportingError):
        Visit.from_json(["a"])
