"""The mark of the last accepted list, kept in a node's data folder across restarts.

Without it a restarted node would accept Volgnummer 1 again, and an old list could be
replayed to it. One small JSON file per list (`<data_dir>/lists/<list>.json`: Volgnummer,
Tijdstempel, digest; see `medmij_stack.protocol.lists.succession.Mark`), replaced
atomically: a crash leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path

from medmij_stack.protocol.lists.models import ListKind
from medmij_stack.protocol.lists.succession import Mark

__all__ = ["ListStateError", "read_mark", "state_file", "write_mark"]


class ListStateError(RuntimeError):
    """A state file exists but cannot be read; the node does not start on a guess."""


def state_file(state_dir: Path, kind: ListKind) -> Path:
    return state_dir / f"{kind.name.lower()}.json"


def read_mark(path: Path) -> Mark | None:
    """The mark in `path`, or None when there is no file yet.

    A damaged file is an error, not a fresh start: forgetting the mark is exactly what
    would let an old list back in. The message says how to start afresh on purpose.
    """
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ListStateError(_unreadable(path, exc)) from exc
    try:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        volgnummer, digest = data.get("volgnummer"), data.get("digest")
        if not isinstance(volgnummer, int) or isinstance(volgnummer, bool) or volgnummer < 1:
            raise ValueError(f"volgnummer {volgnummer!r} is not a positive integer")
        if not isinstance(digest, str):
            raise ValueError(f"digest {digest!r} is not a string")
        tijdstempel = datetime.fromisoformat(str(data.get("tijdstempel")))
        if tijdstempel.tzinfo is None:
            raise ValueError(f"tijdstempel {tijdstempel} has no time zone")
    except ValueError as exc:
        raise ListStateError(_unreadable(path, exc)) from exc
    return Mark(volgnummer, tijdstempel, digest)


def _unreadable(path: Path, exc: Exception) -> str:
    return (
        f"cannot read the last accepted list from {path}: {exc}; remove the file to "
        "accept any Volgnummer again (only when the Stelselnode was reset on purpose)"
    )


def write_mark(path: Path, mark: Mark) -> None:
    """Replace the mark in `path` atomically (a temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    content = json.dumps(
        {
            "volgnummer": mark.volgnummer,
            "tijdstempel": mark.tijdstempel.isoformat(),
            "digest": mark.digest,
        },
        indent=2,
    )
    # A unique temporary name: two processes sharing a data folder by mistake must not
    # write into the same temporary file.
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(content + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
