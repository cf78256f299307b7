"""Sealing refresh tokens at rest: AES-256-GCM with a key kept beside the database.

A refresh token opens a person's health records for months (langdurige toestemming), and
unlike the DVA, which keeps only digests, the PGO must be able to present it again. So it
is stored encrypted: a copy of the database alone opens nothing. The key lives in its own
file (``PgoSettings.token_key_path``, made with mode 0600 on first start) so that it can
be kept apart from database backups. The row's id is bound in as associated data, so a
sealed token copied into another row does not open.

Sealed form: ``v1.<nonce, base64url>.<ciphertext and tag, base64url>``.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["Sealer", "SealingError"]

_VERSION = "v1"
_KEY_BYTES = 32
_NONCE_BYTES = 12


class SealingError(ValueError):
    """A sealed value that does not open with this key (tampered, or another key)."""


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ValueError(f"the sealing key must be {_KEY_BYTES} bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_file(cls, path: Path) -> Sealer:
        """The key in ``path``; a new random key is written there (mode 0600) when missing."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = secrets.token_bytes(_KEY_BYTES)
            # O_EXCL: of two processes starting together, one writes and the other reads.
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(descriptor, "wb") as file:
                    file.write(key)
        return cls(path.read_bytes())

    def seal(self, value: str, context: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8"), context.encode("utf-8"))
        return f"{_VERSION}.{_encode(nonce)}.{_encode(sealed)}"

    def open(self, sealed: str, context: str) -> str:
        version, _, rest = sealed.partition(".")
        nonce_text, _, body = rest.partition(".")
        if version != _VERSION or not nonce_text or not body:
            raise SealingError("not a sealed value")
        try:
            plain = self._aead.decrypt(_decode(nonce_text), _decode(body), context.encode("utf-8"))
        except (InvalidTag, ValueError) as exc:
            raise SealingError("the sealed value does not open with this key") from exc
        return plain.decode("utf-8")
