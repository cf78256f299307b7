"""Which list may follow the last accepted one (medmij_stack.protocol.lists.succession)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from medmij_stack.protocol.lists import MedMijList
from medmij_stack.protocol.lists.succession import (
    MAX_CLOCK_SKEW,
    MAX_VOLGNUMMER_STEP,
    Mark,
    content_digest,
    refusal,
)

from . import samples

HELD = samples.whitelist(100)
NOW = HELD.tijdstempel + timedelta(days=1)
LATER = HELD.tijdstempel + timedelta(minutes=15)


def follows(new: MedMijList, last: MedMijList | None = HELD) -> str | None:
    return refusal(None if last is None else Mark.of(last), new, now=NOW)


@pytest.mark.parametrize(
    "new",
    [
        pytest.param(replace(HELD, volgnummer=101, tijdstempel=LATER), id="next"),
        pytest.param(replace(HELD, volgnummer=100 + MAX_VOLGNUMMER_STEP), id="largest step"),
        pytest.param(replace(HELD, volgnummer=101), id="same Tijdstempel"),
        pytest.param(HELD, id="the same list again"),
        pytest.param(
            replace(HELD, volgnummer=101, tijdstempel=NOW + MAX_CLOCK_SKEW), id="skew ahead"
        ),
    ],
)
def test_a_list_that_may_follow(new: MedMijList) -> None:
    assert follows(new) is None


@pytest.mark.parametrize(
    ("new", "reason"),
    [
        (replace(HELD, volgnummer=99), "Volgnummer 99 is lower than the held 100"),
        (
            replace(HELD, hostnames=("ander.example.nl",)),
            "Volgnummer 100 is already held with different content",
        ),
        (
            replace(HELD, volgnummer=101 + MAX_VOLGNUMMER_STEP),
            f"Volgnummer jumps from 100 to {101 + MAX_VOLGNUMMER_STEP}, more than "
            f"{MAX_VOLGNUMMER_STEP} at once",
        ),
        (
            replace(HELD, volgnummer=101, tijdstempel=HELD.tijdstempel - timedelta(seconds=1)),
            "goes backwards: Volgnummer 100 was made at",
        ),
        (
            replace(HELD, volgnummer=101, tijdstempel=NOW + MAX_CLOCK_SKEW + timedelta(seconds=1)),
            "lies in the future (more than 1 h after this node's clock",
        ),
    ],
)
def test_a_list_that_may_not_follow_is_refused_with_the_reason(
    new: MedMijList, reason: str
) -> None:
    refused = follows(new)
    assert refused is not None
    assert reason in refused


def test_without_a_last_list_only_the_clock_can_refuse() -> None:
    assert follows(replace(HELD, volgnummer=10**12), last=None) is None
    ahead = replace(HELD, tijdstempel=NOW + timedelta(days=365))
    assert "lies in the future" in (follows(ahead, last=None) or "")


def test_the_digest_covers_the_content_the_volgnummer_and_the_tijdstempel() -> None:
    digest = content_digest(HELD)
    assert content_digest(replace(HELD)) == digest
    assert content_digest(replace(HELD, volgnummer=101)) != digest
    assert content_digest(replace(HELD, tijdstempel=LATER)) != digest
    assert content_digest(replace(HELD, hostnames=HELD.hostnames[:1])) != digest
