"""The `medmij` command: run a world, run one role, make certificates."""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from medmij_stack.runtime import event_loop
from medmij_stack.runtime.clock import CLOCK_FILE, ClockError, read_offset
from medmij_stack.runtime.devpki import ensure_dev_pki
from medmij_stack.runtime.lists.state import ListStateError
from medmij_stack.runtime.metrics import count_across_processes, process_ended
from medmij_stack.runtime.net import make_client
from medmij_stack.stelselnode.publisher import StateError
from medmij_stack.zorgaanbieder.sources.nictiz import NictizError

from .proxy import serve_proxy
from .roles import (
    SINGLE_WORKER,
    Listener,
    Role,
    RoleInstance,
    at_replica,
    instance_workers,
    listener_urls,
    listeners_for,
    proxy_routes,
)
from .runner import serve_listeners
from .up import (
    busy_ports,
    log_tail,
    prepare_pki,
    stack_json,
    start_stack,
    stop_stack,
    summary_table,
    wait_healthy,
    without_unserved_nictiz,
    write_stack_json,
)
from .workers import WorkerRefused, bind_sockets, run_workers
from .world import World, WorldError, load_world, save_world

app = typer.Typer(
    help="The MedMij reference stack: PGO, DVA (authorisation and resource server) and the "
    "MedMij lists, wired together over mutual TLS.",
    no_args_is_help=True,
    add_completion=False,
    # Click's own help layout: Typer's rich layout shows every on/off flag with a value
    # placeholder ("--free-ports <bool>", even "--help <bool>"), as if it took a value.
    rich_markup_mode=None,
    # Up to 120 columns when the terminal has them, so command summaries are not cut at 80.
    context_settings={"max_content_width": 120},
)
console = Console()
err = Console(stderr=True)

WorldOption = Annotated[
    Path | None,
    typer.Option("--world", help="World file (TOML). Default: the embedded demo world."),
]
DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="Where services keep their data and stack.json.")
]
CertsOption = Annotated[Path, typer.Option("--certs", help="Directory of the dev PKI.")]
NictizOption = Annotated[
    Path | None,
    typer.Option(
        "--nictiz",
        help="Nictiz-testscripts checkout (or copy in its layout) for the qualification "
        "zorgaanbieder; without it, zorgaanbieders marked nictiz are left out of the world. "
        "Default: $MEDMIJ_NICTIZ.",
    ),
]


def _world(path: Path | None) -> World:
    try:
        return load_world(path)
    except WorldError as exc:
        err.print(f"[red]World not usable:[/red] {exc}")
        raise typer.Exit(2) from exc


def _served_world(world: World, nictiz: Path | None) -> tuple[World, Path | None]:
    """The world as this run serves it: without the zorgaanbieders marked ``nictiz = true``
    when no Nictiz material is found, so that every role (the Stelselnode's ZAL, the
    authorisation and resource servers) agrees on who is served."""
    try:
        served, root, dropped = without_unserved_nictiz(world, nictiz)
    except NictizError as exc:
        err.print(f"[red]Nictiz material not usable:[/red] {exc}")
        raise typer.Exit(2) from exc
    if dropped:
        console.print(
            f"No Nictiz material (--nictiz PATH or $MEDMIJ_NICTIZ): {', '.join(dropped)} "
            "left out of the ZAL."
        )
    return served, root


def _refuse_busy_ports(world: World) -> None:
    """Stop before starting anything when a port of the world is taken: otherwise another
    stack's nodes would answer for ours while ours die on 'address already in use'."""
    busy = busy_ports(world)
    if not busy:
        return
    for item in busy:
        err.print(
            f"Port {item.port} on {item.address} ({item.label}, {item.url}): {item.reason}.",
            markup=False,
        )
    err.print(
        "Is another `medmij up` (or ./scripts/up) running? Stop it, or start this one "
        "with --free-ports to listen on free ports instead.",
        markup=False,
    )
    raise typer.Exit(1)


def _refuse_a_simulation_data_dir(world: World, data_dir: Path) -> None:
    """Stop before starting a world on real time in a data dir a simulation moved ahead:
    its lists, tokens and records are dated by the virtual clock, and the nodes would
    refuse lists from the future (or the Stelselnode a Tijdstempel going back)."""
    if world.world.simulation:
        return
    try:
        offset = read_offset(data_dir)
    except ClockError as exc:
        err.print(f"{exc}; is {data_dir} a simulation's data dir?", markup=False)
        raise typer.Exit(2) from exc
    if offset.total_seconds() <= 0:
        return
    err.print(
        f"{data_dir} was used by `medmij simulate`: its clock runs {offset.days} days ahead "
        f"({data_dir / CLOCK_FILE}), and this world runs on real time. Use a fresh "
        "--data-dir (or remove that directory).",
        markup=False,
    )
    raise typer.Exit(2)


def _role(role: str) -> Role:
    try:
        return Role("stelselnode" if role == "lists" else role)
    except ValueError as exc:
        err.print(f"[red]Unknown role {role!r}[/red]: choose {', '.join(r.value for r in Role)}")
        raise typer.Exit(2) from exc


@app.command()
def up(
    world_file: WorldOption = None,
    data_dir: DataDirOption = Path("data"),
    certs: CertsOption = Path("certs"),
    free_ports: Annotated[
        bool, typer.Option("--free-ports", help="Listen on free ports instead of the world's.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for all nodes.")] = 60.0,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request.")] = False,
    nictiz: NictizOption = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=32,
            help="Worker processes of each PGO, authorisation and resource server (default: "
            "the world's [workers], else up to 2 on this machine); the other roles run one.",
        ),
    ] = None,
) -> None:
    """Run the whole world until Ctrl-C; write DATA_DIR/stack.json."""
    world = _world(world_file)
    if free_ports:
        world = world.with_free_ports()
    world, nictiz = _served_world(world, nictiz)
    _refuse_busy_ports(world)
    data_dir = data_dir.resolve()
    _refuse_a_simulation_data_dir(world, data_dir)
    certs = certs.resolve()
    with console.status("Making the dev PKI…"):
        pki = prepare_pki(world, certs)
    effective = save_world(world, data_dir / "world.json")
    # Every process of this run answers /health with it: nothing else counts as ready.
    run_id = secrets.token_hex(8)
    processes = start_stack(
        effective,
        world,
        data_dir,
        certs,
        log_dir=data_dir / "logs",
        access_log=access_log,
        nictiz=nictiz,
        run_id=run_id,
        workers=workers,
    )
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    # A shell starts background jobs with SIGINT ignored; Ctrl-C and `kill -INT` must
    # still stop the world.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        try:
            ready = asyncio.run(
                wait_healthy(processes, world, pki, timeout=timeout, console=console, run_id=run_id)
            )
        except RuntimeError as exc:
            err.print(f"[red]{escape(str(exc))}[/red]")
            raise typer.Exit(1) from exc
        late = [url for url, ok in ready.items() if not ok]
        if late:
            err.print(f"[red]Not healthy after {timeout:.0f}s:[/red] {', '.join(late)}")
            raise typer.Exit(1)
        path = write_stack_json(data_dir, stack_json(world, pki, effective, processes))
        console.print(summary_table(world, processes))
        console.print(f"Dev root CA: [bold]{pki.root_cert}[/bold]  (trust it to browse)")
        console.print(f"stack.json:  [bold]{path}[/bold]")
        console.print(f"Logs:        {data_dir / 'logs'}")
        console.print("Ready. Press Ctrl-C to stop.")
        while all(p.process.poll() is None for p in processes):
            time.sleep(0.5)
        dead = [p for p in processes if p.process.poll() is not None]
        labels = ", ".join(p.instance.label for p in dead)
        err.print(f"[red]Stopped unexpectedly:[/red] {labels}; stopping the world.")
        for proc in dead:
            err.print(f"The end of {proc.log}:{log_tail(proc.log)}", markup=False)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("Stopping…")
    finally:
        stop_stack(processes)
        (data_dir / "stack.json").unlink(missing_ok=True)
    if stopping:
        raise typer.Exit(0)


@app.command()
def serve(
    role: Annotated[
        str,
        typer.Argument(help="stelselnode (or: lists), collector, pgo, authserver, zorgaanbieder"),
    ],
    world_file: WorldOption = None,
    data_dir: DataDirOption = Path("data"),
    certs: CertsOption = Path("certs"),
    dva: Annotated[
        str | None, typer.Option(help="Which DVA (id), for authserver/zorgaanbieder.")
    ] = None,
    pgo: Annotated[str | None, typer.Option(help="Which PGO (hostname), for pgo.")] = None,
    listen: Annotated[
        str | None, typer.Option(help="Address to listen on (default: the world's).")
    ] = None,
    system_dns: Annotated[
        bool,
        typer.Option(
            "--system-dns",
            help="Resolve node hostnames with DNS (containers), not with the world's host map.",
        ),
    ] = False,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request.")] = False,
    nictiz: NictizOption = None,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", hidden=True, help="Set by `medmij up`: sent back on /health."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=32,
            help="Worker processes sharing this role's sockets (default: the world's "
            "[workers], else up to 2 on this machine; 1 for the roles that keep state in "
            "their process).",
        ),
    ] = None,
    replica: Annotated[
        int | None,
        typer.Option(
            "--replica",
            min=0,
            help="Serve replica N of a replicated node: listen on its port in the world "
            "(behind `medmij serve proxy`).",
        ),
    ] = None,
    replica_host: Annotated[
        str | None,
        typer.Option(
            "--replica-host",
            help="For `serve proxy`: the host of each replica, a template of {role} and "
            "{replica}, e.g. {role}-{replica} for containers named authserver-0, … "
            "(default: the world's host map, one machine).",
        ),
    ] = None,
) -> None:
    """Run one role of the world (what docker-compose runs per container)."""
    chosen = _role(role)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request it sends at INFO: thirty lines per PGO retrieval. Like the
    # servers' access log, only with --access-log.
    logging.getLogger("httpx").setLevel(logging.INFO if access_log else logging.WARNING)
    # The same rule as `medmij up`, in every role: the Stelselnode must publish exactly
    # the zorgaanbieders the resource server serves.
    world, nictiz = _served_world(_world(world_file), nictiz)
    address = listen or world.world.listen
    if chosen is Role.PROXY:
        _serve_proxy(world, dva, address, replica_host)
        return
    if replica_host is not None:
        err.print("--replica-host is for proxy only", markup=False)
        raise typer.Exit(2)
    if workers is not None and workers > 1 and chosen in SINGLE_WORKER:
        err.print(f"{chosen.value} runs one worker: {SINGLE_WORKER[chosen]}.", markup=False)
        raise typer.Exit(2)
    if replica is not None and chosen not in (Role.AUTHSERVER, Role.ZORGAANBIEDER):
        err.print("--replica is for authserver and zorgaanbieder only", markup=False)
        raise typer.Exit(2)
    pki = prepare_pki(world, certs.resolve())
    instance = dva if chosen in (Role.AUTHSERVER, Role.ZORGAANBIEDER) else pgo
    count = instance_workers(world, RoleInstance(chosen, instance, replica), workers)

    def build(worker: int) -> list[Listener]:
        built = listeners_for(
            chosen,
            world,
            pki,
            data_dir.resolve(),
            instance=instance,
            resolve=not system_dns,
            nictiz=nictiz,
            # One process of the role delivers its ketenlog (wiring.roles._node_common).
            deliver_ketenlog=worker == 0 and not replica,
            workers=count,
        )
        return at_replica(built, replica)

    trust = [pki.root_cert, *world.extra_trust()]
    if count == 1:
        try:
            listeners = build(0)
        except (WorldError, StateError, ListStateError) as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
        for listener in listeners:
            console.print(f"{chosen.value}: {listener.name} on {listener.endpoint.url()}")
        event_loop.run(
            serve_listeners(
                listeners, pki, trust=trust, listen=address, access_log=access_log, run_id=run_id
            )
        )
        return
    try:
        urls = listener_urls(world, RoleInstance(chosen, instance, replica))
        sockets = bind_sockets(address, [urlsplit(url).port or 443 for url in urls], count)
    except (WorldError, OSError) as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc

    def work(
        index: int,
        sockets: Mapping[int, socket.socket],
        serving: Callable[[], None],
        serving_now: Callable[[], int],
    ) -> None:
        # Each worker's log lines say which worker wrote them.
        logging.basicConfig(
            level=logging.INFO,
            format=f"%(asctime)s %(levelname)s worker {index} %(name)s: %(message)s",
            force=True,
        )
        try:
            listeners = build(index)
        except (WorldError, StateError, ListStateError) as exc:
            raise WorkerRefused(str(exc)) from exc
        event_loop.run(
            serve_listeners(
                listeners,
                pki,
                trust=trust,
                listen=address,
                access_log=access_log,
                run_id=run_id,
                sockets=sockets,
                on_started=serving,
                workers=(serving_now, count),
            )
        )

    # /metrics of any worker answers the role's totals: every worker counts in files of
    # its own in this directory (runtime.metrics), emptied at every start of the role.
    replica_part = None if replica is None else f"replica{replica}"
    counts = "-".join(p for p in (chosen.value, instance, replica_part) if p)
    with count_across_processes(data_dir.resolve() / "metrics" / counts):
        for url in urls:
            console.print(f"{chosen.value}: {url}, {count} workers")
        code = run_workers(
            count,
            work,
            sockets,
            ended=process_ended,
            refused=lambda message: err.print(f"[red]{escape(message)}[/red]"),
        )
    raise typer.Exit(code)


def _serve_proxy(world: World, dva: str | None, address: str, replica_host: str | None) -> None:
    """`medmij serve proxy --dva ID`: the DVA's replicated nodes, round robin (wiring.proxy)."""
    try:
        routes = proxy_routes(world, dva, replica_host)
    except WorldError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    except (KeyError, IndexError, ValueError) as exc:  # a template naming something else
        err.print(f"--replica-host {replica_host!r}: use {{role}} and {{replica}}", markup=False)
        raise typer.Exit(2) from exc
    if not routes:
        err.print("[red]No node of this DVA has replicas: there is nothing to proxy.[/red]")
        raise typer.Exit(2)
    for port, replicas in routes.items():
        upstreams = ", ".join(f"{host}:{replica}" for host, replica in replicas)
        console.print(f"proxy: port {port} to the replicas at {upstreams}")
    asyncio.run(serve_proxy(routes, listen=address))


@app.command()
def health(
    role: Annotated[
        str,
        typer.Argument(help="stelselnode (or: lists), collector, pgo, authserver, zorgaanbieder"),
    ],
    world_file: WorldOption = None,
    certs: CertsOption = Path("certs"),
    dva: Annotated[str | None, typer.Option(help="Which DVA (id).")] = None,
    pgo: Annotated[str | None, typer.Option(help="Which PGO (hostname).")] = None,
    system_dns: Annotated[bool, typer.Option("--system-dns", help="Resolve with DNS.")] = False,
    replica: Annotated[
        int | None,
        typer.Option("--replica", min=0, help="Check replica N of a replicated node, on its port."),
    ] = None,
) -> None:
    """Check every node of one role over HTTPS (exit 0 when all are healthy)."""
    chosen = _role(role)
    world = _world(world_file)
    root = certs.resolve() / "ca" / "root.pem"
    if not root.is_file():
        err.print(f"[red]No dev root CA at {root}[/red]: give --certs, or run `medmij certs`")
        raise typer.Exit(2)
    instance = dva if chosen in (Role.AUTHSERVER, Role.ZORGAANBIEDER) else pgo
    try:
        if instance is None and chosen is Role.PGO:
            instance = world.pgo_by_hostname().hostname
        if instance is None and chosen not in (Role.STELSELNODE, Role.COLLECTOR):
            if not world.ours():
                raise WorldError("this world runs no DVA of its own")
            instance = world.ours()[0].id
        if replica is not None and chosen not in (Role.AUTHSERVER, Role.ZORGAANBIEDER):
            raise WorldError("--replica is for authserver and zorgaanbieder only")
        urls = listener_urls(world, RoleInstance(chosen, instance, replica))
    except WorldError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    hosts = {} if system_dns else world.hosts()
    healthy = True
    with make_client(trust=[root], hosts=hosts, timeout=5) as client:
        for url in urls:
            try:
                response = client.get(f"{url}/health")
                ok = response.status_code == 200
                detail = response.json().get("status", response.status_code)
            except (httpx.HTTPError, ValueError) as exc:
                ok, detail = False, str(exc) or type(exc).__name__
            healthy &= ok
            console.print(f"{url}: {detail}")
    if not healthy:
        raise typer.Exit(1)


@app.command()
def certs(
    out: Annotated[Path, typer.Option("--out", help="Directory of the dev PKI.")] = Path("certs"),
    world_file: WorldOption = None,
    hostname: Annotated[
        list[str] | None, typer.Option("--hostname", help="Extra node hostnames to certify.")
    ] = None,
) -> None:
    """Make the dev PKI: root, intermediate and a certificate per node of the world."""
    world = _world(world_file)
    names = [*world.our_hostnames(), *(hostname or [])]
    try:
        pki = ensure_dev_pki(out.resolve(), names)
    except ValueError as exc:  # a --hostname that cannot be a certificate's name
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"Root CA:      {pki.root_cert}")
    console.print(f"Intermediate: {pki.intermediate_cert}")
    for name in names:
        leaf = pki.leaf(name)
        console.print(f"{name}: {leaf.cert}")


@app.command()
def version() -> None:
    """Print the version."""
    from importlib.metadata import version as dist_version

    console.print(dist_version("medmij-reference-stack"))


from .demo import demo  # noqa: E402
from .fetch import fetch  # noqa: E402
from .qualify import qualify, qualify_client  # noqa: E402
from .report import report  # noqa: E402
from .simulate import simulate  # noqa: E402

app.command("qualify")(qualify)
app.command("qualify-client")(qualify_client)
app.command("fetch")(fetch)
app.command("demo")(demo)
app.command("report")(report)
app.command("simulate")(simulate)
