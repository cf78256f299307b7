"""The in-process stack every fuzz test sends its requests to (tests/fuzz/apps.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .apps import Stack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("fuzz")) as running:
        yield running
