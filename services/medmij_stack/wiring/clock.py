"""The virtual clock of a simulation world: months pass in minutes.

A world with ``simulation = true`` (``[world]``, :class:`medmij_stack.wiring.world.WorldInfo`)
gives its PGOs a :class:`VirtualClock` instead of the system clock (``medmij_stack.wiring.roles``).
It reads the time as the system clock plus an offset kept in ``<data-dir>/virtual-clock.json``,
a file only ``medmij simulate`` writes (:func:`advance_to`).

Why this is safe:

* only a simulation world reads the file, and a world with ``simulation = true`` must also
  be ``development = true`` (the world refuses otherwise, so ``medmij up`` never starts one);
* no service has a route, header or parameter that writes or moves it: the offset comes
  from the operator's own data dir, which a request cannot reach;
* the clock never runs backwards (:func:`advance_to` refuses an earlier time), so lifetimes
  counted by it (sessions, states, the abandoned-attempt sweep, the refresh of langdurige
  toestemming, the six-month lapse) only ever expire sooner, never get extended.

The file is read on every call (a ``stat`` and, when it changed, a small read), so a
service sees a jump as soon as it is written; writes are atomic (a rename).

What follows the virtual clock: everything in the PGOs (``medmij_stack.pgo.runtime`` takes
the clock): the funnel events and the PGO's ketenlog records (so the months of every report
made from the PGO's store), web sessions, the state of an attempt at the DVA, the sweep of
abandoned attempts, the refresh of langdurige toestemming after ``consent_refresh_days``
and its lapse after ``consent_lapse_months``. What does not (yet): the authorisation
server (codes, access and refresh tokens, its ketenlog), the resource server and its
ketenlog, the collector and the Stelselnode's list publication read the system clock; their
app factories take no clock. So the DVA's records of a simulation carry real time, and the
report's reconciliation of the DVA's counts against the PGO's differs per month.
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
