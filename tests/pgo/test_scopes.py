"""The scope the PGO asks per AS generation, and reading what the DVA granted."""

from __future__ import annotations

import pytest

from medmij_stack.pgo.scopes import granted_services, request_scope
from medmij_stack.protocol.scope import CombinatieScope, ScopeError, ZorgaanbiederScope


def test_as2_asks_the_bare_name_for_everything_and_combinations_for_a_part() -> None:
    assert request_scope(
        "umcdemo@medmij", ["48", "63"], ["48", "63"], "2.0.0"
    ) == ZorgaanbiederScope("umcdemo")
    assert request_scope("umcdemo@medmij", ["63"], ["48", "63"], "2.0.0") == CombinatieScope(
        "umcdemo", ("63",)
    )


def test_as1_always_asks_combinations() -> None:
    scope = request_scope("umcdemo@medmij", ["48", "63"], ["48", "63"], "1.4.0")
    assert str(scope) == "umcdemo~48 umcdemo~63"


def test_a_name_off_the_grammar_is_refused() -> None:
    with pytest.raises(ScopeError):
        request_scope("UMC@medmij", ["48"], ["48"], "2.0.0")


@pytest.mark.parametrize(
    ("scope", "granted"),
    [
        (None, ("48", "63")),
        ("", ("48", "63")),
        ("umcdemo~63", ("63",)),
        ("umcdemo~48 umcdemo~63", ("48", "63")),
        ("48 63", ("48", "63")),  # ids, as one public DVA mock answers
        ("umcdemo", ("48", "63")),
        ("andere~48 umcdemo~63", ("63",)),  # another zorgaanbieder's pair grants nothing here
        ("umcdemo~49", ()),  # what was not asked for is ignored
    ],
)
def test_granted_services(scope: str | None, granted: tuple[str, ...]) -> None:
    assert granted_services(scope, "umcdemo@medmij", ["48", "63"]) == granted
