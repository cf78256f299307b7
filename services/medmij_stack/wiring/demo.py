"""``medmij demo``: a test person fetches their data through the PGO, without a browser.

Against the stack ``medmij up`` runs from ``--data-dir``, a :class:`ScriptedPatient`
logs in to the PGO with the demo account of a DigiD test person (stack.json
``pgo_accounts``), searches each zorgaanbieder, ticks every gegevensdienst the PGO
offers there, logs in at the DVA's DigiD simulator with the person's BSN, gives
consent, and reads what the PGO fetched. The command prints per zorgaanbieder and
gegevensdienst the resource types and counts and the outcome (``--json``: the same as
JSON).

What is expected comes from stack.json's ``digid_test_persons``: a zorgaanbieder the
person has data at must deliver it; any other zorgaanbieder (asked for with
``--zorgaanbieder``, such as the huisarts that shares nothing) must end in "geen
gegevens" (or the refusal the DVA may give instead), which is an expected outcome.

Exit status: 0 when every outcome is the expected one, 1 when any is not, 2 when
``--data-dir`` holds no running stack or an option names no test person or zorgaanbieder.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from medmij_stack.protocol.funnel import FailureReason, Outcome
from medmij_stack.runtime.net import make_async_client

from .patient import (
    AttemptResult,
    PatientError,
    PgoAccount,
    ScriptedPatient,
    StackError,
    StackInfo,
    Step,
    TestPerson,
    pick_hit,
)

__all__ = ["DemoError", "Finding", "demo", "run_demo"]

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXPECTED_REFUSALS = frozenset({FailureReason.NO_DATA, FailureReason.CONSENT_DENIED})
"""How "no data here" may reach the PGO: ``geen-gegevens`` when the DVA says so, or
``toestemming-geweigerd``, which the taxonomy lets cover an empty record
(``medmij_stack.pgo.situations``)."""


class DemoError(Exception):
    """Wrong usage or no running stack: exit status 2, the message as is."""


@dataclass(frozen=True)
class Finding:
    """One zorgaanbieder of the demo: what was expected and what happened."""

    asked: str  # as given: a Zorgaanbiedernaam or a name
    expect_data: bool
    result: AttemptResult | None = None
    zorgaanbieder: str | None = None  # the Zorgaanbiedernaam the search found
    naam: str | None = None  # as the PGO shows it
    labels: tuple[tuple[str, str], ...] = ()  # gegevensdienst id → name on the page
    error: str | None = None
    unmatched: bool = False  # the search found no single zorgaanbieder for ``asked``

    @property
    def as_expected(self) -> bool:
        result = self.result
        if result is None:
            return False
        if self.expect_data:
            return result.outcome is Outcome.SUCCESS and all(
                s.outcome is Outcome.SUCCESS for s in result.services
            )
        return result.outcome is Outcome.FAILURE and result.reason in EXPECTED_REFUSALS

    def label(self, gegevensdienst: str) -> str:
        return dict(self.labels).get(gegevensdienst, "")


def choose_person(stack: StackInfo, bsn: str | None) -> tuple[TestPerson, PgoAccount]:
    if not stack.persons:
        raise DemoError(f"{stack.source or 'stack.json'} names no DigiD test persons")
    person = stack.persons[0] if bsn is None else stack.person(bsn)
    if person is None:
        known = ", ".join(p.bsn for p in stack.persons)
        raise DemoError(f"--bsn {bsn} is not a DigiD test person of this stack (known: {known})")
    account = stack.account_for(person.bsn)
    if account is None:
        raise DemoError(
            f"the PGO has no demo account for BSN {person.bsn} (stack.json pgo_accounts); "
            "is the stack from an older `medmij up`?"
        )
    return person, account


async def check_running(stack: StackInfo, data_dir: Path) -> None:
    """The PGO named in stack.json answers its /health: the stack is running."""
    try:
        client = make_async_client(trust=[stack.ca], hosts=stack.hosts, timeout=5)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise DemoError(
            f"the dev root CA {stack.ca} named in stack.json is unusable: {exc}"
        ) from exc
    async with client:
        try:
            response = await client.get(stack.pgo + "/health")
        except httpx.HTTPError as exc:
            raise DemoError(
                f"{data_dir} is not a running stack: its stack.json names the PGO at "
                f"{stack.pgo}, which does not answer ({type(exc).__name__}). Is `medmij up "
                f"--data-dir {data_dir}` still running?"
            ) from exc
    if response.status_code != 200:
        raise DemoError(
            f"the PGO at {stack.pgo} is not healthy (/health answered {response.status_code})"
        )


async def run_demo(
    stack: StackInfo,
    person: TestPerson,
    account: PgoAccount,
    targets: Sequence[str],
    *,
    progress: Progress | None = None,
) -> list[Finding]:
    """One patient, one login, one retrieval per target in turn."""
    task = None if progress is None else progress.add_task("inloggen", total=len(targets) or 1)
    current = "PGO"

    async def on_step(step: Step) -> None:
        if progress is not None and task is not None:
            progress.update(task, description=f"{current}: {step.value}")

    findings = []
    async with ScriptedPatient.for_account(stack, account, on_step=on_step) as patient:
        await patient.log_in()
        for asked in targets:
            current = asked
            expect = asked in person.zorgaanbieders
            try:
                hits = await patient.search(zoek=asked.removesuffix("@medmij"))
                hit = pick_hit(hits, asked)
                if hit is None:
                    found = ", ".join(h.zorgaanbieder for h in hits) or "none"
                    problem = f"the PGO's search for {asked!r} found {found}, not one match"
                    findings.append(Finding(asked, expect, error=problem, unmatched=True))
                    continue
                expect = hit.zorgaanbieder in person.zorgaanbieders
                labels = tuple((s.id, s.label) for s in hit.services)
                result = await patient.retrieve(hit)
            except PatientError as exc:
                findings.append(Finding(asked, expect, error=str(exc)))
            else:
                findings.append(Finding(asked, expect, result, hit.zorgaanbieder, hit.naam, labels))
            finally:
                if progress is not None and task is not None:
                    progress.advance(task)
    return findings


# --- output --------------------------------------------------------------------------------


def _shown(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in counts.items()) or "-"


def _step_seconds(result: AttemptResult) -> dict[str, float]:
    spent: dict[str, float] = {}
    for timing in result.timings:
        spent[timing.step.value] = round(spent.get(timing.step.value, 0.0) + timing.seconds, 3)
    return spent


def finding_json(finding: Finding) -> dict[str, Any]:
    result = finding.result
    document: dict[str, Any] = {
        "zorgaanbieder": finding.zorgaanbieder or finding.asked,
        "naam": finding.naam,
        "expected": "gegevens" if finding.expect_data else "geen-gegevens",
        "as_expected": finding.as_expected,
        "error": finding.error,
    }
    if result is None:
        return document
    document |= {
        "flow_id": result.flow_id,
        "outcome": None if result.outcome is None else result.outcome.value,
        "reason": None if result.reason is None else result.reason.value,
        "step": result.step,
        "situation": result.situation,
        "message": None
        if result.message is None
        else {"title": result.message.title, "text": result.message.text},
        "read_from": result.source,
        "gegevensdiensten": [
            {
                "id": s.gegevensdienst,
                "naam": finding.label(s.gegevensdienst),
                "outcome": None if s.outcome is None else s.outcome.value,
                "reason": None if s.reason is None else s.reason.value,
                "resources": dict(s.resources),
                "total": s.total,
            }
            for s in result.services
        ],
        "seconds": _step_seconds(result),
    }
    return document


def report_json(
    stack: StackInfo, person: TestPerson, account: PgoAccount, findings: Sequence[Finding]
) -> str:
    document = {
        "pgo": stack.pgo,
        "person": {
            "bsn": person.bsn,
            "naam": person.name,
            "gebruikersnaam": account.gebruikersnaam,
        },
        "zorgaanbieders": [finding_json(f) for f in findings],
        "ok": all(f.as_expected for f in findings),
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def report_table(person: TestPerson, account: PgoAccount, findings: Sequence[Finding]) -> None:
    table = Table(
        title=f"{person.name} (BSN {person.bsn}, PGO account {account.gebruikersnaam})",
        title_justify="left",
    )
    for column in ("zorgaanbieder", "gegevensdienst", "outcome", "resources"):
        table.add_column(column)
    table.add_column("expected")
    for finding in findings:
        name = finding.naam or finding.asked
        expected = "gegevens" if finding.expect_data else "geen gegevens"
        verdict = ("as expected: " if finding.as_expected else "NOT as expected: ") + expected
        style = None if finding.as_expected else "red"
        result = finding.result
        if result is None:
            table.add_row(name, "-", f"error: {finding.error}", "-", verdict, style=style)
            continue
        outcome = "-" if result.outcome is None else result.outcome.value
        if result.reason is not None:
            outcome += f" ({result.reason.value})"
        if not result.services:
            table.add_row(
                name, " ".join(result.gegevensdiensten), outcome, "-", verdict, style=style
            )
        for index, service in enumerate(result.services):
            label = finding.label(service.gegevensdienst)
            dienst = f"{service.gegevensdienst} {label}".strip()
            state = "-" if service.outcome is None else service.outcome.value
            if service.reason is not None:
                state += f" ({service.reason.value})"
            table.add_row(
                name if index == 0 else "",
                dienst,
                state,
                f"{_shown(dict(service.resources))} (total {service.total})",
                verdict if index == 0 else "",
                style=style,
            )
    console.print(table)
    for finding in findings:
        result = finding.result
        if result is not None and result.message is not None:
            seconds = sum(t.seconds for t in result.timings)
            console.print(
                f"{finding.naam or finding.asked}: “{result.message.title}” "
                f"({seconds:.1f} s; {result.flow_id or 'no flow id'})",
                markup=False,
            )
    failed = [f for f in findings if not f.as_expected]
    console.print(
        f"{len(findings)} zorgaanbieder(s): {len(findings) - len(failed)} as expected, "
        f"{len(failed)} not",
        markup=False,
    )


# --- the command ---------------------------------------------------------------------------


def demo(
    data_dir: Annotated[
        Path,
        typer.Option("--data-dir", help="Data directory of the running `medmij up`."),
    ] = Path("data"),
    bsn: Annotated[
        str | None,
        typer.Option("--bsn", help="BSN of a DigiD test person (default: the first)."),
    ] = None,
    zorgaanbieder: Annotated[
        str | None,
        typer.Option(
            "--zorgaanbieder",
            help="Zorgaanbiedernaam (ziekenhuisdemo@medmij) or name to fetch from "
            "(default: every zorgaanbieder the person has data at).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Fetch a test person's data through the PGO's own pages, as a person would."""
    data_dir = data_dir.resolve()
    try:
        stack = StackInfo.load(data_dir)
        person, account = choose_person(stack, bsn)
        asyncio.run(check_running(stack, data_dir))
    except (StackError, DemoError) as exc:
        err.print(str(exc), markup=False, style="red")
        raise typer.Exit(2) from exc
    targets = [zorgaanbieder] if zorgaanbieder else list(person.zorgaanbieders)
    if not targets:
        err.print(f"{person.name} (BSN {person.bsn}) has data at no zorgaanbieder; nothing to do.")
        raise typer.Exit(0)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        try:
            findings = asyncio.run(run_demo(stack, person, account, targets, progress=progress))
        except PatientError as exc:  # the login itself: nothing else could be tried
            progress.stop()
            err.print(f"{account.gebruikersnaam}: {exc}", markup=False, style="red")
            raise typer.Exit(1) from exc
    unmatched = [f for f in findings if f.unmatched]
    if zorgaanbieder and unmatched:
        err.print(f"--zorgaanbieder: {unmatched[0].error}", markup=False, style="red")
        raise typer.Exit(2)
    if as_json:
        sys.stdout.write(report_json(stack, person, account, findings) + "\n")
    else:
        report_table(person, account, findings)
    if not all(f.as_expected for f in findings):
        raise typer.Exit(1)
