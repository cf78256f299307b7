"""Latency: requests joined to answers by MedMij-Request-ID, nearest-rank percentiles, norms."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from medmij_stack.protocol.ketenlog import EventType, Record
from medmij_stack.protocol.reporting.latency import Exchange, measure, pair, percentile
from medmij_stack.protocol.reporting.months import Month, Period
from tests.protocol.reporting.builders import at, record

SEC = timedelta(seconds=1)


def token_pair(n: int, seconds: float, *, error: bool = False) -> list[Record]:
    sent = at(2026, 1, 10) + timedelta(minutes=n)
    answer = EventType.RECEIVE_TOKEN_ERROR if error else EventType.RECEIVE_TOKEN_RESPONSE
    return [
        record(EventType.SEND_TOKEN_REQUEST, sent, f"t{n}", request_id=f"r{n}"),
        record(answer, sent + timedelta(seconds=seconds), f"t{n}", answer_id=f"r{n}"),
    ]


def test_nearest_rank_percentiles_of_a_hand_list() -> None:
    ten = [SEC * s for s in range(1, 11)]  # 1 s … 10 s
    assert percentile(ten, Decimal(50)) == SEC * 5
    assert percentile(ten, Decimal(95)) == SEC * 10
    assert percentile(ten, Decimal("98.5")) == SEC * 10
    assert percentile([SEC * 3], Decimal("99.5")) == SEC * 3
    assert percentile([], Decimal(50)) is None
    with pytest.raises(ValueError, match="percentile"):
        percentile(ten, Decimal(0))


def test_the_token_norm_fails_below_99_5_percent_within_10_s() -> None:
    records = [r for n in range(198) for r in token_pair(n, 2)]
    records += token_pair(198, 11) + token_pair(199, 30, error=True)
    figures = measure(pair(records, Exchange.TOKEN))
    assert figures.count == 200
    assert figures.errors == 1
    assert figures.within_limit == 198
    assert figures.share == Fraction(99, 100)
    assert figures.passed is False
    assert figures.at("50") == SEC * 2
    assert figures.at("99") == SEC * 2  # rank 198 of 200
    assert figures.at("99.5") == SEC * 11  # rank 199: the norm's own percentile is over 10 s
    assert figures.at("98.5") == SEC * 2


def test_the_token_norm_holds_at_exactly_99_5_percent() -> None:
    records = [r for n in range(199) for r in token_pair(n, 2)] + token_pair(199, 11)
    figures = measure(pair(records, Exchange.TOKEN))
    assert figures.share == Fraction(995, 1000)
    assert figures.passed is True
    assert figures.at("99.5") == SEC * 2


def test_resource_requests_join_by_request_id_and_errors_count_with_their_time() -> None:
    t = at(2026, 1, 10)
    records = [
        # Two requests answered in the reverse order: the ids, not the order, pair them.
        record(EventType.SEND_RESOURCE_REQUEST, t, "x", request_id="a"),
        record(EventType.SEND_RESOURCE_REQUEST, t + SEC, "x", request_id="b"),
        record(EventType.RECEIVE_RESOURCE_RESPONSE, t + SEC * 6, "x", answer_id="b"),
        record(EventType.RECEIVE_RESOURCE_ERROR_RESPONSE, t + SEC * 61, "x", answer_id="a",
               status=500),
        # A timeout the PGO logged after exactly 60 s: within the limit (≤ 60 s).
        record(EventType.SEND_RESOURCE_REQUEST, t + SEC * 100, "y", request_id="c"),
        record(EventType.RECEIVE_RESOURCE_REQUEST_ERROR, t + SEC * 160, "y",
               error_request_id="c", status=408),
        # Sent, never answered; and an answer to nothing sent.
        record(EventType.SEND_RESOURCE_REQUEST, t + SEC * 200, "z", request_id="d"),
        record(EventType.RECEIVE_RESOURCE_RESPONSE, t + SEC * 300, "z", answer_id="e"),
        # A token exchange is not a resource exchange.
        *token_pair(1, 2),
    ]  # fmt: skip
    pairing = pair(records, Exchange.RESOURCE)
    assert {(p.request_id, p.latency, p.error) for p in pairing.pairs} == {
        ("a", SEC * 61, True),
        ("b", SEC * 5, False),
        ("c", SEC * 60, True),
    }
    figures = measure(pairing)
    assert (figures.count, figures.errors, figures.within_limit) == (3, 2, 2)
    assert (figures.unanswered, figures.orphans) == (1, 1)
    assert figures.share == Fraction(2, 3)
    assert figures.passed is False  # 2/3 < 98.5 %
    assert figures.at("50") == SEC * 60
    assert figures.at("98.5") == SEC * 61


def test_the_same_request_id_at_another_location_is_another_request() -> None:
    t = at(2026, 1, 10)
    records = [
        record(EventType.SEND_TOKEN_REQUEST, t, "x", request_id="r", location="a.pgo"),
        record(EventType.RECEIVE_TOKEN_RESPONSE, t + SEC, "x", answer_id="r", location="b.pgo"),
    ]
    pairing = pair(records, Exchange.TOKEN)
    assert (len(pairing.pairs), len(pairing.unanswered), len(pairing.orphans)) == (0, 1, 1)


def test_a_pair_counts_in_the_month_it_was_sent() -> None:
    # Sent 23:59:55 on 31 January Dutch time, answered in February.
    sent = at(2026, 1, 31, 22, 59, 55)
    records = [
        record(EventType.SEND_TOKEN_REQUEST, sent, "x", request_id="r"),
        record(EventType.RECEIVE_TOKEN_RESPONSE, sent + SEC * 8, "x", answer_id="r"),
    ]
    pairing = pair(records, Exchange.TOKEN)
    assert measure(pairing, period=Period.single(Month(2026, 1))).count == 1
    assert measure(pairing, period=Period.single(Month(2026, 2))).count == 0


def test_an_answer_logged_before_its_request_is_not_timed_but_counted() -> None:
    t = at(2026, 1, 10)
    records = [
        record(EventType.SEND_TOKEN_REQUEST, t, "x", request_id="r"),
        record(EventType.RECEIVE_TOKEN_RESPONSE, t - SEC, "x", answer_id="r"),
    ]
    figures = measure(pair(records, Exchange.TOKEN))
    assert (figures.count, figures.backwards) == (0, 1)


def test_nothing_timed_is_no_verdict() -> None:
    figures = measure(pair([], Exchange.TOKEN))
    assert (figures.count, figures.share, figures.passed) == (0, None, None)
    assert all(value is None for _, value in figures.percentiles)
    assert figures.to_json()["percentiles_seconds"] == {
        "p50": None,
        "p95": None,
        "p98.5": None,
        "p99": None,
        "p99.5": None,
    }
    assert figures.to_json()["norm"] == {"limit_seconds": 10.0, "share": 0.995}
