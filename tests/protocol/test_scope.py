"""Scope grammar of the authorization request (docs/protocol.md#scopes): all three generations."""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable

import pytest

from medmij_stack.protocol.scope import (
    AbonnerenScope,
    CombinatieScope,
    Scope,
    ScopeError,
    ZorgaanbiederScope,
    format_scope,
    parse_scope,
    zorgaanbieder_from_naam,
)

ZA = "eenofanderezorgaanbieder"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # core.authint.200 example (AS 2.x Verzamelen).
        (ZA, ZorgaanbiederScope(ZA)),
        # Delen form from the same page.
        (f"{ZA}~53", CombinatieScope(ZA, ("53",))),
        # RFC0039 examples.
        (f"{ZA}~42", CombinatieScope(ZA, ("42",))),
        (f"{ZA}~42 {ZA}~48", CombinatieScope(ZA, ("42", "48"))),
        (f"subscribe~180/{ZA}~42", AbonnerenScope(180, ZA, "42")),
        (f"subscribe~0/{ZA}~42", AbonnerenScope(0, ZA, "42")),
        # ZAL examples, and the shortest and longest names the ZAL allows.
        ("umcharderwijk", ZorgaanbiederScope("umcharderwijk")),
        ("radiologencentraalflevoland~48", CombinatieScope("radiologencentraalflevoland", ("48",))),
        ("abc", ZorgaanbiederScope("abc")),
        ("z" * 50, ZorgaanbiederScope("z" * 50)),
        (f"{ZA}~900000401", CombinatieScope(ZA, ("900000401",))),
        (f"{ZA}~{'9' * 30}", CombinatieScope(ZA, ("9" * 30,))),
        # Grammatical, if odd: a zorgaanbieder named "subscribe".
        ("subscribe~48", CombinatieScope("subscribe", ("48",))),
        ("subscribe", ZorgaanbiederScope("subscribe")),
    ],
)
def test_examples_parse_to_the_right_shape(value: str, expected: Scope) -> None:
    scope = parse_scope(value)
    assert scope == expected
    assert type(scope) is type(expected)
    assert format_scope(scope) == value
    assert str(scope) == value


def test_properties_of_each_shape() -> None:
    bare = parse_scope(ZA)
    assert (bare.zorgaanbieder, bare.zorgaanbiedernaam) == (ZA, f"{ZA}@medmij")
    assert bare.gegevensdienst_ids is None

    combinatie = parse_scope(f"{ZA}~42 {ZA}~48")
    assert combinatie.zorgaanbiedernaam == f"{ZA}@medmij"
    assert combinatie.gegevensdienst_ids == ("42", "48")

    abonneren = parse_scope(f"subscribe~0/{ZA}~42")
    assert isinstance(abonneren, AbonnerenScope)
    assert abonneren.zorgaanbiedernaam == f"{ZA}@medmij"
    assert abonneren.gegevensdienst_ids == ("42",)
    assert abonneren.ends_subscription
    assert not AbonnerenScope(180, ZA, "42").ends_subscription


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "scope is empty"),
        (" ", "only whitespace"),
        ("\t\n", "only whitespace"),
        (f" {ZA}", "leading or trailing whitespace"),
        (f"{ZA} ", "leading or trailing whitespace"),
        (f"{ZA}~42  {ZA}~48", "double spaces"),
        (f"{ZA}~42\t{ZA}~48", "whitespace other than single spaces"),
        (f"{ZA}~42\u00a0{ZA}~48", "whitespace other than single spaces"),
        ("Eenofanderezorgaanbieder", "must be lower case"),
        (f"{ZA.upper()}~48", "must be lower case"),
        (f"{ZA}@medmij", "suffix '@medmij'"),
        (f"{ZA}@medmij~48", "suffix '@medmij'"),
        (f"{ZA}@MedMij", "suffix '@medmij'"),
        (f"subscribe~180/{ZA}@medmij~42", "suffix '@medmij'"),
        ("een@andere", "contains '@'"),
        ("medmij.ontwikkel.verplicht.interoplab", "only contain the letters a-z"),
        ("zorg-aanbieder", "only contain the letters a-z"),
        ("zorgaanbieder1", "only contain the letters a-z"),
        ("zorgaanbiedér", "only contain the letters a-z"),
        ("ab", "has 2 letters"),
        ("z" * 51, "has 51 letters"),
        (f"{ZA}~42 anderezorgaanbieder~48", "same zorgaanbieder"),
        (f"{ZA}~42 {ZA}~42", "appears more than once"),
        (f"{ZA}~", "missing after '~'"),
        (f"{ZA}~abc", "must be digits"),
        (f"{ZA}~4a", "must be digits"),
        (f"{ZA}~-48", "must be digits"),
        (f"{ZA}~٤٨", "must be digits"),
        (f"{ZA}~{'9' * 31}", "longer than 30 digits"),
        ("~48", "missing before '~'"),
        (f"{ZA}~42~48", "more than one '~'"),
        ("48", "obsolete AS 1.0"),
        ("48 49", "obsolete AS 1.0"),
        (f"48 {ZA}~49", "obsolete AS 1.0"),
        (f"{ZA} anderezorgaanbieder", "several zorgaanbieders"),
        (f"{ZA} {ZA}~48", "mixes the bare name"),
        (f"subscribe~-1/{ZA}~42", "must not be negative"),
        (f"subscribe~1.5/{ZA}~42", "whole number of days"),
        (f"subscribe~abc/{ZA}~42", "whole number of days"),
        (f"subscribe~+5/{ZA}~42", "whole number of days"),
        (f"subscribe~/{ZA}~42", "duration is missing"),
        (f"subscribe~007/{ZA}~42", "without leading zeros"),
        (f"subscribe~{'9' * 19}/{ZA}~42", "more than 18 digits"),
        (f"subscribe~180/{ZA}~42 {ZA}~48", "exactly one combination"),
        (f"subscribe~180/{ZA}~42/{ZA}~48", "exactly one combination"),
        (f"{ZA}~41 subscribe~180/{ZA}~42", "only the form subscribe~N/"),
        ("subscribe~180/", "needs a combination"),
        (f"subscribe~180/{ZA}", "is not a combination"),
        (f"subscribe/{ZA}~42", "only the form subscribe~N/"),
        (f"Subscribe~180/{ZA}~42", "only the form subscribe~N/"),
        (f"{ZA}~42/x", "only the form subscribe~N/"),
    ],
)
def test_malformed_scopes_say_what_is_wrong(value: str, message: str) -> None:
    with pytest.raises(ScopeError, match=re.escape(message)):
        parse_scope(value)


def test_scope_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="scope is empty"):
        parse_scope("")


def test_non_string_is_refused() -> None:
    with pytest.raises(ScopeError, match="must be a string"):
        parse_scope(None)  # type: ignore[arg-type]


def test_long_values_are_cut_short_in_messages() -> None:
    with pytest.raises(ScopeError) as info:
        parse_scope("x" * 10_000 + "~1")
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ZorgaanbiederScope("Foo"), "lower case"),
        (lambda: ZorgaanbiederScope("foo@medmij"), "suffix '@medmij'"),
        (lambda: CombinatieScope(ZA, ()), "at least one"),
        (lambda: CombinatieScope(ZA, ("48", "48")), "more than once"),
        (lambda: CombinatieScope(ZA, ("x",)), "must be digits"),
        (lambda: AbonnerenScope(-1, ZA, "48"), "must not be negative"),
        (lambda: AbonnerenScope(True, ZA, "48"), "whole number of days"),
        (lambda: AbonnerenScope(1.5, ZA, "48"), "whole number of days"),  # type: ignore[arg-type]
        (lambda: AbonnerenScope(10**18, ZA, "48"), "more than 18 digits"),
        (lambda: AbonnerenScope(1, ZA, ""), "missing after '~'"),
    ],
)
def test_constructed_scopes_are_checked_too(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ScopeError, match=message):
        build()


def test_combination_ids_are_stored_as_a_tuple() -> None:
    scope = CombinatieScope(ZA, ["42", "48"])  # type: ignore[arg-type]
    assert scope.gegevensdiensten == ("42", "48")
    assert hash(scope) == hash(CombinatieScope(ZA, ("42", "48")))


def test_format_refuses_non_scopes() -> None:
    with pytest.raises(TypeError, match="not a scope"):
        format_scope("eenofanderezorgaanbieder")  # type: ignore[arg-type]


def _random_scope(rng: random.Random) -> Scope:
    naam = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 50)))

    def an_id() -> str:
        return "".join(rng.choices(string.digits, k=rng.randint(1, 30)))

    shape = rng.randrange(3)
    if shape == 0:
        return ZorgaanbiederScope(naam)
    if shape == 1:
        ids = list(dict.fromkeys(an_id() for _ in range(rng.randint(1, 6))))
        return CombinatieScope(naam, tuple(ids))
    return AbonnerenScope(rng.choice([0, 1, 180, rng.randint(0, 10**18 - 1)]), naam, an_id())


def test_round_trips_over_many_generated_scopes() -> None:
    # Seeded, so a failure reproduces; a property test without the dependency.
    rng = random.Random(20_260_101)
    for _ in range(2_000):
        scope = _random_scope(rng)
        text = format_scope(scope)
        assert parse_scope(text) == scope
        assert format_scope(parse_scope(text)) == text


def test_zorgaanbieder_from_naam() -> None:
    assert zorgaanbieder_from_naam("umcharderwijk@medmij") == "umcharderwijk"
    assert zorgaanbieder_from_naam(f"{ZA}@medmij") == ZA
    for naam, message in [
        ("umcharderwijk", "does not end with '@medmij'"),
        ("UMCharderwijk@medmij", "lower case"),
        ("ab@medmij", "has 2 letters"),
        ("@medmij", "empty"),
        ("umc.harderwijk@medmij", "only contain the letters a-z"),
    ]:
        with pytest.raises(ScopeError, match=message):
            zorgaanbieder_from_naam(naam)
