"""Publishing lists with a Volgnummer that only ever rises.

"Bij een wijziging in een lijst die tot hernieuwde publicatie leidt, wordt het
volgnummer van de lijst met één opgehoogd" (XML-schema's, rule 2). The Stelselnode keeps,
per list, the Volgnummer, Tijdstempel and a digest of the content it last published in a
small state file, so that a restart with the same world republishes the same document
byte for byte, and a restart with a changed world publishes Volgnummer + 1, with a
Tijdstempel later than the one before even when the clock was set back.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from medmij_stack.protocol.lists import ListKind, MedMijList, parse_list, write_list

__all__ = ["Published", "StateError", "publish"]

_NEUTRAL_TIME = datetime(2000, 1, 1, tzinfo=UTC)


class StateError(RuntimeError):
    """The state file of earlier publications cannot be read; nothing is published."""


@dataclass(frozen=True)
class Published:
    kind: ListKind
    volgnummer: int
    tijdstempel: datetime
    document: bytes
    digest: str  # of the content, apart from Volgnummer and Tijdstempel


def _content_digest(lst: MedMijList) -> str:
    neutral = replace(lst, volgnummer=1, tijdstempel=_NEUTRAL_TIME)
    return hashlib.sha256(write_list(neutral)).hexdigest()


def _load_state(path: Path) -> dict[str, dict[str, str | int]]:
    """The state file, checked entry by entry.

    A damaged file is an error, not a fresh start: a Stelselnode that forgot its
    Volgnummers would publish 1 again, which every receiver holding a higher one refuses.
    """
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read the Stelselnode state {path}: {exc}") from exc
    try:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        for name, entry in data.items():
            if not isinstance(entry, dict):
                raise ValueError(f"{name} is not a JSON object")
            volgnummer, digest = entry.get("volgnummer"), entry.get("digest")
            if not isinstance(volgnummer, int) or isinstance(volgnummer, bool) or volgnummer < 1:
                raise ValueError(f"{name}: volgnummer {volgnummer!r} is not a positive integer")
            if not isinstance(digest, str):
                raise ValueError(f"{name}: digest {digest!r} is not a string")
            tijdstempel = datetime.fromisoformat(str(entry.get("tijdstempel")))
            if tijdstempel.tzinfo is None:
                raise ValueError(f"{name}: tijdstempel {tijdstempel} has no time zone")
    except ValueError as exc:
        raise StateError(f"cannot read the Stelselnode state {path}: {exc}") from exc
    return data


def _save_state(path: Path, state: Mapping[str, Mapping[str, str | int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True), "utf-8")
    os.replace(temporary, path)  # atomic: a crash never leaves half a state file


def publish(
    desired: Mapping[ListKind, MedMijList],
    state_file: Path,
    *,
    development: bool,
    now: datetime | None = None,
) -> dict[ListKind, Published]:
    """Give each desired list its Volgnummer and Tijdstempel, and serialise it.

    Every document is validated against its XSD before it is published: the Stelselnode
    never hands out a list that a receiver would have to refuse.
    """
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    state = _load_state(state_file)
    result: dict[ListKind, Published] = {}
    for kind, lst in desired.items():
        digest = _content_digest(lst)
        previous = state.get(kind.name, {})
        if previous.get("digest") == digest:
            volgnummer = int(previous["volgnummer"])
            tijdstempel = datetime.fromisoformat(str(previous["tijdstempel"]))
        else:
            volgnummer = int(previous.get("volgnummer", 0)) + 1
            tijdstempel = moment
            if "tijdstempel" in previous:
                # Receivers refuse a Tijdstempel that goes backwards
                # (medmij_stack.protocol.lists.succession): a clock set back must not
                # make every later list unacceptable.
                earlier = datetime.fromisoformat(str(previous["tijdstempel"]))
                tijdstempel = max(moment, earlier + timedelta(seconds=1))
        document = write_list(replace(lst, volgnummer=volgnummer, tijdstempel=tijdstempel))
        parse_list(kind, document, development=development)  # raises if we would publish junk
        result[kind] = Published(kind, volgnummer, tijdstempel, document, digest)
        state[kind.name] = {
            "volgnummer": volgnummer,
            "tijdstempel": tijdstempel.isoformat(),
            "digest": digest,
        }
    _save_state(state_file, state)
    return result
