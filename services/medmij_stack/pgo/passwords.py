"""Password hashing with scrypt, a memory-hard key derivation function (RFC 7914).

Why scrypt from the standard library (``hashlib.scrypt``): it is memory-hard like argon2,
needs no extra dependency, and OWASP's Password Storage Cheat Sheet lists it with the
parameters used here (N=2^17, r=8, p=1: 128 MiB per guess). Each hash carries its own
parameters and 16-byte random salt, so parameters can rise later: :func:`needs_rehash`
says when a stored hash was made with other parameters than today's.

One hash costs about a second of CPU and 128 MiB here, so at most ``_CONCURRENT`` run at
once: a burst of logins waits instead of exhausting memory. Accounts of a local world's
demo (whose passwords are published in ``stack.json``) are hashed with :data:`DEMO`, which
protects nothing less, since the password is public anyway. The synthetic persons of a
simulation world (``simulation = true``, which must also be a development world) log in
for every attempt, thousands of them: their accounts get :data:`SIMULATED`, the cheapest
cost :func:`verify_password` accepts, which only a PGO whose settings say
``simulated_accounts`` (with ``development``) ever uses.

Stored form: ``scrypt$<log2 N>$<r>$<p>$<salt, base64>$<hash, base64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass

__all__ = [
    "DEFAULT",
    "DEMO",
    "MAX_PASSWORD_LENGTH",
    "SIMULATED",
    "ScryptParameters",
    "hash_password",
    "needs_rehash",
    "verify_password",
]

_SCHEME = "scrypt"
_SALT_BYTES = 16
_KEY_BYTES = 32
# A password longer than this is refused before hashing: no one types it, and it bounds
# the work an anonymous request can cause.
MAX_PASSWORD_LENGTH = 1024
_CONCURRENT = threading.BoundedSemaphore(2)


@dataclass(frozen=True)
class ScryptParameters:
    log2_n: int
    r: int
    p: int

    @property
    def maxmem(self) -> int:
        # scrypt needs 128 * r * N bytes; allow a little on top for the library itself.
        return 128 * self.r * (1 << self.log2_n) + 1024 * 1024


DEFAULT = ScryptParameters(log2_n=17, r=8, p=1)
DEMO = ScryptParameters(log2_n=14, r=8, p=1)
# The synthetic persons of a simulation world: published passwords of made-up people in a
# development world, so the hash guards nothing; 2^10 (1 MiB) costs about 3 ms of CPU per
# login here against 58 ms at DEMO. The lowest log2 N that _parse accepts.
SIMULATED = ScryptParameters(log2_n=10, r=8, p=1)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, parameters: ScryptParameters) -> bytes:
    with _CONCURRENT:
        return hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=1 << parameters.log2_n,
            r=parameters.r,
            p=parameters.p,
            maxmem=parameters.maxmem,
            dklen=_KEY_BYTES,
        )


def hash_password(password: str, parameters: ScryptParameters = DEFAULT) -> str:
    """The stored form of ``password``."""
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError("password too long")
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, parameters)
    return "$".join(
        (
            _SCHEME,
            str(parameters.log2_n),
            str(parameters.r),
            str(parameters.p),
            _b64(salt),
            _b64(key),
        )
    )


def _parse(stored: str) -> tuple[ScryptParameters, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        return None
    try:
        parameters = ScryptParameters(int(parts[1]), int(parts[2]), int(parts[3]))
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except ValueError:
        return None
    # Refuse parameters no hash of ours ever had: a tampered row must not cost a fortune
    # (nor be cheaper than a simulated person's).
    if not (
        SIMULATED.log2_n <= parameters.log2_n <= 20
        and 1 <= parameters.r <= 32
        and 1 <= parameters.p <= 4
    ):
        return None
    return parameters, salt, key


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one behind ``stored`` (constant-time comparison)."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    parsed = _parse(stored)
    if parsed is None:
        return False
    parameters, salt, key = parsed
    return hmac.compare_digest(_derive(password, salt, parameters), key)


def needs_rehash(stored: str, parameters: ScryptParameters = DEFAULT) -> bool:
    """Whether ``stored`` was made with other parameters than today's."""
    parsed = _parse(stored)
    return parsed is None or parsed[0] != parameters
