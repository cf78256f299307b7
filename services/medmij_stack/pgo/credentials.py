"""Random secrets the PGO hands out, and the one-way form it keeps of them.

Session cookies and CSRF tokens are 256 random bits from the operating system's CSPRNG.
Only SHA-256 digests of cookies (and of ``state`` values, see
:mod:`medmij_stack.pgo.attempts`) are stored: the values are random and long, so an
unsalted fast hash is enough and a copy of the database opens no session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["digest", "matches", "new_random", "same"]


def new_random() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """The stored form of a secret value: SHA-256, hex."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def matches(value: str, stored_digest: str) -> bool:
    """Whether ``value`` is the secret behind ``stored_digest`` (constant time)."""
    return hmac.compare_digest(digest(value), stored_digest)


def same(given: str | None, expected: str) -> bool:
    """Constant-time equality of a submitted secret (a CSRF token) with the expected one."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
