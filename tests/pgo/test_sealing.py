"""Refresh tokens sealed at rest with AES-GCM, bound to their row."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from medmij_stack.pgo.sealing import Sealer, SealingError


def test_a_sealed_value_opens_with_its_key_and_context_only(tmp_path: Path) -> None:
    sealer = Sealer.from_file(tmp_path / "key")
    sealed = sealer.seal("refresh-token-123", "consent-1")
    assert "refresh-token-123" not in sealed
    assert sealer.open(sealed, "consent-1") == "refresh-token-123"
    with pytest.raises(SealingError):
        sealer.open(sealed, "consent-2")  # copied into another row
    with pytest.raises(SealingError):
        Sealer.from_file(tmp_path / "other-key").open(sealed, "consent-1")
    with pytest.raises(SealingError):
        sealer.open(sealed[:-4] + "AAAA", "consent-1")
    with pytest.raises(SealingError):
        sealer.open("niet verzegeld", "consent-1")


def test_the_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "key"
    first = Sealer.from_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes()) == 32
    sealed = first.seal("x", "c")
    assert Sealer.from_file(path).open(sealed, "c") == "x"


def test_a_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Sealer(b"short")
