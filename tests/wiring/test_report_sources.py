"""`medmij report` on stores made here (no running stack): the source check finds what the
collector lacks, a stack without a collector is said to have nothing to compare with, and
the PGO's visits and consents reach the DVP-rapportage."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medmij_stack.authserver.db import Database as AuthserverDatabase
from medmij_stack.authserver.eventlog import Ketenlog
from medmij_stack.collector.batch import Entry, canonical
from medmij_stack.collector.store import CollectorStore
from medmij_stack.pgo.db import Database as PgoDatabase
from medmij_stack.protocol.ketenlog import Event, EventType, Record, RequestInfo, ResponseInfo
from medmij_stack.wiring.cli import app

AT = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
BACK = "api.dva.localhost"


def record(kind: EventType, trace: str, request: str) -> Record:
    return Record(
        Event(kind, BACK, AT, None, trace),
        RequestInfo(id=request, client_id="pgo.localhost"),
        ResponseInfo(id=request, status=200) if kind is EventType.SEND_TOKEN_RESPONSE else None,
    )


def make_stack(base: Path, *, delivered: int | None) -> list[Record]:
    """A data dir with a PGO, an authorisation server holding two records and, unless
    ``delivered`` is None, a collector holding the first ``delivered`` of them."""
    PgoDatabase(f"sqlite:///{base / 'pgo' / 'pgo.sqlite3'}").close()
    db = AuthserverDatabase(f"sqlite:///{base / 'authserver-dva' / 'authserver.sqlite3'}")
    records = [
        record(EventType.RECEIVE_TOKEN_REQUEST, "t-1", "r-1"),
        record(EventType.SEND_TOKEN_RESPONSE, "t-1", "r-1"),
    ]
    try:
        Ketenlog(db).append(records)
    finally:
        db.close()
    if delivered is not None:
        store = CollectorStore(f"sqlite:///{base / 'collector' / 'collector.sqlite3'}")
        try:
            store.deliver(
                [
                    Entry(BACK, i + 1, r, canonical(r.to_json()))
                    for i, r in enumerate(records[:delivered])
                ],
                AT,
            )
        finally:
            store.close()
    return records


def report(base: Path, out: Path) -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        ["report", "--data-dir", str(base), "--from", "2026-11", "--out", str(out)],
        prog_name="medmij",
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    document = json.loads((out / "figures.json").read_text("utf-8"))
    assert isinstance(document, dict)
    return document


def test_what_the_collector_lacks_is_listed_and_shown(tmp_path: Path) -> None:
    records = make_stack(tmp_path / "data", delivered=1)
    document = report(tmp_path / "data", tmp_path / "out")
    check = document["source_check"]
    assert check["available"] is True
    assert check["agrees"] is False
    assert check["only_own_stores"] == [records[1].to_json()]
    assert check["only_collector"] == []
    counts = {c["event"]: (c["own_stores"], c["collector"]) for c in check["counts"]}
    assert counts == {"receive_token_request": (1, 1), "send_token_response": (1, 0)}
    # The DVA's token count of the reconciliation differs between the two sources.
    assert check["reconciliation_differences"] == [
        {"month": "2026-11", "kind": "tokens", "dva_own_stores": 1, "dva_collector": 0}
    ]
    page = (tmp_path / "out" / "rapport.html").read_text("utf-8")
    assert "ze verschillen" in page
    assert "1 record(s) in de eigen opslag die de collector (nog) niet heeft" in page
    csv = (tmp_path / "out" / "bronnen.csv").read_text("utf-8").splitlines()
    assert f"2026-11,{BACK},send_token_response,1,0,-1" in csv


def test_a_collector_with_everything_agrees(tmp_path: Path) -> None:
    make_stack(tmp_path / "data", delivered=2)
    check = report(tmp_path / "data", tmp_path / "out")["source_check"]
    assert check["agrees"] is True
    assert "ze komen overeen" in (tmp_path / "out" / "rapport.html").read_text("utf-8")


def test_a_stack_without_a_collector_has_nothing_to_compare_with(tmp_path: Path) -> None:
    make_stack(tmp_path / "data", delivered=None)
    check = report(tmp_path / "data", tmp_path / "out")["source_check"]
    assert check == {
        "available": False,
        "agrees": False,
        "counts": [],
        "only_own_stores": [],
        "only_collector": [],
        "reconciliation_differences": [],
    }
    page = (tmp_path / "out" / "rapport.html").read_text("utf-8")
    assert "Deze stack heeft geen collector" in page


def test_the_stores_are_not_changed_by_reading_them(tmp_path: Path) -> None:
    """Read-only: the database files keep their bytes. (A reader of a WAL database makes the
    ``-wal`` and ``-shm`` side files SQLite needs, as any reader does; the data is in the
    ``.sqlite3`` files.)"""
    make_stack(tmp_path / "data", delivered=1)

    def databases() -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in sorted((tmp_path / "data").rglob("*.sqlite3"))}

    before = databases()
    assert len(before) == 3
    report(tmp_path / "data", tmp_path / "out")
    assert databases() == before


def test_a_database_named_by_url_replaces_the_role_s_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the services take MEDMIJ_<ROLE>_DATABASE_URL, so does the report (or --database)."""
    records = make_stack(tmp_path / "data", delivered=2)
    elsewhere = tmp_path / "elsewhere.sqlite3"
    (tmp_path / "data" / "authserver-dva" / "authserver.sqlite3").rename(elsewhere)
    # Without it the authorisation server's records are missing: the collector has more.
    missing = report(tmp_path / "data", tmp_path / "out-1")["source_check"]
    assert len(missing["only_collector"]) == len(records)
    monkeypatch.setenv("MEDMIJ_AUTHSERVER_DATABASE_URL", f"sqlite:///{elsewhere}")
    found = report(tmp_path / "data", tmp_path / "out-2")
    assert found["source_check"]["agrees"] is True
    assert found["stores"]["authserver"]["where"] == f"sqlite:///{elsewhere}"
    monkeypatch.delenv("MEDMIJ_AUTHSERVER_DATABASE_URL")
    result = CliRunner().invoke(
        app,
        ["report", "--data-dir", str(tmp_path / "data"), "--from", "2026-11",
         "--database", f"authserver=sqlite:///{elsewhere}", "--out", str(tmp_path / "out-3")],
        prog_name="medmij",
    )  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    third = json.loads((tmp_path / "out-3" / "figures.json").read_text("utf-8"))
    assert third["source_check"]["agrees"] is True


@pytest.mark.parametrize("option", ["nothing=sqlite:///x.db", "pgo"])
def test_a_database_option_that_names_no_role_is_refused_with_exit_2(
    tmp_path: Path, option: str
) -> None:
    make_stack(tmp_path / "data", delivered=None)
    result = CliRunner().invoke(
        app,
        ["report", "--data-dir", str(tmp_path / "data"), "--database", option,
         "--out", str(tmp_path / "out")],
        prog_name="medmij",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--database" in " ".join((result.stdout + result.stderr).split())
