"""``medmij qualify`` and ``medmij qualify-client``: the Nictiz qualification TestScripts.

``qualify`` runs every XIS-Server script under ``--scripts`` against a FHIR server (ours
or anyone's), shows a live progress line, prints each test with the failing assert and
its request, writes JUnit XML and an HTML report, and ends with the line
``N passed, N failed``; it exits 1 when anything failed, 2 on wrong usage. A passed test
of which a check was not or only partly done (a profile only partly validated, an
assert the runner cannot evaluate) is shown as ``PASS*`` with those checks under it, and
counted on the line before the last.

``qualify-client`` plays the server for the PHR-Client scripts: it serves the Nictiz
fixtures for the token's patient under ``/stu3`` and ``/r4``, records what the client
(a PGO) asks, and when every expected request has arrived (or at ``--timeout``, or on
Ctrl-C) evaluates the scripts' request and response asserts the same way.

docs/qualification.md#the-engine is the reading of the scripts this follows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.runtime.net import LeafFiles, make_client
from medmij_stack.runtime.threaded_server import (
    ServerDidNotStart,
    listening_socket,
    serving_in_thread,
)
from medmij_stack.runtime.tls import server_context
from medmij_stack.testscript import (
    Exchange,
    HttpxTransport,
    Outcome,
    ProfileRegistry,
    ProfileValidator,
    Role,
    Runner,
    ScriptError,
    ScriptResult,
    TestOutcome,
    TestResult,
    TestScript,
    discover,
    read_testscript,
)
from medmij_stack.testscript.reports import html_report, junit_xml, mask_tokens
from medmij_stack.testscript.results import AssertResult, OperationResult
from medmij_stack.testscript.simulator import (
    FixtureError,
    FixtureStore,
    Simulator,
    TokenRegistry,
    evaluate_client_scripts,
    fixture_folder,
    pending_requests,
    token_file,
)
from medmij_stack.testscript.variables import unknown_overrides

from .qualify_server import BASE_PATHS, create_simulator_app

__all__ = ["qualify", "qualify_client"]

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

_POLL_SECONDS = 0.2
_DETAILS = 5
"""Issues shown per failing check; the report lists them all."""


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]{message}[/red]")
    return typer.Exit(2)


def _variables(items: Sequence[str] | None) -> dict[str, str]:
    values = {}
    for item in items or []:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise _fail(f"--var needs NAME=VALUE, got {item!r}")
        values[name.strip()] = value
    return values


def _servers(items: Sequence[str]) -> dict[FhirVersion | None, str]:
    servers: dict[FhirVersion | None, str] = {}
    for item in items:
        version: FhirVersion | None = None
        url = item
        head, equals, rest = item.partition("=")
        if equals and (named := FhirVersion.from_release(head)):
            version, url = named, rest
        if not url.startswith(("http://", "https://")):
            raise _fail(f"--server needs an http(s) URL, got {item!r}")
        servers[version] = url.rstrip("/")
    return servers


def _release(value: str | None) -> FhirVersion | None:
    if value is None:
        return None
    version = FhirVersion.from_release(value)
    if version is not None:
        return version
    raise _fail(f"--fhir-version is STU3 or R4, got {value!r}")


def _registry(profiles: Path | None) -> ProfileRegistry | None:
    if profiles is None:
        return None
    try:
        registry = ProfileRegistry(profiles)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    console.print(f"Profiles: {len(registry)} conformance resources from {profiles}")
    return registry


def _client(
    ca: Sequence[Path] | None,
    cert: Path | None,
    key: Path | None,
    resolve: Sequence[str] | None,
    timeout: float,
) -> httpx.Client:
    hosts = {}
    for item in resolve or []:
        host, equals, address = item.partition("=")
        if not equals:
            raise _fail(f"--resolve needs HOST=ADDRESS, got {item!r}")
        hosts[host] = address
    if (cert is None) != (key is None):
        raise _fail("--cert and --key go together")
    if ca:
        leaf = LeafFiles(cert=cert, key=key) if cert is not None and key is not None else None
        return make_client(trust=list(ca), cert=leaf, hosts=hosts, timeout=timeout)
    if cert is not None or hosts:
        raise _fail("--cert and --resolve need --ca (the CA that issued the server's certificate)")
    return httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)


def _read_scripts(
    paths: Sequence[Path], version: FhirVersion | None
) -> tuple[list[TestScript], list[str]]:
    scripts, broken = [], []
    for path in paths:
        try:
            scripts.append(read_testscript(path, fhir_version=version))
        except ScriptError as exc:
            broken.append(str(exc))
    return scripts, broken


def _warn_unknown(scripts: Sequence[TestScript], overrides: dict[str, str]) -> None:
    # A misspelt --var changes nothing; say so rather than run without it unnoticed.
    for name in unknown_overrides(scripts, overrides):
        err.print(
            f"warning: --var {name}: no script declares or uses a variable {name}",
            markup=False,
            style="yellow",
        )


def _step_text(step: AssertResult | OperationResult) -> str:
    # Console output ends up in CI logs: bearer tokens are masked as in the reports.
    if isinstance(step, AssertResult):
        return mask_tokens(f"{step.check.title}: {step.message}")
    return mask_tokens(f"{step.operation.description or step.operation.type_code}: {step.message}")


def _request_line(exchange: Exchange) -> str:
    status = exchange.response.status if exchange.response else "no response"
    return mask_tokens(f"{exchange.request.method} {exchange.request.url} → {status}")


def _print_test(out: Console, script: TestScript, test: TestResult, verbose: bool) -> None:
    name = mask_tokens(f"{script.id or script.path.stem} › {test.title}")
    warnings = [step for step in test.asserts if step.outcome is Outcome.WARNING]
    unchecked = test.unchecked
    notes = []
    if warnings:
        notes.append(f"{len(warnings)} warning(s)")
    if unchecked:
        notes.append(f"{len(unchecked)} check(s) not or only partly done")
    suffix = f"  ({', '.join(notes)})" if notes else ""
    if test.outcome is TestOutcome.SKIPPED:
        reason = mask_tokens(test.skipped_reason or "")
        out.print(f"[yellow]SKIP[/yellow]  {name}: {reason}", markup=True)
        return
    if test.outcome is TestOutcome.FAILED:
        out.print(f"[red]FAIL[/red]  {name}{suffix}")
        # Each failure shows the exchange it judged (a sourceId, an earlier operation or the
        # previous test's), not simply the test's own request; a repeat is not shown again.
        shown: Exchange | None = None
        for step in test.failures:
            out.print(f"      ✗ {_step_text(step)}", markup=False)
            if isinstance(step, AssertResult):
                for detail in step.details[:_DETAILS]:
                    out.print(f"          {mask_tokens(detail)}", markup=False)
                if len(step.details) > _DETAILS:
                    out.print(f"          … {len(step.details) - _DETAILS} more", markup=False)
            if step.exchange is not None and step.exchange is not shown:
                out.print(f"        request: {_request_line(step.exchange)}", markup=False)
                shown = step.exchange
    else:
        label = "[yellow]WARN[/yellow]" if warnings else "[green]PASS[/green]"
        # A pass with a check not or only partly done is no full pass: PASS* (or WARN*),
        # with the checks that were not done in full under it.
        star = "*" if test.partly_checked else " "
        out.print(f"{label}{star} {name}{suffix}")
    for step in warnings:
        out.print(f"      ! {_step_text(step)}", markup=False)
    if test.partly_checked or verbose:
        for step in unchecked:
            out.print(f"      ~ {_step_text(step)}", markup=False)
            if verbose:
                for item in step.not_checked:
                    out.print(f"          not checked: {mask_tokens(item)}", markup=False)


class _Live:
    """Runner listener: a rich progress line, and a printed line per finished test."""

    def __init__(self, progress: Progress, total: int, verbose: bool) -> None:
        self.progress = progress
        self.task = progress.add_task("starting", total=total)
        self.verbose = verbose
        self.passed = 0
        self.failed = 0

    def test_started(self, script: TestScript, title: str) -> None:
        self.progress.update(
            self.task,
            description=f"{script.id or script.path.stem} › {title}  "
            f"[green]{self.passed} passed[/green] [red]{self.failed} failed[/red]",
        )

    def test_finished(self, script: TestScript, result: TestResult) -> None:
        if result.test is None and not result.steps:
            return
        if result.outcome is TestOutcome.PASSED:
            self.passed += 1
        elif result.outcome is TestOutcome.FAILED:
            self.failed += 1
        if result.test is not None:
            self.progress.advance(self.task)
        _print_test(self.progress.console, script, result, self.verbose)


def _finish(
    results: Sequence[ScriptResult], broken: Sequence[str], report: Path | None, title: str
) -> None:
    for message in broken:
        console.print(f"[red]ERROR[/red] {mask_tokens(message)}", markup=True)
    if report is not None:
        try:
            report.mkdir(parents=True, exist_ok=True)
            (report / "junit.xml").write_bytes(junit_xml(results, name=title))
            page = html_report(results, title=title)
            (report / "report.html").write_text(page, encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot write the reports to {report}: {exc.strerror or exc}") from exc
        console.print(f"Reports: {report / 'junit.xml'}, {report / 'report.html'}", markup=False)
    partial = sum(result.assert_count(Outcome.PARTIAL) for result in results)
    unchecked = sum(result.assert_count(Outcome.NOT_CHECKED) for result in results)
    warnings = sum(result.assert_count(Outcome.WARNING) for result in results)
    if partial or unchecked or warnings:
        console.print(
            f"{warnings} warning(s); {partial} check(s) only partly done and {unchecked} not done "
            "(what was not checked is listed per check in the report, or with --verbose)",
            markup=False,
        )
    passed = sum(result.count(TestOutcome.PASSED) for result in results)
    failed = sum(result.count(TestOutcome.FAILED) for result in results) + len(broken)
    partly = sum(result.partly_checked_count() for result in results)
    if partly:
        console.print(f"({partly} of the passed only partly checked: marked * above)", markup=False)
    # Always the last line, alone: CI tools read "N passed, N failed" from it.
    console.print(f"{passed} passed, {failed} failed", markup=False)
    if failed:
        raise typer.Exit(1)


ServerOption = Annotated[
    list[str],
    typer.Option(
        "--server",
        help="FHIR base URL of the server under test; STU3=URL or R4=URL for one release.",
    ),
]
ScriptsOption = Annotated[
    Path, typer.Option("--scripts", help="A TestScript file, or a folder searched for them.")
]
ProfilesOption = Annotated[
    Path | None,
    typer.Option(
        "--profiles", help="Folder of StructureDefinitions and ValueSets to validate with."
    ),
]
VarOption = Annotated[
    list[str] | None, typer.Option("--var", help="NAME=VALUE, overriding a script variable.")
]
ReportOption = Annotated[
    Path | None, typer.Option("--report", help="Folder to write junit.xml and report.html to.")
]
FhirVersionOption = Annotated[
    str | None,
    typer.Option(
        "--fhir-version",
        help="STU3 or R4, for scripts whose folder and properties.json do not say.",
    ),
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", help="Also list what each check did not check.")
]


def qualify(
    server: ServerOption,
    scripts: ScriptsOption,
    profiles: ProfilesOption = None,
    var: VarOption = None,
    report: ReportOption = None,
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
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 30.0,
    fhir_version: FhirVersionOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Run the XIS-Server TestScripts under --scripts against a FHIR server."""
    if not scripts.exists():
        raise _fail(f"{scripts} does not exist")
    servers = _servers(server)
    overrides = _variables(var)
    registry = _registry(profiles)
    paths = list(discover(scripts, Role.SERVER))
    if not paths:
        raise _fail(f"no XIS-Server TestScripts under {scripts}")
    loaded, broken = _read_scripts(paths, _release(fhir_version))
    _warn_unknown(loaded, overrides)
    for script in loaded:
        if script.fhir_version not in servers and None not in servers:
            raise _fail(f"no --server for the {script.fhir_version.release} script {script.path}")
    validator = ProfileValidator(registry)
    total = sum(len(script.tests) for script in loaded)
    results: list[ScriptResult] = []
    console.print(f"{len(loaded)} script(s), {total} test(s) from {scripts}", markup=False)
    with (
        _client(ca, cert, key, resolve, timeout) as client,
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        live = _Live(progress, total, verbose)
        for script in loaded:
            base = servers.get(script.fhir_version) or servers[None]
            runner = Runner(
                HttpxTransport(client),
                base,
                validator=validator,
                overrides=overrides,
                listener=live,
            )
            results.append(runner.run(script))
    _finish(results, broken, report, "Kwalificatie van een FHIR-server (XIS)")


def _listen(value: str) -> tuple[str, int]:
    host, colon, port = value.rpartition(":")
    if not colon or not port.isdigit():
        raise _fail(f"--listen needs HOST:PORT, got {value!r}")
    return host or "127.0.0.1", int(port)


@contextmanager
def _serving(
    simulator: Simulator, host: str, port: int, tls: tuple[Path, Path] | None
) -> Iterator[int]:
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    bound: int = sock.getsockname()[1]
    app = create_simulator_app(simulator)
    options = {"lifespan": "off", "log_config": None, "access_log": False}
    if tls is not None:
        from medmij_stack.runtime.asgi_tls import uvicorn_config

        context = server_context(tls[0], tls[1], trust=[], client_certs="none")
        config = uvicorn_config(app, host=host, port=bound, ssl_context=context, **options)
    else:
        config = uvicorn.Config(app, host=host, port=bound, **options)  # type: ignore[arg-type]
    try:
        with serving_in_thread(config, sock) as listening:
            yield listening
    except ServerDidNotStart as exc:
        raise _fail(f"the simulator did not start on {host}:{bound}") from exc


def _wait(
    pending: Callable[[], list[str]], received: Callable[[], int], timeout: float, settle: float
) -> list[str]:
    """Serve until every expected request has arrived and the client has then been quiet
    for ``settle`` seconds, or until ``timeout``.

    The quiet period matters because a client's last expected request is rarely its last:
    a PGO follows the references of a search it just received (a Medication read after an
    Immunization search), and a simulator that stopped the moment the list was complete
    would refuse those reads and fail a well-behaved client's retrieval.
    """
    deadline = time.monotonic() + timeout
    left = pending()
    seen, quiet_since = received(), time.monotonic()
    with console.status(f"Waiting for {len(left)} request(s)…") as status:
        try:
            while time.monotonic() < deadline:
                now, count = time.monotonic(), received()
                if count != seen:
                    seen, quiet_since = count, now
                if not left and now - quiet_since >= settle:
                    break
                time.sleep(_POLL_SECONDS)
                left = pending()
                status.update(
                    f"Waiting for {len(left)} request(s)… (Ctrl-C when your client is done)"
                    if left
                    else "Every expected request arrived; waiting for the client to finish…"
                )
        except KeyboardInterrupt:
            console.print("Stopped by Ctrl-C.")
    return left


def qualify_client(
    scripts: ScriptsOption,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT to serve on (port 0: any free port).")
    ] = "127.0.0.1:0",
    tokens: Annotated[
        Path | None,
        typer.Option("--tokens", help="QualificationTokens.json (default: found above --scripts)."),
    ] = None,
    profiles: ProfilesOption = None,
    var: VarOption = None,
    report: ReportOption = None,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="Serve HTTPS with this certificate chain.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="Key of --tls-cert.")] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the client's requests.")
    ] = 600.0,
    settle: Annotated[
        float,
        typer.Option(
            help="Once every expected request has arrived, seconds without a request before "
            "judging (the client may still be following references).",
            min=0.0,
        ),
    ] = 2.0,
    fhir_version: FhirVersionOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Play the FHIR server for the PHR-Client TestScripts and judge the client's requests."""
    if not scripts.exists():
        raise _fail(f"{scripts} does not exist")
    if (tls_cert is None) != (tls_key is None):
        raise _fail("--tls-cert and --tls-key go together")
    overrides = _variables(var)
    registry = _registry(profiles)
    host, port = _listen(listen)
    paths = list(discover(scripts, Role.CLIENT))
    if not paths:
        raise _fail(f"no PHR-Client TestScripts under {scripts}")
    loaded, broken = _read_scripts(paths, _release(fhir_version))
    _warn_unknown(loaded, overrides)
    token_path = tokens or token_file(scripts if scripts.is_dir() else scripts.parent)
    if token_path is None:
        raise _fail("no Configuration/QualificationTokens.json above --scripts; say --tokens FILE")
    try:
        registry_tokens = TokenRegistry.read(token_path)
        stores: dict[FhirVersion, list[FixtureStore]] = {}
        folders: dict[FhirVersion, set[Path]] = {}
        for script in loaded:
            folder = fixture_folder(script.path)
            if folder is None:
                raise _fail(f"no _reference/resources folder for {script.path}")
            folders.setdefault(script.fhir_version, set()).add(folder)
        for version, found in folders.items():
            stores[version] = [FixtureStore.load([folder], version) for folder in sorted(found)]
    except FixtureError as exc:
        raise _fail(str(exc)) from exc
    simulator = Simulator(stores, registry_tokens)
    scheme = "https" if tls_cert else "http"
    tls = (tls_cert, tls_key) if tls_cert is not None and tls_key is not None else None
    with _serving(simulator, host, port, tls) as bound:
        shown = f"[{host}]" if ":" in host else host
        for version in sorted(stores, key=lambda item: item.release):
            console.print(
                f"FHIR base for {version.release} clients: {scheme}://{shown}:{bound}{BASE_PATHS[version]}",
                markup=False,
            )
        console.print(f"{len(loaded)} PHR-Client script(s); point your client at the base above.")

        def pending() -> list[str]:
            return pending_requests(loaded, simulator.recorded(), BASE_PATHS, overrides)

        left = _wait(pending, lambda: len(simulator.recorded()), timeout, settle)
    if left:
        console.print(f"{len(left)} expected request(s) did not arrive:", markup=False)
        for item in left[:20]:
            console.print(f"  {item}", markup=False)
    validator = ProfileValidator(registry)
    results = evaluate_client_scripts(
        loaded,
        simulator.recorded(),
        base_urls={
            version: f"{scheme}://{host}:{bound}{path}" for version, path in BASE_PATHS.items()
        },
        validator=validator,
        overrides=overrides,
    )
    for result in results:
        for test in result.tests:
            _print_test(console, result.script, test, verbose)
    _finish(results, broken, report, "Kwalificatie van een FHIR-client (PGO)")
