"""``medmij fetch``: the PGO's retrieval engine against any FHIR base, with a fixed token.

Nictiz qualifies a PGO without the MedMij OAuth flow: the PGO is pointed at a FHIR base
with the fixed bearer token of a test patient (docs/qualification.md#tokens, and the
PHR-Client scripts' ``Authorization`` asserts), and the test simulator judges the
requests it makes. This command is that PGO: it runs :func:`medmij_stack.pgo.retrieval.
retrieve_service` — every query of ``--gegevensdienst``, with the headers, limits and
validation of a real retrieval — against ``--server`` with ``--token``, and prints per
query the HTTP status and what came back (``--json``: the same as JSON). Point it at
``medmij qualify-client``'s base to qualify the engine, or at any resource endpoint.

Exit status: 0 when every query succeeded, 1 when any failed, 2 on wrong usage.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from medmij_stack.pgo.retrieval import QueryResult, ServiceResult, retrieve_service
from medmij_stack.protocol import catalogue
from medmij_stack.protocol.funnel import system_clock
from medmij_stack.protocol.headers import HeaderError, new_id, parse_id
from medmij_stack.runtime.net import LeafFiles, make_async_client

__all__ = ["fetch"]

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

_PGO = "pgo"
"""The ketenlog location of a retrieval without a PGO of the world behind it."""


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]{message}[/red]")
    return typer.Exit(2)


def _dienst(identifier: str) -> catalogue.Gegevensdienst:
    try:
        dienst = catalogue.get(identifier)
    except (KeyError, ValueError):
        dienst = None
    if dienst is None or not dienst.queries:
        runnable = ", ".join(d.id for d in catalogue.CATALOGUE.values() if d.queries)
        raise _fail(f"--gegevensdienst {identifier!r} has no queries to run (choose {runnable})")
    return dienst


def _token(value: str) -> str:
    # The Nictiz token list writes the whole header value ("Bearer 93cde269-…"); take both.
    scheme, space, rest = value.strip().partition(" ")
    return rest.strip() if space and scheme.lower() == "bearer" else value.strip()


def _client(
    ca: Sequence[Path] | None,
    cert: Path | None,
    key: Path | None,
    resolve: Sequence[str] | None,
    timeout: float,
) -> httpx.AsyncClient:
    hosts = {}
    for item in resolve or []:
        host, equals, address = item.partition("=")
        if not equals or not host or not address:
            raise _fail(f"--resolve needs HOST=ADDRESS, got {item!r}")
        hosts[host] = address
    if (cert is None) != (key is None):
        raise _fail("--cert and --key go together")
    if ca:
        leaf = LeafFiles(cert=cert, key=key) if cert is not None and key is not None else None
        try:
            return make_async_client(trust=list(ca), cert=leaf, hosts=hosts, timeout=timeout)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise _fail(f"cannot use --ca/--cert/--key: {exc}") from exc
    if cert is not None or hosts:
        raise _fail("--cert and --resolve need --ca (the CA that issued the server's certificate)")
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)


def _counts(resources: Iterable[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(str(r.get("resourceType")) for r in resources).items()))


def _shown(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in counts.items()) or "none"


def _query_json(result: QueryResult) -> dict[str, Any]:
    return {
        "name": result.query.name,
        "path": result.query.path,
        "request_id": result.request_id,
        "status": result.status,
        "failure": result.failure.value if result.failure else None,
        "detail": result.detail,
        "resources": _counts(result.resources),
        "started": result.started.isoformat(),
        "elapsed_seconds": round(result.elapsed_seconds, 3),
    }


def _report_json(result: ServiceResult, server: str, correlation_id: str) -> str:
    failed = [q for q in result.queries if q.failure is not None]
    document = {
        "gegevensdienst": result.gegevensdienst,
        "server": server,
        "correlation_id": correlation_id,
        "queries": [_query_json(q) for q in result.queries],
        "resources": _counts(result.resources),
        "succeeded": len(result.queries) - len(failed),
        "failed": len(failed),
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def _report_table(result: ServiceResult, dienst: catalogue.Gegevensdienst) -> None:
    table = Table(title=f"{dienst.id} {dienst.naam}", title_justify="left")
    table.add_column("query")
    table.add_column("HTTP", justify="right")
    table.add_column("resources")
    table.add_column("result")
    for query in result.queries:
        status = "-" if query.status is None else str(query.status)
        outcome = "ok" if query.failure is None else f"{query.failure.value}: {query.detail}"
        style = None if query.failure is None else "red"
        table.add_row(
            query.query.name, status, _shown(_counts(query.resources)), outcome, style=style
        )
    console.print(table)
    failed = sum(query.failure is not None for query in result.queries)
    console.print(
        f"{len(result.queries)} queries: {len(result.queries) - failed} succeeded, {failed} "
        f"failed; {len(result.resources)} resources ({_shown(_counts(result.resources))})",
        markup=False,
    )


def fetch(
    server: Annotated[
        str, typer.Option("--server", help="FHIR base (the ResourceEndpointuri), http(s).")
    ],
    token: Annotated[str, typer.Option("--token", help="Bearer token, with or without 'Bearer '.")],
    gegevensdienst: Annotated[
        str, typer.Option("--gegevensdienst", help="Gegevensdienst id: 48 (BgZ), 63 (Vaccinaties).")
    ],
    ca: Annotated[
        list[Path] | None, typer.Option("--ca", help="CA file the server's certificate chains to.")
    ] = None,
    cert: Annotated[
        Path | None, typer.Option("--cert", help="Client certificate (mutual TLS), PEM.")
    ] = None,
    key: Annotated[Path | None, typer.Option("--key", help="Key of --cert, PEM.")] = None,
    resolve: Annotated[
        list[str] | None, typer.Option("--resolve", help="HOST=ADDRESS, like curl --resolve.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per request, body included.")] = 30.0,
    max_bytes: Annotated[
        int, typer.Option("--max-bytes", help="Largest answer read; a larger one fails.")
    ] = 10 * 1024 * 1024,
    correlation_id: Annotated[
        str | None,
        typer.Option("--correlation-id", help="X-Correlation-ID to send (default: a new UUID)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Run the PGO's retrieval of one gegevensdienst against a FHIR base with a fixed token."""
    if not server.startswith(("http://", "https://")):
        raise _fail(f"--server needs an http(s) URL, got {server!r}")
    if timeout <= 0 or max_bytes <= 0:
        raise _fail("--timeout and --max-bytes must be positive")
    dienst = _dienst(gegevensdienst)
    bearer = _token(token)
    try:
        flow = parse_id(correlation_id, name="--correlation-id") if correlation_id else new_id()
    except HeaderError as exc:
        raise _fail(str(exc)) from exc

    http = _client(ca, cert, key, resolve, timeout)

    async def run() -> ServiceResult:
        async with http as client:
            return await retrieve_service(
                client,
                server,
                bearer,
                dienst,
                correlation_id=flow,
                clock=system_clock,
                client_id=_PGO,
                timeout_seconds=timeout,
                max_bytes=max_bytes,
            )

    try:
        result = asyncio.run(run())
    except ValueError as exc:  # arguments no request can be made with (a malformed token)
        raise _fail(str(exc)) from exc
    if as_json:
        sys.stdout.write(_report_json(result, server, flow) + "\n")  # never re-wrapped
    else:
        _report_table(result, dienst)
    if result.failure is not None:
        raise typer.Exit(1)
