"""Shares as exact fractions, and how they are written in JSON.

A rate is kept as a :class:`~fractions.Fraction` so that a norm like "99.5 %" compares
exactly; it is ``None`` where nothing was counted (0 of 0 is no rate), and JSON gets a float.
"""

from __future__ import annotations

from fractions import Fraction

__all__ = ["rate", "rate_json"]


def rate(part: int, whole: int) -> Fraction | None:
    return Fraction(part, whole) if whole else None


def rate_json(value: Fraction | None) -> float | None:
    return None if value is None else float(value)
