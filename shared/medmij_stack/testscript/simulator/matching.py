"""Which recorded request each PHR-Client test is judged on, over every script of a run.

A test's operation names a path, query parameters and, in its ``Authorization`` header,
the token of the scenario's patient. A recorded request fits when it has that path and
at least those parameters (the scripts allow more, e.g. extra ``_include``s). Among the
requests that fit, the token decides first: a scenario is about its patient, so a
request with the test's token beats one with another patient's token whatever their
parameters. Then a request with exactly the named parameters beats one with more.

Each request is used for at most one test in the whole run: the Test and Cert variants
of a scenario, or two scripts with the same search, each need a request of their own.
Requests are handed out rank by rank over all tests, so a weaker fit for one test never
takes the request that fits another test better. A request with another patient's token
is only handed out when no test has it with the right token, so that its asserts can
say what the client did wrong without taking another scenario's request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from medmij_stack.testscript.exchange import Exchange

__all__ = ["RIGHT_TOKEN", "Key", "Match", "Wanted", "assign", "recorded_request"]

Key = tuple[int, int, int]
"""Script, test and action index of one operation in a run."""

_RANKS = 4
RIGHT_TOKEN = 2
"""Ranks below this carry the test's token (0: exact parameters, 1: more parameters)."""


@dataclass(frozen=True)
class Wanted:
    """The request one operation of a PHR-Client test expects."""

    key: Key
    path: str
    """Below the FHIR base, without slashes at either end (``Observation/$lastn``)."""
    params: tuple[tuple[str, str], ...]
    token: str | None
    """The whole ``Authorization`` value the test names; None when it names none."""
    base_path: str
    """The path of the FHIR base the script's release is served under (``/r4``)."""


@dataclass(frozen=True)
class Match:
    index: int
    """Index into the recorded exchanges."""
    rank: int
    """0 best; :data:`RIGHT_TOKEN` and above carry another token than the test's."""


def recorded_request(exchange: Exchange, base_path: str) -> tuple[str, list[tuple[str, str]]]:
    """The path below ``base_path`` and the query pairs of a recorded request."""
    parts = urlsplit(exchange.request.url)
    path = parts.path
    prefix = base_path.rstrip("/")
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :]
    return path.strip("/"), parse_qsl(parts.query, keep_blank_values=True)


def _rank(wanted: Wanted, exchange: Exchange) -> int | None:
    path, params = recorded_request(exchange, wanted.base_path)
    if path != wanted.path:
        return None
    got, expected = Counter(params), Counter(wanted.params)
    if any(got[pair] < count for pair, count in expected.items()):
        return None
    right_token = wanted.token is None or exchange.request.header("authorization") == wanted.token
    return (0 if right_token else RIGHT_TOKEN) + (0 if got == expected else 1)


def assign(wanted: Sequence[Wanted], exchanges: Sequence[Exchange]) -> dict[Key, Match]:
    """The request each operation is judged on; an operation without one is left out.

    Greedy by rank: every operation gets its best-ranked free request before any gets a
    request of the next rank; within a rank, operations in run order, requests in the
    order they arrived.
    """
    ranks = [[_rank(item, exchange) for exchange in exchanges] for item in wanted]
    chosen: dict[Key, Match] = {}
    used: set[int] = set()
    for rank in range(_RANKS):
        for item, fits in zip(wanted, ranks, strict=True):
            if item.key in chosen:
                continue
            for index, fit in enumerate(fits):
                if fit == rank and index not in used:
                    chosen[item.key] = Match(index, rank)
                    used.add(index)
                    break
    return chosen
