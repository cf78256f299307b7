"""The event loop every long-running process of the stack runs on.

Servers and the simulator run on uvloop where it is installed (``uvicorn[standard]``
brings it everywhere but Windows): its transports, TLS included, are written in Cython,
where asyncio's own SSL protocol is Python code that runs for every record sent and
received. The stack spends most of its CPU on HTTPS between its services, so this is the
loop they get; without uvloop it is asyncio's, and nothing else changes.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["loop_factory", "run"]

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor, or None (asyncio's default loop) where it is missing."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop of :func:`loop_factory`.

    What exists by now (modules, the FHIR models and their pydantic schemas, the app) lives
    as long as the process: ``gc.freeze`` takes it out of the cyclic collector's reach, which
    otherwise walked all of it again at every full collection (some 0.14 s each in a PGO).
    """
    gc.freeze()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
