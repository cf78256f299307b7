"""Fixtures of the PGO tests: a PGO with a faked network (``harness``), and its person."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .harness import Person, PgoWorld, running_pgo


@pytest.fixture
async def pw(tmp_path: Path) -> AsyncIterator[PgoWorld]:
    async with running_pgo(tmp_path) as running:
        yield running


@pytest.fixture
async def person(pw: PgoWorld) -> AsyncIterator[Person]:
    """A person with a fresh account, logged in."""
    someone = pw.person()
    answer = await someone.sign_up()
    assert answer.status_code == 303, answer.text
    yield someone
    await someone.client.aclose()
