"""A delivered batch: its shape, what every record must hold, and the refusal that names the fault.

The Implementatiehandleiding ketenlogging en monitoring (AS v2.2.X,
https://documentatie.medmij.nl/ketenmonitoring-en-logging-aanvullende-documentatie/actueel/implementatie-handleiding-ketenlogging-en-monitori)
asks for batches of JSON, at most 60 MB, each record "valide JSON met de verplichte attributen
en datatypes". EagleEye's own envelope was not recovered, so this is the reading taken::

    POST /v1/logs                         Content-Type: application/json
    {"records": [entry, …]}               or the array of entries itself: [entry, …]
    entry = {"sender":   "<host name of the delivering node>",
             "sequence": <1 … 2**63-1: the record's number in the sender's own log>,
             "record":   {<a ketenlog record, medmij_stack.protocol.ketenlog>}}

(``sender``, ``sequence``) is the record's delivery id: the collector stores it once, so a
batch sent again stores nothing new. The mandatory attributes of a record are those of
:meth:`medmij_stack.protocol.ketenlog.Record.from_json` (``event.type`` a known event,
``event.location``, ``event.datetime`` in ISO 8601 with an offset, ``event.trace_id``; the
members ``request``, ``response`` and ``error`` each with their types) plus, from the
Loggingbeleid's "datum, session-id, trace-id, identiteit van de verstuurder en ontvanger":
``event.session_id`` present (null for a step outside a person's session), and ids no longer
than 255 characters.

Who may deliver what. ``sender`` must be a host name of the client certificate the batch came
with: no node delivers in another's name. ``event.location`` must be the sender itself or a
host the collector's settings let it speak for (the authorisation server's front channel runs
in the process that holds the back channel's certificate).

The batch is all or nothing: one bad entry refuses it whole, and the answer names the first
bad entry (``record``, its index from 0) and the member at fault, so that the deliverer can
send the entries before it and set that one aside. Refusals are JSON,
``{"error", "error_description", ["record", "member"]}``:

==== ========================== ========================================================
400  ``invalid_request``        the body is not JSON, or not a batch
403  ``access_denied``          a sender or location that is not the certificate's
409  ``conflict``               a delivery id held already with another record (store)
413  ``too_large``              more bytes or entries than the collector takes
415  ``unsupported_media_type`` not ``application/json``
422  ``invalid_record``         an entry without the mandatory attributes or types
==== ========================== ========================================================
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from medmij_stack.protocol.ketenlog import KetenlogError, Record
from medmij_stack.runtime.backchannel import json_value
from medmij_stack.runtime.ketenlog_delivery import MAX_SEQUENCE

from .tables import ID_LENGTH

__all__ = ["BatchRefused", "Entry", "canonical", "parse_batch"]


class BatchRefused(Exception):
    """The batch is refused whole; ``record`` and ``member`` say where, when one entry is at
    fault."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        *,
        record: int | None = None,
        member: str | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.record = record
        self.member = member

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "error_description": self.description}
        if self.record is not None:
            body["record"] = self.record
        if self.member is not None:
            body["member"] = self.member
        return body


@dataclass(frozen=True)
class Entry:
    """One checked entry: its delivery id, the record read, and its JSON as it will be kept."""

    sender: str
    sequence: int
    record: Record
    document: str


def canonical(document: Mapping[str, Any]) -> str:
    """The record's JSON with members sorted: equal records give equal text."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _invalid(index: int, member: str, problem: str) -> BatchRefused:
    return BatchRefused(
        422, "invalid_record", f"record {index}: {problem}", record=index, member=member
    )


def _member_of(error: KetenlogError) -> str:
    """The member a ``KetenlogError`` names ("event.datetime must …"), as a path in the entry."""
    first = str(error).split(" ", 1)[0]
    return first if first == "record" or first.startswith("record.") else f"record.{first}"


def _entries(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        return list(data["records"])
    raise BatchRefused(
        400,
        "invalid_request",
        'a batch is a JSON array of entries, or an object whose "records" is one',
    )


def _sequence(index: int, item: Mapping[str, Any]) -> int:
    value = item.get("sequence")
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SEQUENCE:
        raise _invalid(
            index, "sequence", f"sequence must be a whole number from 1 to {MAX_SEQUENCE}"
        )
    return value


def _record(index: int, item: Mapping[str, Any]) -> Record:
    if "record" not in item:
        raise _invalid(index, "record", "record is missing")
    document = item["record"]
    try:
        record = Record.from_json(document)
    except KetenlogError as error:
        raise _invalid(index, _member_of(error), str(error)) from None
    if "session_id" not in document["event"]:
        raise _invalid(
            index,
            "record.event.session_id",
            "event.session_id must be present (null for a step outside a person's session)",
        )
    event = record.event
    for name, value in (
        ("location", event.location),
        ("trace_id", event.trace_id),
        ("session_id", event.session_id),
    ):
        if value is not None and len(value) > ID_LENGTH:
            raise _invalid(
                index, f"record.event.{name}", f"event.{name} is longer than {ID_LENGTH} characters"
            )
    return record


def parse_batch(
    body: bytes,
    *,
    admitted: Collection[str],
    locations: Mapping[str, Collection[str]],
    max_records: int,
) -> list[Entry]:
    """Read and check a batch delivered by a client whose certificate names ``admitted``.

    Raises :class:`BatchRefused` for the first fault found, entry by entry in order.
    """
    try:
        data = json_value(body)
    except ValueError as exc:  # not JSON, or nested deeper than any batch is
        raise BatchRefused(400, "invalid_request", f"the body is {exc}") from None
    items = _entries(data)
    if len(items) > max_records:
        raise BatchRefused(
            413,
            "too_large",
            f"the batch holds {len(items)} records; at most {max_records} are taken at once",
        )
    hosts = {name.lower() for name in admitted}
    seen: set[tuple[str, int]] = set()
    entries: list[Entry] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise BatchRefused(
                422,
                "invalid_record",
                f"record {index}: an entry is an object with sender, sequence and record",
                record=index,
            )
        sender = item.get("sender")
        if not isinstance(sender, str) or not sender:
            raise _invalid(index, "sender", "sender must be the delivering node's host name")
        sender = sender.lower()
        if sender not in hosts:
            raise BatchRefused(
                403,
                "access_denied",
                f"record {index}: sender {sender} is not the host of this client certificate "
                f"({', '.join(sorted(hosts)) or 'none'})",
                record=index,
                member="sender",
            )
        sequence = _sequence(index, item)
        if (sender, sequence) in seen:
            raise _invalid(index, "sequence", f"sequence {sequence} appears twice in this batch")
        seen.add((sender, sequence))
        record = _record(index, item)
        location = record.event.location.lower()
        if location != sender and location not in {n.lower() for n in locations.get(sender, ())}:
            raise BatchRefused(
                403,
                "access_denied",
                f"record {index}: {sender} may not deliver events of {location}",
                record=index,
                member="record.event.location",
            )
        entries.append(Entry(sender, sequence, record, canonical(item["record"])))
    return entries
