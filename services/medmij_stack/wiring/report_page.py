"""The report's HTML page and CSV files (for :mod:`wiring.report`).

The page is one file that opens offline: the CSS is inline, the charts are SVG drawn here
(the geometry in Python, the markup by the Jinja2 template ``templates/report.html``), there
is no script and no URL to fetch. Labels are Dutch; numbers are the ones in ``figures.json``.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, FileSystemLoader, select_autoescape

from medmij_stack.protocol.funnel import FailureReason, ProcessStep
from medmij_stack.protocol.reporting.breakdowns import Dimension, Group
from medmij_stack.protocol.reporting.latency import LatencyFigures

if TYPE_CHECKING:
    from .report import Report

__all__ = ["Bar", "Chart", "render_html", "write_csvs"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"

STEP_LABELS: dict[ProcessStep, str] = {
    ProcessStep.ZORGAANBIEDER_ZOEKEN: "Zorgaanbieder zoeken",
    ProcessStep.DIGID: "Inloggen en toestemming (DVA)",
    ProcessStep.UITWISSELING: "Gegevens ophalen",
}

REASON_LABELS: dict[FailureReason, str] = {
    FailureReason.ABANDONED_AT_SEARCH: "Afgehaakt bij zoeken",
    FailureReason.DIGID_FAILED: "DigiD mislukt",
    FailureReason.DIGID_CANCELLED: "DigiD geannuleerd",
    FailureReason.CONSENT_DENIED: "Toestemming geweigerd",
    FailureReason.NO_DATA: "Geen gegevens",
    FailureReason.INVALID_REQUEST: "Ongeldig verzoek",
    FailureReason.TOKEN_ERROR: "Tokenfout",
    FailureReason.RESOURCE_ERROR: "Fout bij ophalen",
    FailureReason.INVALID_CONTENT: "Ongeldige inhoud",
    FailureReason.CLIENT_ERROR: "Fout in de PGO",
}

# Colours with enough contrast on white, told apart by more than hue alone (labels too).
GOOD = "#1a7f37"
BAD = "#c62828"
NEUTRAL = "#1f5fa8"
MUTED = "#8a94a6"

WIDTH = 780
LABEL_WIDTH = 300


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str
    value: str


@dataclass(frozen=True)
class Chart:
    title: str
    description: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    texts: tuple[tuple[float, float, str, str], ...] = ()
    """(x, y, anchor, text) labels."""
    lines: tuple[tuple[float, float, float, float, str], ...] = ()
    """(x1, y1, x2, y2, colour): axes and norm lines."""
    empty: bool = False
    empty_text: str = "geen gegevens in deze periode"


def _scale(value: float, most: float, room: float) -> float:
    return 0.0 if most <= 0 else room * value / most


def horizontal(
    title: str, description: str, rows: Sequence[tuple[str, int, str]], *, unit: str = ""
) -> Chart:
    """One bar per row: (label, count, colour)."""
    row_height, gap, top = 26, 8, 10
    room = WIDTH - LABEL_WIDTH - 70
    most = max((count for _, count, _ in rows), default=0)
    bars: list[Bar] = []
    texts: list[tuple[float, float, str, str]] = []
    for i, (label, count, colour) in enumerate(rows):
        y = top + i * (row_height + gap)
        width = max(_scale(count, most, room), 1.5 if count else 0)
        bars.append(Bar(LABEL_WIDTH, y, width, row_height, colour, label, f"{count}{unit}"))
        texts.append((LABEL_WIDTH - 8, y + row_height * 0.68, "end", label))
        texts.append((LABEL_WIDTH + width + 6, y + row_height * 0.68, "start", f"{count}{unit}"))
    height = top * 2 + max(len(rows), 1) * (row_height + gap)
    return Chart(title, description, WIDTH, height, tuple(bars), tuple(texts), empty=most == 0)


def monthly_users(report: Report) -> Chart:
    """Per month two bars: persons with ≥ 1 successful and with ≥ 1 failed retrieval."""
    months = report.figures.months
    left, bottom, top, plot_height = 50, 50, 20, 200
    slot = max(min((WIDTH - left - 10) / max(len(months), 1), 120), 24)
    width = int(left + slot * len(months) + 10)
    most = max(
        (max(m.span.outcome_users.succeeded, m.span.outcome_users.failed) for m in months),
        default=0,
    )
    ceiling = max(most, 1)
    bars: list[Bar] = []
    texts: list[tuple[float, float, str, str]] = []
    lines: list[tuple[float, float, float, float, str]] = [
        (left, top, left, top + plot_height, MUTED)
    ]
    lines.append((left, top + plot_height, width - 10, top + plot_height, MUTED))
    for tick in sorted({0, ceiling // 2, ceiling}):
        y = top + plot_height - _scale(tick, ceiling, plot_height)
        texts.append((left - 6, y + 4, "end", str(tick)))
    bar_width = slot * 0.32
    for i, m in enumerate(months):
        x0 = left + i * slot + slot * 0.15
        for j, (count, colour, name) in enumerate(
            (
                (m.span.outcome_users.succeeded, GOOD, "geslaagd"),
                (m.span.outcome_users.failed, BAD, "mislukt"),
            )
        ):
            h = _scale(count, ceiling, plot_height)
            x = x0 + j * (bar_width + 2)
            bars.append(
                Bar(x, top + plot_height - h, bar_width, h, colour, f"{m.month} {name}", str(count))
            )
            texts.append((x + bar_width / 2, top + plot_height - h - 4, "middle", str(count)))
        texts.append((x0 + bar_width, top + plot_height + 18, "middle", str(m.month)))
    # A legend, so that the colours are named on the chart itself.
    width = max(width, left + 260)
    for k, (colour, name) in enumerate(((GOOD, "geslaagd"), (BAD, "mislukt"))):
        x = left + 10 + k * 110
        bars.append(Bar(x, top + plot_height + 28, 12, 12, colour, name, ""))
        texts.append((x + 18, top + plot_height + 38, "start", name))
    return Chart(
        "Gebruikers per maand",
        "Personen met ten minste één geslaagde (groen) en ten minste één mislukte (rood) "
        "ophaalpoging per maand.",
        width,
        top + plot_height + bottom,
        tuple(bars),
        tuple(texts),
        tuple(lines),
        empty=most == 0,
    )


def funnel_chart(report: Report) -> Chart:
    steps = report.figures.total.steps
    rows: list[tuple[str, int, str]] = [("Gestart", steps.attempts, NEUTRAL)]
    for count in steps.steps:
        rows.append((f"{STEP_LABELS[count.step]}: bereikt", count.reached, NEUTRAL))
        rows.append((f"{STEP_LABELS[count.step]}: uitgevallen", count.ended, BAD))
    rows.append(("Geslaagd", steps.succeeded, GOOD))
    return horizontal(
        "Trechter per processtap",
        "Ophaalpogingen die de persoon zelf startte: hoeveel elke stap bereikten en hoeveel er "
        "in die stap uitvielen (mislukt of niet afgemaakt), over de hele periode.",
        rows,
    )


def reasons(report: Report) -> Counter[FailureReason]:
    tally: Counter[FailureReason] = Counter()
    for group in report.figures.total.breakdowns[Dimension.INITIATOR]:
        for reason, count in group.reasons:
            tally[reason] += count
    return tally


def reasons_chart(report: Report) -> Chart:
    tally = reasons(report)
    rows = [(REASON_LABELS[r], tally[r], BAD) for r in FailureReason]
    chart = horizontal(
        "Redenen van mislukken",
        "Mislukte ophaalpogingen (door personen en door de PGO zelf) naar reden, over de hele "
        "periode.",
        rows,
    )
    return replace(chart, empty_text="geen mislukte pogingen in deze periode")


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def latency_chart(figures: LatencyFigures, title: str) -> Chart:
    """The percentiles against the norm's limit, on one scale in seconds."""
    limit = figures.norm.limit.total_seconds()
    values = [(f"p{p}", _seconds(v)) for p, v in figures.percentiles]
    most = max([limit, *(v for _, v in values if v is not None)])
    room = WIDTH - LABEL_WIDTH - 90
    row_height, gap, top = 22, 6, 10
    bars: list[Bar] = []
    texts: list[tuple[float, float, str, str]] = []
    for i, (name, value) in enumerate(values):
        y = top + i * (row_height + gap)
        texts.append((LABEL_WIDTH - 8, y + row_height * 0.7, "end", name))
        if value is None:
            texts.append((LABEL_WIDTH + 6, y + row_height * 0.7, "start", "geen metingen"))
            continue
        width = max(_scale(value, most, room), 1.5)
        colour = GOOD if value <= limit else BAD
        shown = f"{value:.3f} s"
        bars.append(Bar(LABEL_WIDTH, y, width, row_height, colour, name, shown))
        texts.append((LABEL_WIDTH + width + 6, y + row_height * 0.7, "start", shown))
    height = top * 2 + len(values) * (row_height + gap) + 16
    x = LABEL_WIDTH + _scale(limit, most, room)
    lines = [(x, top - 4, x, height - 18, "#333333")]
    texts.append((x, height - 4, "middle", f"norm {limit:g} s"))
    share = figures.norm.share
    passed = figures.passed
    verdict = (
        "geen metingen"
        if passed is None
        else f"{_percent(figures.share)} binnen {limit:g} s (norm {_percent(share)}): "
        + ("gehaald" if passed else "niet gehaald")
    )
    return Chart(
        title,
        f"{figures.count} verzoeken met antwoord, {figures.errors} met een fout, "
        f"{figures.unanswered} zonder antwoord. {verdict}.",
        WIDTH,
        height,
        tuple(bars),
        tuple(texts),
        tuple(lines),
        empty=figures.count == 0,
    )


def _percent(value: Fraction | None) -> str:
    return "–" if value is None else f"{float(value) * 100:.1f}%".replace(".", ",")


def render_html(report: Report) -> str:
    environment = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = environment.get_template("report.html")
    tally = reasons(report)
    return template.render(
        report=report,
        figures=report.figures,
        charts=[
            funnel_chart(report),
            monthly_users(report),
            reasons_chart(report),
            latency_chart(report.figures.total.token_latency, "Tokenverzoeken: responstijd"),
            latency_chart(report.figures.total.resource_latency, "Gegevensverzoeken: responstijd"),
        ],
        reasons=[(REASON_LABELS[r], tally[r]) for r in FailureReason if tally[r]],
        step_labels=STEP_LABELS,
        percent=_percent,
        check=report.check,
    )


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_csvs(report: Report) -> dict[str, str]:
    """The report's tables as CSV text, by file name."""
    figures = report.figures
    months = [
        (
            str(m.month),
            m.span.outcome_users.users,
            m.span.outcome_users.succeeded,
            m.span.outcome_users.failed,
            m.span.outcome_users.attempts_succeeded,
            m.span.outcome_users.attempts_failed,
            m.span.outcome_users.attempts_unfinished,
            m.active_year_to_date,
            m.active_last_12_months,
        )
        for m in figures.months
    ]
    steps = [
        (str(m.month), s.step.value, s.reached, s.passed, s.failed, s.open)
        for m in figures.months
        for s in m.span.steps.steps
    ]
    reason_rows = [
        (str(m.month), reason, count)
        for m in figures.months
        for reason, count in sorted(_month_reasons(m.span.breakdowns[Dimension.INITIATOR]).items())
    ]
    latency = [
        (
            str(m.month),
            figures_.exchange.value,
            figures_.count,
            figures_.errors,
            *(_seconds(v) for _, v in figures_.percentiles),
            figures_.within_limit,
            figures_.passed,
        )
        for m in figures.months
        for figures_ in (m.span.token_latency, m.span.resource_latency)
    ]
    reconciliation = [
        (str(t.month), t.kind, t.dva, t.pgo, t.only_dva, t.only_pgo, t.agrees)
        for t in figures.reconciliation.totals
    ]
    sources = [
        (str(c.month), c.location, c.event, c.own, c.collector, c.collector - c.own)
        for c in report.check.counts
    ]
    return {
        "maanden.csv": _csv(
            [
                "maand",
                "gebruikers",
                "gebruikers_geslaagd",
                "gebruikers_mislukt",
                "pogingen_geslaagd",
                "pogingen_mislukt",
                "pogingen_onafgemaakt",
                "actief_dit_jaar",
                "actief_12_maanden",
            ],
            months,
        ),
        "stappen.csv": _csv(
            ["maand", "stap", "bereikt", "doorgekomen", "mislukt", "onafgemaakt"], steps
        ),
        "redenen.csv": _csv(["maand", "reden", "aantal"], reason_rows),
        "latency.csv": _csv(
            [
                "maand",
                "uitwisseling",
                "aantal",
                "fouten",
                "p50_s",
                "p95_s",
                "p98_5_s",
                "p99_s",
                "p99_5_s",
                "binnen_norm",
                "norm_gehaald",
            ],
            latency,
        ),
        "reconciliatie.csv": _csv(
            ["maand", "soort", "dva", "pgo", "alleen_dva", "alleen_pgo", "klopt"], reconciliation
        ),
        "bronnen.csv": _csv(
            ["maand", "locatie", "event", "eigen_opslag", "collector", "verschil"], sources
        ),
    }


def _month_reasons(groups: Sequence[Group]) -> dict[str, int]:
    tally: Counter[str] = Counter()
    for group in groups:
        for reason, count in group.reasons:
            tally[reason.value] += count
    return dict(tally)
