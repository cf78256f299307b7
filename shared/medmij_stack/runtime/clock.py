"""The virtual clock of a simulation world: months pass in minutes.

A world with ``simulation = true`` (``[world]``) gives every service it starts (the
Stelselnode, the collector, every PGO, authorisation server and resource server) a
:class:`VirtualClock` instead of the system clock (``medmij_stack.wiring.roles``). It reads
the time as the system clock plus an offset kept in ``<data-dir>/virtual-clock.json``, a file
only ``medmij simulate`` writes (:func:`advance_to`). Every process of the stack reads the
same file, so all of them read the same time, give or take the moment a jump is seen.

Why this is safe:

* only a simulation world reads the file, and a world with ``simulation = true`` must also
  be ``development = true`` (the world refuses otherwise, so ``medmij up`` never starts one);
* no service has a route, header or parameter that writes or moves it: the offset comes
  from the operator's own data dir, which a request cannot reach;
* the clock never runs backwards (:func:`advance_to` refuses an earlier time), so lifetimes
  counted by it (codes, tokens, sessions, flows, the six-month lapse of a refresh token)
  only ever expire sooner, never get extended.

The file is read on every call (a ``stat`` and, when it changed, a small read), so a
service sees a jump as soon as it is written; writes are atomic (a rename).

This module is the runtime kit's, so every service can take the clock without importing
the wiring; ``medmij_stack.wiring.clock`` names the same objects. A service's app factory
takes a :data:`medmij_stack.protocol.funnel.Clock` (``clock=``, default the system clock)
and reads every time of day from it; durations (timeouts, latency, retry delays) stay on
the monotonic clock.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["CLOCK_FILE", "ClockError", "VirtualClock", "advance_to", "read_offset"]

CLOCK_FILE = "virtual-clock.json"


class ClockError(ValueError):
    """The clock file is unusable, or a move would turn time back."""


def _path(data_dir: Path) -> Path:
    return data_dir / CLOCK_FILE


def read_offset(data_dir: Path) -> timedelta:
    """The offset in ``data_dir``'s clock file; zero when there is none."""
    path = _path(data_dir)
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return timedelta(0)
    except (OSError, ValueError) as exc:
        raise ClockError(f"{path} cannot be read: {exc}") from exc
    seconds = data.get("offset_seconds") if isinstance(data, dict) else None
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        raise ClockError(f"{path}: 'offset_seconds' is not a number")
    return timedelta(seconds=seconds)


def advance_to(data_dir: Path, moment: datetime) -> timedelta:
    """Let the virtual clock of ``data_dir`` read ``moment`` now; returns the new offset.

    Refuses to turn the clock back: a virtual time earlier than it reads now is a
    :class:`ClockError`.
    """
    if moment.tzinfo is None:
        raise ClockError("a virtual time must carry its UTC offset")
    now = datetime.now(UTC)
    current = now + read_offset(data_dir)
    if moment < current:
        raise ClockError(
            f"the virtual clock reads {current.isoformat()}; it never goes back "
            f"(to {moment.isoformat()})"
        )
    offset = moment - now
    path = _path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(
        json.dumps({"offset_seconds": offset.total_seconds(), "set_to": moment.isoformat()}),
        "utf-8",
    )
    os.replace(temporary, path)
    return offset


class VirtualClock:
    """A :data:`medmij_stack.protocol.funnel.Clock`: system time plus the file's offset."""

    def __init__(self, data_dir: Path) -> None:
        self._path = _path(data_dir)
        self._data_dir = data_dir
        self._seen: tuple[int, int, int] | None = None
        self._offset = timedelta(0)

    def _current_offset(self) -> timedelta:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            self._seen, self._offset = None, timedelta(0)
            return self._offset
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen != self._seen:
            self._offset = read_offset(self._data_dir)
            self._seen = seen
        return self._offset

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self._current_offset()
