"""The share of users completing every step and its 95% Wilson interval (no stack)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from medmij_stack.protocol.funnel import Outcome
from medmij_stack.wiring.completion import Completion, from_truth, wilson


def test_the_wilson_interval_of_16_out_of_100_by_hand() -> None:
    # p = 0.16, n = 100, z = 1.96 (z² = 3.8415):
    #   centre = (p + z²/2n) / (1 + z²/n)            = 0.179207 / 1.038415 = 0.172578
    #   half   = z / (1 + z²/n) · √(p(1-p)/n + z²/4n²) = 1.887490 · √0.00144004 = 0.071626
    low, high = wilson(16, 100)
    assert low == pytest.approx(0.10095, abs=5e-5)
    assert high == pytest.approx(0.24420, abs=5e-5)


def test_the_wilson_interval_at_the_edges_and_in_the_middle() -> None:
    # The textbook values for 0/10 and 5/10 (Wilson 1927; Newcombe 1998, table I).
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=5e-5)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=5e-5)
    assert wilson(10, 10)[0] == pytest.approx(0.7225, abs=5e-5)
    assert wilson(10, 10)[1] <= 1.0
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes"):
        wilson(11, 10)


def test_whether_the_target_lies_within() -> None:
    assert Completion(16, 100, target=0.16).target_within is True
    assert Completion(16, 100, target=0.31).target_within is False
    assert Completion(16, 100, target=0.05).target_within is False
    assert Completion(16, 100).target_within is None
    figures = Completion(16, 100, target=0.16).to_json()
    assert figures["share"] == 0.16
    assert figures["wilson_95"] == [0.101, 0.2442]


@dataclass(frozen=True)
class _Attempt:
    pgo: str
    user: int
    outcome: Outcome | None


def test_a_user_counts_once_per_pgo_and_completes_with_one_success() -> None:
    truth = [
        _Attempt("a", 1, Outcome.FAILURE),
        _Attempt("a", 1, Outcome.SUCCESS),  # failed first, then got through: completed
        _Attempt("a", 2, Outcome.FAILURE),
        _Attempt("a", 3, None),  # never ended: started, not completed
        _Attempt("b", 1, Outcome.SUCCESS),  # another PGO's user 1
        _Attempt("b", 2, Outcome.FAILURE),
    ]
    figures = from_truth(truth, target=0.5, targets={"a": 0.2})
    assert figures.counts() == {"*": (2, 5), "a": (1, 3), "b": (1, 2)}
    assert figures.overall.share == pytest.approx(0.4)
    assert figures.per_pgo["a"].target == 0.2
    assert figures.per_pgo["b"].target is None
    assert figures.overall.target_within is True  # 0.5 within wilson(2, 5) = (0.118, 0.769)
