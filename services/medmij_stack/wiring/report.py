"""`medmij report`: MedMij's monthly figures of a stack, from its own stores, as files.

Reads the stores of the stack at ``--data-dir`` (running or stopped;
:mod:`wiring.report_stores`), computes every figure of the months ``--from`` … ``--to``
(default: the current month, by the stack's clock: the virtual one of a simulation,
:mod:`medmij_stack.runtime.clock`) with :func:`medmij_stack.protocol.reporting.compute`, and
writes to ``--out``:

* ``rapport.html``: one self-contained page (inline CSS and SVG, no script, nothing fetched:
  it opens offline) with the funnel per process step, successful and failed users per month,
  failure reasons, back-channel latency against the norms and the source check below
  (:mod:`wiring.report_page`);
* ``figures.json``: :meth:`Figures.to_json`, plus the source check;
* CSV files (``maanden.csv``, ``stappen.csv``, ``redenen.csv``, ``latency.csv``,
  ``reconciliatie.csv``, ``bronnen.csv``);
* per month ``dvp-rapportage-YYYY-MM.xml`` (the 2026 DVP-rapportage) and
  ``beheerrapport-YYYY-MM.xml``, each validated against its XSD when it is made.

The source check. Every DVA-side figure is computed twice: from the DVA services' own
stores (the authorisation servers' and resource servers' ``ketenlog`` tables) and from the
collector alone (the records the services delivered to it,
``medmij_stack.runtime.ketenlog_delivery``). The two must agree: per month, location and
event type the counts are held side by side, every record that is in one source and not in
the other is listed, and the DVA counts of the reconciliation with the PGO are compared as
computed from each. The collector lags its senders by a delivery interval (seconds), so a
report of a running stack made just after a flow may show the newest records as not yet
delivered; a stack with no collector gets no check, and says so.

Exit codes: 0 the files were written (whatever the check found: it is shown, and listed in
``figures.json``); 2 the data dir holds no stack, or ``--from``/``--to`` are not months.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from medmij_stack.protocol.funnel import FunnelEvent
from medmij_stack.protocol.ketenlog import EventType, Record
from medmij_stack.protocol.reporting import (
    DUTCH_TIME,
    Beheerrapport,
    DvpMeta,
    DvpRapportage,
    Figures,
    LongTermConsent,
    Month,
    Period,
    ReportingError,
    Visit,
    compute,
)

from .clock import ClockError, VirtualClock
from .report_page import render_html, write_csvs
from .report_stores import (
    NotAStack,
    StackStores,
    StoreContents,
    find_stores,
    read_store,
    urls_from_environment,
)

__all__ = ["PGO_EVENTS", "Report", "SourceCheck", "build_report", "report", "write_report"]

err = Console(stderr=True)

PGO_EVENTS: frozenset[EventType] = frozenset(
    {
        EventType.SEND_AUTHORIZATION_REQUEST,
        EventType.RECEIVE_AUTHORIZATION_RESPONSE,
        EventType.RECEIVE_AUTHORIZATION_ERROR,
        EventType.SEND_TOKEN_REQUEST,
        EventType.RECEIVE_TOKEN_RESPONSE,
        EventType.RECEIVE_TOKEN_ERROR,
        EventType.SEND_RESOURCE_REQUEST,
        EventType.RECEIVE_RESOURCE_RESPONSE,
        EventType.RECEIVE_RESOURCE_REQUEST_ERROR,
        EventType.RECEIVE_RESOURCE_ERROR_RESPONSE,
    }
)
"""The DVP's (PGO's) event names; every other name is recorded by a DVA."""

LEVERANCIER = "MedMij referentiestack"


def _key(record: Record) -> str:
    return json.dumps(record.to_json(), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class SourceCount:
    """Records of one month, location and event type, in the DVA's stores and the collector."""

    month: Month
    location: str
    event: str
    own: int
    collector: int

    def to_json(self) -> dict[str, Any]:
        return {
            "month": str(self.month),
            "location": self.location,
            "event": self.event,
            "own_stores": self.own,
            "collector": self.collector,
            "difference": self.collector - self.own,
        }


@dataclass(frozen=True)
class SourceCheck:
    """The DVA-side figures from the services' own stores against the collector's."""

    available: bool
    """False when the stack has no collector: nothing to check against."""
    counts: tuple[SourceCount, ...] = ()
    only_own: tuple[Record, ...] = ()
    """DVA records in the services' stores that the collector does not hold (not yet
    delivered, or refused)."""
    only_collector: tuple[Record, ...] = ()
    """DVA records the collector holds that no store of this stack has."""
    reconciliation_differences: tuple[dict[str, Any], ...] = ()
    """Reconciliation totals whose DVA count differs between the two sources."""

    @property
    def agrees(self) -> bool:
        return (
            self.available
            and not self.only_own
            and not self.only_collector
            and not self.reconciliation_differences
            and all(c.own == c.collector for c in self.counts)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "agrees": self.agrees,
            "counts": [c.to_json() for c in self.counts],
            "only_own_stores": [r.to_json() for r in self.only_own],
            "only_collector": [r.to_json() for r in self.only_collector],
            "reconciliation_differences": list(self.reconciliation_differences),
        }


@dataclass
class Report:
    period: Period
    made_at: datetime
    stores: StackStores
    figures: Figures
    check: SourceCheck
    pgo_names: tuple[str, ...]
    read: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per store, how many of each thing were read (shown on the page)."""

    def to_json(self) -> dict[str, Any]:
        return {
            **self.figures.to_json(),
            "made_at": self.made_at.isoformat(),
            "stores": {
                store.label: {"where": store.where, **self.read.get(store.label, {})}
                for store in self.stores.stores
            },
            "source_check": self.check.to_json(),
        }


def _dva(records: Iterable[Record]) -> list[Record]:
    return [r for r in records if r.event.type not in PGO_EVENTS]


def _in_period(record: Record, period: Period) -> bool:
    return Month.of(record.event.datetime, DUTCH_TIME) in period


def source_check(
    own: Sequence[Record],
    collector: Sequence[Record] | None,
    figures_own: Figures,
    figures_collector: Figures | None,
    period: Period,
) -> SourceCheck:
    """Hold the DVA's own records against the collector's, within ``period``."""
    if collector is None or figures_collector is None:
        return SourceCheck(available=False)
    mine = [r for r in _dva(own) if _in_period(r, period)]
    theirs = [r for r in _dva(collector) if _in_period(r, period)]

    def tally(records: list[Record]) -> Counter[tuple[Month, str, str]]:
        return Counter(
            (Month.of(r.event.datetime, DUTCH_TIME), r.event.location, r.event.type.value)
            for r in records
        )

    a, b = tally(mine), tally(theirs)
    counts = tuple(
        SourceCount(
            month, location, event, a[(month, location, event)], b[(month, location, event)]
        )
        for month, location, event in sorted(set(a) | set(b), key=lambda k: (str(k[0]), k[1], k[2]))
    )
    # Each record's key once (its JSON: the costliest part of the check), kept beside it.
    mine_keys = [_key(r) for r in mine]
    theirs_keys = [_key(r) for r in theirs]
    left, right = Counter(mine_keys), Counter(theirs_keys)
    # The surpluses once, not per record: a month of 1,000 users has tens of thousands of
    # records, and a Counter difference per record made this check quadratic (minutes).
    surplus_own, surplus_collector = left - right, right - left
    only_own = [r for r, k in zip(mine, mine_keys, strict=True) if surplus_own[k] > 0]
    only_collector = [
        r for r, k in zip(theirs, theirs_keys, strict=True) if surplus_collector[k] > 0
    ]
    differences = tuple(
        {
            "month": str(x.month),
            "kind": x.kind,
            "dva_own_stores": x.dva,
            "dva_collector": y.dva,
        }
        for x, y in zip(
            figures_own.reconciliation.totals,
            figures_collector.reconciliation.totals,
            strict=True,
        )
        if x.dva != y.dva
    )
    return SourceCheck(True, counts, tuple(only_own), tuple(only_collector), differences)


def build_report(
    stores: StackStores,
    period: Period,
    contents: Sequence[StoreContents],
    *,
    now: datetime | None = None,
) -> Report:
    """Compute the figures from what was read (pure apart from the clock: ``now`` is when
    the report is made, default the system clock's now)."""
    funnel: list[FunnelEvent] = []
    pgo_records: list[Record] = []
    dva_records: list[Record] = []
    collector: list[Record] | None = None
    visits: list[Visit] = []
    consents: list[LongTermConsent] = []
    read: dict[str, dict[str, int]] = {}
    for content in contents:
        role = content.store.role
        read[content.store.label] = {
            "funnel_events": len(content.funnel),
            "ketenlog_records": len(content.ketenlog),
            "unreadable_rows": content.unreadable,
        }
        if role == "pgo":
            funnel += content.funnel
            pgo_records += content.ketenlog
            visits += content.visits
            consents += content.consents
        elif role == "collector":
            collector = (collector or []) + content.ketenlog
        else:
            dva_records += content.ketenlog
    figures = compute(funnel, pgo_records + dva_records, period, visits=visits, consents=consents)
    figures_collector = (
        None
        if collector is None
        else compute(
            funnel, pgo_records + _dva(collector), period, visits=visits, consents=consents
        )
    )
    check = source_check(dva_records, collector, figures, figures_collector, period)
    pgo_names = tuple(sorted({e.pgo for e in funnel})) or ("pgo",)
    made_at = datetime.now(UTC) if now is None else now
    return Report(period, made_at, stores, figures, check, pgo_names, read)


def write_report(report: Report, out: Path) -> list[Path]:
    """Write every file of ``report`` into ``out``; returns them."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, data: bytes | str) -> None:
        path = out / name
        if isinstance(data, str):
            path.write_text(data, "utf-8")
        else:
            path.write_bytes(data)
        written.append(path)

    put("figures.json", json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    put("rapport.html", render_html(report))
    for name, text in write_csvs(report).items():
        put(name, text)
    deelnemer = report.pgo_names[0]
    for month_figures in report.figures.months:
        month = month_figures.month
        dvp = DvpRapportage(
            DvpMeta(
                deelnemer=deelnemer,
                leverancier=LEVERANCIER,
                tijdstempel_uitvoering=report.made_at,
                rapportage_maand=month,
            ),
            month_figures.dvp,
        )
        put(f"dvp-rapportage-{month}.xml", dvp.to_xml())
        beheer = Beheerrapport(deelnemer, month, report.made_at, month_figures.beheer)
        put(f"beheerrapport-{month}.xml", beheer.to_xml())
    return written


def _database_options(options: Sequence[str]) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for option in options:
        role, separator, url = option.partition("=")
        if not separator or not url:
            raise NotAStack(f"--database {option!r}: write ROLE=URL, e.g. pgo=postgresql://…")
        chosen[role.strip()] = url.strip()
    return chosen


def _period(first: str | None, last: str | None, now: datetime) -> Period:
    current = str(Month.of(now, DUTCH_TIME))
    return Period.parse(first or last or current, last or first or current)


def report(
    data_dir: Annotated[
        Path,
        typer.Option("--data-dir", help="Data directory of a stack (`medmij up`), running or not."),
    ] = Path("data"),
    first: Annotated[
        str | None,
        typer.Option("--from", help="First month, YYYY-MM (default: the current month)."),
    ] = None,
    last: Annotated[
        str | None,
        typer.Option("--to", help="Last month, YYYY-MM (default: --from, or the current month)."),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the HTML page, JSON, CSV and XML.")
    ] = Path("report"),
    databases: Annotated[
        list[str] | None,
        typer.Option(
            "--database",
            help="ROLE=URL: read ROLE's database (pgo, authserver, zorgaanbieder, collector) "
            "at this SQLAlchemy URL instead of its file in the data dir; default from "
            "MEDMIJ_<ROLE>_DATABASE_URL, as the services take it.",
        ),
    ] = None,
) -> None:
    """Write MedMij's monthly figures of a stack: HTML page, JSON, CSV, DVP and beheer XML."""
    data_dir = data_dir.resolve()
    try:
        # The stack's time: a simulation's virtual clock (medmij_stack.runtime.clock; the
        # system clock for any other stack), so that the current month and the moment of
        # making (the DVP-rapportage's uitvoering) are those of the months reported.
        now = VirtualClock(data_dir)()
    except ClockError as exc:
        err.print(str(exc), markup=False, style="red")
        raise typer.Exit(2) from exc
    try:
        period = _period(first, last, now)
        urls = urls_from_environment(os.environ) | _database_options(databases or [])
        stores = find_stores(data_dir, urls)
    except (ReportingError, ValueError) as exc:
        err.print(f"--from/--to: {exc}", markup=False, style="red")
        raise typer.Exit(2) from exc
    except NotAStack as exc:
        err.print(str(exc), markup=False, style="red")
        raise typer.Exit(2) from exc
    contents: list[StoreContents] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=not sys.stderr.isatty(),
    ) as progress:
        task = progress.add_task("stores lezen", total=len(stores.stores) + 1)
        for store in stores.stores:
            progress.update(task, description=f"lezen: {store.label}")
            contents.append(read_store(store))
            progress.advance(task)
        progress.update(task, description="cijfers berekenen")
        made = build_report(stores, period, contents, now=now)
        written = write_report(made, out)
        progress.advance(task)
    for path in written:
        err.print(f"  {path}", markup=False)
    check = made.check
    if not check.available:
        err.print("source check: this stack has no collector; nothing to compare with")
    elif check.agrees:
        err.print("source check: the collector agrees with the DVA's own stores")
    else:
        err.print(
            f"source check: {len(check.only_own)} DVA record(s) not (yet) in the collector, "
            f"{len(check.only_collector)} only in the collector (see rapport.html)",
            style="yellow",
        )
