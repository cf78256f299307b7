"""The collector over mutual TLS: who may deliver, what it takes, what it refuses, what it keeps.

Every request goes over real HTTPS to the collector of ``conftest.running_collector``, with the
dev PKI's client certificates; the Whitelist comes from the world's real Stelselnode.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from medmij_stack.protocol.ketenlog import EventType, Record

from .conftest import (
    AUTHSERVER,
    FRONT,
    MAX_BYTES,
    MAX_RECORDS,
    PAGE,
    PGO,
    READER,
    STRANGER,
    UNTRUSTED_PGO,
    CollectorWorld,
    entry,
    fresh_sequences,
    record,
)


def deliver(
    world: CollectorWorld, body: Any, *, as_host: str = PGO, content: bytes | None = None
) -> httpx.Response:
    with world.client(as_host) as client:
        if content is not None:
            return client.post(
                world.delivery_url, content=content, headers={"content-type": "application/json"}
            )
        return client.post(world.delivery_url, json=body)


def held(world: CollectorWorld, as_host: str = PGO, **params: Any) -> dict[str, Any]:
    with world.client(as_host) as client:
        response = client.get(world.records_url, params=params)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def held_sequences(world: CollectorWorld, sender: str = PGO) -> dict[int, dict[str, Any]]:
    """Every record the collector holds from ``sender``, by sequence (read page by page)."""
    found: dict[int, dict[str, Any]] = {}
    after = 0
    while True:
        page = held(world, READER, sender=sender, after=after)
        for item in page["records"]:
            found[item["sequence"]] = item["record"]
        if page["next"] is None:
            return found
        after = page["next"]


# --- delivering ----------------------------------------------------------------------------------


def test_a_batch_is_stored_and_read_back_as_sent(collector_world: CollectorWorld) -> None:
    first, second = fresh_sequences(2)
    sent = {
        first: record(EventType.SEND_TOKEN_REQUEST, request_id="r-1"),
        second: record(EventType.RECEIVE_TOKEN_RESPONSE, request_id="r-1", status=200),
    }
    response = deliver(collector_world, {"records": [entry(s, d) for s, d in sent.items()]})
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 2, "stored": 2, "duplicates": 0}
    assert response.headers["cache-control"] == "no-store"
    stored = held_sequences(collector_world)
    for sequence, document in sent.items():
        assert stored[sequence] == document
        assert Record.from_json(stored[sequence]) == Record.from_json(document)


def test_a_bare_array_is_a_batch_too(collector_world: CollectorWorld) -> None:
    (sequence,) = fresh_sequences(1)
    response = deliver(collector_world, [entry(sequence, record())])
    assert response.json() == {"received": 1, "stored": 1, "duplicates": 0}
    assert sequence in held_sequences(collector_world)


def test_a_batch_sent_again_stores_nothing_twice(collector_world: CollectorWorld) -> None:
    sequences = fresh_sequences(3)
    batch = [entry(s, record(trace_id=f"t-{s}")) for s in sequences]
    assert deliver(collector_world, batch).json()["stored"] == 3
    before = len(held_sequences(collector_world))
    again = deliver(collector_world, batch)
    assert again.status_code == 200
    assert again.json() == {"received": 3, "stored": 0, "duplicates": 3}
    # Partly new: only the new one is stored.
    (extra,) = fresh_sequences(1)
    mixed = deliver(collector_world, [*batch, entry(extra, record())])
    assert mixed.json() == {"received": 4, "stored": 1, "duplicates": 3}
    assert len(held_sequences(collector_world)) == before + 1


def test_a_delivery_id_held_with_another_record_refuses_the_whole_batch(
    collector_world: CollectorWorld,
) -> None:
    taken, new = fresh_sequences(2)
    assert deliver(collector_world, [entry(taken, record(trace_id="original"))]).status_code == 200
    response = deliver(
        collector_world,
        [entry(new, record()), entry(taken, record(trace_id="something else"))],
    )
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conflict"
    assert (body["record"], body["member"]) == (1, "sequence")
    assert str(taken) in body["error_description"]
    stored = held_sequences(collector_world)
    assert new not in stored  # all or nothing
    assert stored[taken]["event"]["trace_id"] == "original"


def test_the_authorisation_server_delivers_its_front_channel_events_too(
    collector_world: CollectorWorld,
) -> None:
    front, back = fresh_sequences(2)
    batch = [
        entry(front, record(EventType.SHOW_LANDING_PAGE, location=FRONT), sender=AUTHSERVER),
        entry(back, record(EventType.SEND_TOKEN_RESPONSE, location=AUTHSERVER), sender=AUTHSERVER),
    ]
    response = deliver(collector_world, batch, as_host=AUTHSERVER)
    assert response.json()["stored"] == 2
    assert set(held_sequences(collector_world, AUTHSERVER)) >= {front, back}


# --- who may deliver -----------------------------------------------------------------------------


def test_no_node_delivers_in_another_nodes_name(collector_world: CollectorWorld) -> None:
    mine, theirs = fresh_sequences(2)
    batch = [entry(mine, record()), entry(theirs, record(location=AUTHSERVER), sender=AUTHSERVER)]
    response = deliver(collector_world, batch)
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "access_denied"
    assert (body["record"], body["member"]) == (1, "sender")
    assert AUTHSERVER in body["error_description"]
    assert PGO in body["error_description"]
    assert mine not in held_sequences(collector_world)


def test_no_node_records_events_under_another_nodes_location(
    collector_world: CollectorWorld,
) -> None:
    (sequence,) = fresh_sequences(1)
    # The PGO may not speak for the DVA's front channel; only the authorisation server may.
    response = deliver(collector_world, [entry(sequence, record(location=FRONT))])
    assert response.status_code == 403
    body = response.json()
    assert (body["record"], body["member"]) == (0, "record.event.location")
    assert FRONT in body["error_description"]


@pytest.mark.parametrize("host", [STRANGER, UNTRUSTED_PGO, None])
def test_only_nodes_on_the_whitelist_reach_the_collector(
    collector_world: CollectorWorld, host: str | None
) -> None:
    (sequence,) = fresh_sequences(1)
    batch = [entry(sequence, record(location=host or PGO), sender=host or PGO)]
    with collector_world.client(host) as client:
        delivered = client.post(collector_world.delivery_url, json=batch)
        read = client.get(collector_world.records_url)
    for response in (delivered, read):
        assert response.status_code == 403
        assert response.json()["error"] == "access_denied"
    assert sequence not in held_sequences(collector_world, host or PGO)


def test_health_answers_without_a_certificate(collector_world: CollectorWorld) -> None:
    with collector_world.client() as client:
        response = client.get(f"{collector_world.collector_url}/health")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["service"]) == ("ok", "collector")
    assert body["lists"]["whitelist"]["volgnummer"] == 1


# --- what it refuses -----------------------------------------------------------------------------

STAMP = "2026-01-15T12:00:00+00:00"


def _event(**changes: Any) -> dict[str, Any]:
    event = {
        "type": "send_token_request",
        "location": PGO,
        "datetime": STAMP,
        "session_id": None,
        "trace_id": "trace",
    }
    event.update(changes)
    return {key: value for key, value in event.items() if value is not ...}


BAD_ENTRIES: list[tuple[str, dict[str, Any], str]] = [
    ("not an object", [1, 2], ""),  # type: ignore[list-item]
    ("no sender", {"sequence": 1, "record": {"event": _event()}}, "sender"),
    ("sequence zero", {"sender": PGO, "sequence": 0, "record": {"event": _event()}}, "sequence"),
    ("sequence true", {"sender": PGO, "sequence": True, "record": {"event": _event()}}, "sequence"),
    ("sequence text", {"sender": PGO, "sequence": "7", "record": {"event": _event()}}, "sequence"),
    ("sequence too big", {"sender": PGO, "sequence": 2**63, "record": {"event": _event()}},
     "sequence"),
    ("no record", {"sender": PGO, "sequence": 1}, "record"),
    ("no event", {"sender": PGO, "sequence": 1, "record": {}}, "record.event"),
    ("unknown event", {"sender": PGO, "sequence": 1, "record": {"event": _event(type="x")}},
     "record.event.type"),
    ("no offset", {"sender": PGO, "sequence": 1,
                   "record": {"event": _event(datetime="2026-01-15T12:00:00")}},
     "record.event.datetime"),
    ("no datetime", {"sender": PGO, "sequence": 1, "record": {"event": _event(datetime=...)}},
     "record.event.datetime"),
    ("no trace", {"sender": PGO, "sequence": 1, "record": {"event": _event(trace_id="")}},
     "record.event.trace_id"),
    ("no session member", {"sender": PGO, "sequence": 1,
                           "record": {"event": _event(session_id=...)}},
     "record.event.session_id"),
    ("long trace", {"sender": PGO, "sequence": 1, "record": {"event": _event(trace_id="t" * 256)}},
     "record.event.trace_id"),
    ("status text", {"sender": PGO, "sequence": 1,
                     "record": {"event": _event(), "response": {"status": "200"}}},
     "record.response.status"),
    ("service id text", {"sender": PGO, "sequence": 1,
                         "record": {"event": _event(), "request": {"service_id": "48"}}},
     "record.request.service_id"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("bad", "member"),
    [pytest.param(bad, member, id=name) for name, bad, member in BAD_ENTRIES],
)
def test_a_bad_record_refuses_the_batch_naming_the_record_and_member(
    collector_world: CollectorWorld, bad: Any, member: str
) -> None:
    (good,) = fresh_sequences(1)
    if isinstance(bad, dict) and type(bad.get("sequence")) is int and bad["sequence"] == 1:
        bad = {**bad, "sequence": fresh_sequences(1)[0]}
    response = deliver(collector_world, [entry(good, record()), bad])
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_record"
    assert body["record"] == 1
    assert body.get("member", "") == member
    assert body["error_description"].startswith("record 1: ")
    assert good not in held_sequences(collector_world)


def test_a_sequence_twice_in_one_batch_is_refused(collector_world: CollectorWorld) -> None:
    (sequence,) = fresh_sequences(1)
    response = deliver(collector_world, [entry(sequence, record()), entry(sequence, record())])
    assert response.status_code == 422
    assert (response.json()["record"], response.json()["member"]) == (1, "sequence")
    assert "twice" in response.json()["error_description"]


@pytest.mark.parametrize(
    ("content", "description"),
    [
        (b"{not json", "not JSON"),
        (b'{"entries": []}', "records"),
        (b'"records"', "records"),
        (b"[" * 9000 + b"]" * 9000, "nested too deeply"),  # deeper than any batch
    ],
)
def test_a_body_that_is_no_batch_is_a_bad_request(
    collector_world: CollectorWorld, content: bytes, description: str
) -> None:
    response = deliver(collector_world, None, content=content)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert description in body["error_description"]
    assert "record" not in body


def test_a_batch_must_be_json(collector_world: CollectorWorld) -> None:
    with collector_world.client(PGO) as client:
        response = client.post(
            collector_world.delivery_url, content=b"[]", headers={"content-type": "text/plain"}
        )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_too_many_bytes_is_413_and_nothing_is_stored(collector_world: CollectorWorld) -> None:
    sequences = fresh_sequences(5)
    padding = "x" * (MAX_BYTES // 4)
    batch = [entry(s, {**record(), "extra": padding}) for s in sequences]
    assert len(json.dumps(batch)) > MAX_BYTES
    response = deliver(collector_world, batch)
    assert response.status_code == 413
    body = response.json()
    assert body["error"] == "too_large"
    assert str(MAX_BYTES) in body["error_description"]
    assert not set(sequences) & set(held_sequences(collector_world))


def test_too_many_records_is_413(collector_world: CollectorWorld) -> None:
    sequences = fresh_sequences(MAX_RECORDS + 1)
    response = deliver(collector_world, [entry(s, record()) for s in sequences])
    assert response.status_code == 413
    assert str(MAX_RECORDS) in response.json()["error_description"]
    assert deliver(collector_world, [entry(s, record()) for s in sequences[:-1]]).status_code == 200


def test_unknown_members_are_kept(collector_world: CollectorWorld) -> None:
    # The central schema may grow: what a record carries beyond the model is not lost.
    (sequence,) = fresh_sequences(1)
    document = {**record(), "extension": {"sub": [1, 2]}}
    assert deliver(collector_world, [entry(sequence, document)]).status_code == 200
    assert held_sequences(collector_world)[sequence] == document


def test_other_paths_and_methods_answer_json(collector_world: CollectorWorld) -> None:
    with collector_world.client(PGO) as client:
        missing = client.get(f"{collector_world.collector_url}/nothing")
        wrong = client.get(collector_world.delivery_url)
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert (wrong.status_code, wrong.json()["error"]) == (405, "method_not_allowed")


# --- reading back --------------------------------------------------------------------------------


def test_a_node_reads_only_what_it_delivered(collector_world: CollectorWorld) -> None:
    mine, theirs = fresh_sequences(2)
    deliver(collector_world, [entry(mine, record())])
    deliver(
        collector_world,
        [entry(theirs, record(location=AUTHSERVER), sender=AUTHSERVER)],
        as_host=AUTHSERVER,
    )
    own = held(collector_world, PGO, limit=PAGE)
    senders = set()
    after = 0
    while True:
        page = held(collector_world, PGO, after=after)
        senders |= {item["sender"] for item in page["records"]}
        if page["next"] is None:
            break
        after = page["next"]
    assert senders == {PGO}
    assert own["records"]
    with collector_world.client(PGO) as client:
        refused = client.get(collector_world.records_url, params={"sender": AUTHSERVER})
    assert refused.status_code == 403
    assert theirs in held_sequences(collector_world, AUTHSERVER)  # the reader sees everyone's


def test_reading_pages_in_order_of_arrival(collector_world: CollectorWorld) -> None:
    sequences = fresh_sequences(PAGE + 3)
    assert deliver(collector_world, [entry(s, record()) for s in sequences]).status_code == 200
    everything = held_sequences(collector_world)
    assert set(sequences) <= set(everything)
    page = held(collector_world, READER, limit=3)
    assert len(page["records"]) == 3
    ids = [item["id"] for item in page["records"]]
    assert ids == sorted(ids)
    assert page["next"] == ids[-1]
    following = held(collector_world, READER, limit=3, after=page["next"])
    assert following["records"][0]["id"] > ids[-1]
    # The page size is bounded whatever is asked.
    assert len(held(collector_world, READER, limit=10_000)["records"]) <= PAGE


def test_reading_by_event_time(collector_world: CollectorWorld) -> None:
    january, february = fresh_sequences(2)
    batch = [
        entry(january, record(at=datetime(2025, 1, 31, 23, 59, tzinfo=UTC), trace_id="jan")),
        entry(february, record(at=datetime(2025, 2, 1, 0, 0, tzinfo=UTC), trace_id="feb")),
    ]
    assert deliver(collector_world, batch).status_code == 200
    page = held(
        collector_world, READER, **{"from": "2025-02-01T00:00:00+00:00", "to": "2025-03-01T00:00Z"}
    )
    assert [item["sequence"] for item in page["records"]] == [february]
    assert page["records"][0]["received_at"].endswith("+00:00")


@pytest.mark.parametrize(
    "params",
    [{"after": "-1"}, {"after": "x"}, {"limit": "0"}, {"from": "2025-02-01"}, {"to": "gisteren"}],
)
def test_bad_read_parameters_are_a_bad_request(
    collector_world: CollectorWorld, params: dict[str, str]
) -> None:
    with collector_world.client(READER) as client:
        response = client.get(collector_world.records_url, params=params)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert next(iter(params)) in response.json()["error_description"]
