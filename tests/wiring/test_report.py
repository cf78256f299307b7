"""`medmij report` against a real `medmij up` (one per session, tests/wiring/conftest.py).

A `medmij demo` runs through the stack's own pages; afterwards the report has grown by exactly
what the demo did, its files are there, the page opens offline, the XML fits the reporting
XSDs, and the DVA's records reached the collector over mutual TLS exactly as the services
stored them.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from typer.testing import CliRunner, Result

from medmij_stack.protocol.reporting import DUTCH_TIME, Month
from medmij_stack.protocol.reporting.schemas import (
    BEHEERRAPPORT_XSD,
    DVP_RAPPORTAGE_XSD,
    schema_document,
)
from medmij_stack.wiring.cli import app
from medmij_stack.wiring.report_stores import find_stores, read_store
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

FILES = {
    "rapport.html",
    "figures.json",
    "maanden.csv",
    "stappen.csv",
    "redenen.csv",
    "latency.csv",
    "reconciliatie.csv",
    "bronnen.csv",
}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="medmij", env={"COLUMNS": "200"})


def said(result: Result) -> str:
    return " ".join((result.stdout + result.stderr).split())


def this_month() -> str:
    return str(Month.of(datetime.now(UTC), DUTCH_TIME))


def make_report(stack: RunningStack, out: Path, month: str | None = None) -> dict[str, Any]:
    chosen = month or this_month()
    result = invoke(
        "report", "--data-dir", str(stack.data_dir), "--from", chosen, "--to", chosen,
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, said(result)
    document = json.loads((out / "figures.json").read_text("utf-8"))
    assert isinstance(document, dict)
    return document


def settled_report(stack: RunningStack, out: Path) -> dict[str, Any]:
    """The report once every record is where it goes: the collector holds what the services
    stored (delivery takes seconds), and the services have stored what they queued (the
    resource server writes its ketenlog in batches, every half second): two reports a
    second apart agree with the sources and count the same."""
    deadline = time.monotonic() + 60
    previous: dict[str, Any] | None = None
    while True:
        document = make_report(stack, out)
        settled = document["source_check"]["agrees"] and (
            previous is not None and previous["reconciliation"] == document["reconciliation"]
        )
        if settled or time.monotonic() > deadline:
            return document
        previous = document if document["source_check"]["agrees"] else None
        time.sleep(1)


def totals(document: dict[str, Any]) -> dict[str, int]:
    users = document["total"]["outcome_users"]
    return {k: int(v) for k, v in users.items()}


@pytest.fixture(scope="module")
def before_and_after(
    running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], Path]:
    """The report before and after one `medmij demo`, the demo's JSON, and the last report's
    folder. (Other wiring tests may have used the stack before: the demo's share is the
    difference.)"""
    before = settled_report(running_stack, tmp_path_factory.mktemp("before"))
    demo = invoke("demo", "--data-dir", str(running_stack.data_dir), "--json")
    assert demo.exit_code == 0, said(demo)
    outcome = json.loads(demo.stdout)
    out = tmp_path_factory.mktemp("after")
    after = settled_report(running_stack, out)
    return before, after, outcome, out


def test_the_report_grows_by_what_the_demo_did(
    before_and_after: tuple[dict[str, Any], dict[str, Any], dict[str, Any], Path],
) -> None:
    before, after, demo, _ = before_and_after
    succeeded = [z for z in demo["zorgaanbieders"] if z["outcome"] == "succes"]
    assert succeeded, "the demo fetched nothing"
    grown = {k: totals(after)[k] - totals(before)[k] for k in totals(after)}
    assert grown["attempts_succeeded"] == len(succeeded)
    assert grown["attempts_failed"] == 0
    # One demo is one person: at most one more user, and that person is now counted.
    assert grown["users_with_success"] in (0, 1)
    assert totals(after)["users_with_success"] >= 1
    if totals(before)["users"] == 0:
        assert totals(after)["users"] == 1
        assert totals(after)["users_with_success"] == 1
    # Every attempt passed every step.
    steps = after["total"]["steps"]["steps"]
    assert [s["step"] for s in steps] == ["zorgaanbieder-zoeken", "digid", "uitwisseling"]
    # Per zorgaanbieder: the demo's successes are there.
    groups = {g["key"]: g for g in after["total"]["breakdowns"]["zorgaanbieder"]}
    for found in succeeded:
        assert groups[found["zorgaanbieder"]]["succeeded"] >= 1
    # Tokens and resource answers were timed, and the DVA's count equals the PGO's.
    assert after["total"]["latency"]["token"]["count"] >= len(succeeded)
    assert after["total"]["latency"]["resource"]["count"] >= len(succeeded)
    # The demo went through our PGO only, so it leaves the DVA-versus-PGO gap as it was.
    # (The gap itself need not be zero: on a stack shared with other tests, clients other
    # than our PGO — the token-based engine, curl-like tests — used the DVA as well, and the
    # report shows exactly that as a mismatch rather than hiding it.)
    assert gap(after) == gap(before), (before["reconciliation"], after["reconciliation"])
    if before["reconciliation"]["agrees"]:
        assert after["reconciliation"]["agrees"] is True, after["reconciliation"]["totals"]


def gap(report: dict[str, Any]) -> dict[str, int]:
    """Per kind of count (codes, tokens, resource answers, …): the DVA's minus the PGO's."""
    found: dict[str, int] = {}
    for row in report["reconciliation"]["totals"]:
        found[row["kind"]] = found.get(row["kind"], 0) + row["dva"] - row["pgo"]
    return found


def test_the_collector_agrees_with_the_dva_s_own_stores(
    before_and_after: tuple[dict[str, Any], dict[str, Any], dict[str, Any], Path],
) -> None:
    _, after, _, out = before_and_after
    check = after["source_check"]
    assert check["available"] is True
    assert check["agrees"] is True, check
    assert check["only_own_stores"] == []
    assert check["only_collector"] == []
    events = {c["event"] for c in check["counts"]}
    # The authorisation server's and the resource server's events both reached it.
    assert {"send_token_response", "receive_resource_request", "send_resource_response"} <= events
    assert all(c["own_stores"] == c["collector"] for c in check["counts"])
    assert (out / "bronnen.csv").read_text("utf-8").startswith("maand,locatie,event,")


def test_the_authserver_records_in_the_collector_equal_its_own_store(
    running_stack: RunningStack,
    before_and_after: tuple[dict[str, Any], dict[str, Any], dict[str, Any], Path],
) -> None:
    """Delivery over mutual TLS: what the collector holds from the authorisation server is
    its whole ketenlog, record for record, in order."""
    stores = find_stores(running_stack.data_dir)
    (authserver,) = stores.of("authserver")
    (collector,) = stores.of("collector")
    deadline = time.monotonic() + 30
    while True:
        own = read_store(authserver).ketenlog
        held = read_store(collector)
        # The sender is the back channel's host; it records its front channel's events too.
        back = {r.event.location for r in own if r.event.type.value.startswith("send_token")}
        delivered = [
            r for r, sender in zip(held.ketenlog, held.senders, strict=True) if sender in back
        ]
        if delivered == own or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert own
    assert delivered == own


def test_the_files_are_written_and_the_xml_fits_the_xsds(
    before_and_after: tuple[dict[str, Any], dict[str, Any], dict[str, Any], Path],
) -> None:
    _, after, _, out = before_and_after
    month = this_month()
    names = {p.name for p in out.iterdir()}
    assert names == FILES | {f"dvp-rapportage-{month}.xml", f"beheerrapport-{month}.xml"}
    for name, xsd in ((f"dvp-rapportage-{month}.xml", DVP_RAPPORTAGE_XSD),
                      (f"beheerrapport-{month}.xml", BEHEERRAPPORT_XSD)):  # fmt: skip
        schema = etree.XMLSchema(schema_document(xsd))
        document = etree.parse(str(out / name))
        assert schema.validate(document), schema.error_log
    dvp = etree.parse(str(out / f"dvp-rapportage-{month}.xml"))
    record = after["months"][0]["dvp_data_record"]
    assert dvp.findtext("DataRecord/AantalSuccesvol") == str(record["AantalSuccesvol"])
    maanden = (out / "maanden.csv").read_text("utf-8").splitlines()
    assert maanden[0].startswith("maand,gebruikers,")
    assert maanden[1].split(",")[:2] == [month, str(after["months"][0]["outcome_users"]["users"])]


def test_the_page_opens_offline_and_shows_the_figures(
    before_and_after: tuple[dict[str, Any], dict[str, Any], dict[str, Any], Path],
) -> None:
    _, after, _, out = before_and_after
    page = (out / "rapport.html").read_text("utf-8")
    assert re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page) == []
    assert "<script" not in page
    assert "<link" not in page  # the CSS is inline
    assert '<html lang="nl">' in page
    assert page.count("<svg") == 5
    for title in ("Trechter per processtap", "Gebruikers per maand", "Redenen van mislukken",
                  "Tokenverzoeken: responstijd", "Gegevensverzoeken: responstijd"):  # fmt: skip
        assert title in page
    users = after["total"]["outcome_users"]
    assert f"Gebruikers<strong>{users['users']}</strong>" in page
    assert f"Geslaagde pogingen<strong>{users['attempts_succeeded']}</strong>" in page
    assert "ze komen overeen" in page


def test_a_month_without_events_is_a_report_of_zeros(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    document = make_report(running_stack, tmp_path, "2020-01")
    (month,) = document["months"]
    assert month["month"] == "2020-01"
    assert set(month["outcome_users"].values()) == {0}
    assert month["latency"]["token"]["count"] == 0
    assert all(t["dva"] == 0 and t["pgo"] == 0 for t in document["reconciliation"]["totals"])
    schema = etree.XMLSchema(schema_document(DVP_RAPPORTAGE_XSD))
    assert schema.validate(etree.parse(str(tmp_path / "dvp-rapportage-2020-01.xml")))
    assert "geen gegevens in deze periode" in (tmp_path / "rapport.html").read_text("utf-8")


def test_a_data_dir_that_is_no_stack_s_is_refused_with_exit_2(tmp_path: Path) -> None:
    result = invoke("report", "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "is not the data dir of a stack" in said(result)
    assert not (tmp_path / "out").exists()


def test_a_month_that_is_no_month_is_refused_with_exit_2(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    result = invoke(
        "report", "--data-dir", str(running_stack.data_dir), "--from", "2026-13",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--from/--to" in said(result)
