"""The secret values the server hands out, and the one-way form it keeps of them.

* Authorization codes and access tokens are UUID version 4 ([SPEC-1.x] "genereert
  authorization codes en access tokens volgens UUID … slechts … UUID Version 4"),
  made by ``uuid.uuid4()``, which draws on the operating system's CSPRNG.
* Refresh tokens (langdurige toestemming, AS 2.0.0) are 256 random bits: they live for
  months, so they get more entropy than the 122 bits of a UUIDv4
  (docs/protocol.md#langdurige-toestemming).
* Session cookies and CSRF tokens are 256 random bits as well.
* Only SHA-256 digests are stored (docs/architecture.md#storage). The values are random and
  long, so an unsalted fast hash is enough: there is nothing to guess from the digest.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

__all__ = ["digest", "matches", "new_code", "new_random", "new_uuid4"]


def new_uuid4() -> str:
    """A fresh UUIDv4 in its canonical lower-case text form (codes, access tokens, ids)."""
    return str(uuid.uuid4())


new_code = new_uuid4


def new_random() -> str:
    """256 random bits, URL-safe (refresh tokens, session cookies, CSRF tokens)."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """The stored form of a secret value: SHA-256, hex."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def matches(value: str, stored_digest: str) -> bool:
    """Whether ``value`` is the secret behind ``stored_digest`` (constant time)."""
    return hmac.compare_digest(digest(value), stored_digest)
