"""One `medmij up` for the wiring tests that drive the running stack (demo, patient).

The stack is started the way the end-to-end tests start theirs (tests/e2e/conftest.py,
``start_stack``: a subprocess on free ports in a temporary folder), once per session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import RunningStack, start_stack


@pytest.fixture(scope="session")
def running_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    # Health may take up to start_stack's own limit (90 s): the machine is shared.
    # Each role's default workers: /metrics answers a role's totals from any of its workers
    # (test_metrics compares exact counts).
    running = start_stack(tmp_path_factory.mktemp("stack"), "--timeout", "85")
    yield running
    running.stop()
