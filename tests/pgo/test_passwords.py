"""scrypt password hashes: salted, self-describing, and refusing tampered parameters."""

from __future__ import annotations

import pytest

from medmij_stack.pgo.passwords import (
    DEMO,
    MAX_PASSWORD_LENGTH,
    SIMULATED,
    ScryptParameters,
    hash_password,
    needs_rehash,
    verify_password,
)


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("correct paard batterij", DEMO)
    assert verify_password("correct paard batterij", stored)
    assert not verify_password("Correct paard batterij", stored)
    assert not verify_password("", stored)


def test_every_hash_has_its_own_salt_and_its_parameters() -> None:
    first, second = hash_password("zelfde", DEMO), hash_password("zelfde", DEMO)
    assert first != second
    assert first.split("$")[:4] == ["scrypt", "14", "8", "1"]
    assert needs_rehash(first)  # made with the demo cost, not today's default
    assert not needs_rehash(first, DEMO)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "argon2$whatever",
        "scrypt$14$8$1$!!!$!!!",
        "scrypt$30$8$1$AAAA$AAAA",  # would cost far more than any hash of ours
        "scrypt$9$8$1$AAAA$AAAA",  # cheaper than any hash of ours, a simulated person's too
        "scrypt$14$8",
    ],
)
def test_a_malformed_or_tampered_hash_never_verifies(stored: str) -> None:
    assert not verify_password("iets", stored)


def test_overlong_passwords_are_refused_before_hashing() -> None:
    with pytest.raises(ValueError, match="too long"):
        hash_password("x" * (MAX_PASSWORD_LENGTH + 1), DEMO)
    assert not verify_password("x" * (MAX_PASSWORD_LENGTH + 1), hash_password("x", DEMO))


def test_the_default_cost_is_owasps_minimum() -> None:
    assert ScryptParameters(17, 8, 1).maxmem > 128 * 8 * 2**17


def test_a_simulated_persons_hash_is_the_cheapest_that_verifies() -> None:
    stored = hash_password("medmij-demo", SIMULATED)
    assert stored.split("$")[:4] == ["scrypt", "10", "8", "1"]
    assert verify_password("medmij-demo", stored)
    assert not verify_password("medmij-dem0", stored)
    cheaper = ScryptParameters(SIMULATED.log2_n - 1, SIMULATED.r, SIMULATED.p)
    assert not verify_password("medmij-demo", hash_password("medmij-demo", cheaper))
