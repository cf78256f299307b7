"""From a world to the listeners of one role: settings, certificates, apps.

A role is one process: `stelselnode`, `collector` (when the world has one), `pgo`,
`authserver` or `zorgaanbieder` (the last two once per DVA of ours). A role can listen on
more than one node (the authorisation server has a front and a back channel), each with its
own certificate and client certificate policy.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from medmij_stack.protocol.dva_contract import AVAILABILITY_PATH
from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.protocol.lists import ListKind
from medmij_stack.runtime.clock import VirtualClock
from medmij_stack.runtime.devpki import DevPKI
from medmij_stack.runtime.ketenlog_delivery import DELIVERY_PATH

from .publication import publication
from .world import Collector, Dva, Endpoint, Pgo, World, WorldError

if TYPE_CHECKING:
    from medmij_stack.zorgaanbieder.settings import ZorgaanbiederSettings

__all__ = [
    "SINGLE_WORKER",
    "Listener",
    "Role",
    "RoleInstance",
    "at_replica",
    "collector_locations",
    "default_workers",
    "instance_workers",
    "listener_urls",
    "listeners_for",
    "pgo_data_dir",
    "proxied_nodes",
    "proxy_routes",
    "replica_endpoint",
    "role_instances",
    "zorgaanbieder_settings",
]

ASGIApp = Callable[..., object]


class Role(StrEnum):
    STELSELNODE = "stelselnode"
    COLLECTOR = "collector"
    PGO = "pgo"
    AUTHSERVER = "authserver"
    ZORGAANBIEDER = "zorgaanbieder"
    # Passes the connections of a DVA's replicated nodes to its replicas
    # (medmij_stack.wiring.proxy); only in a world that gives a node replicas.
    PROXY = "proxy"


SINGLE_WORKER: dict[Role, str] = {
    Role.STELSELNODE: "it numbers and signs the lists it publishes with state in its own "
    "files (volgnummer, digest); one writer keeps that sequence whole",
    Role.COLLECTOR: "it is not on any person's path and its batches are small; one "
    "process keeps its SQLite writes from queueing behind each other",
    Role.PROXY: "it only passes bytes on, a small part of one core; a second process "
    "would only split its round robin in two",
}
"""The roles that run one worker process, and why: each holds state in its process that
another process cannot share. The authorisation server keeps everything in its database
(sessions, flows, codes, tokens, DigiD artifacts) and the resource server shares its one
changing state, revoked tokens, through its database (medmij_stack.runtime.broadcast);
its other caches derive from data every worker loads alike at startup. The PGO keeps its
sessions, attempts, consents and records in its database; a retrieval runs in the worker
that took its token, which also answers the callback that waits for it, and the first
worker does the once-only work (medmij_stack.pgo.runtime)."""


def default_workers(role: Role) -> int:
    """Worker processes per role on this machine: up to two (both cores of a small machine)
    for the roles on a person's path, one where `SINGLE_WORKER` says why."""
    if role in SINGLE_WORKER:
        return 1
    return max(1, min(os.cpu_count() or 1, 2))


@dataclass(frozen=True)
class Listener:
    """One HTTPS server: where it listens, as which node, and whom it asks for a certificate."""

    name: str
    endpoint: Endpoint
    client_certs: Literal["none", "optional", "required"]
    app: ASGIApp
    channel: Literal["front", "back", "lists"]


@dataclass(frozen=True)
class RoleInstance:
    """A role of ours in the world, and the argument that selects it in `medmij serve`."""

    role: Role
    instance: str | None  # DVA id or PGO hostname; None for the Stelselnode and the collector
    replica: int | None = None  # which replica of a replicated node; None: not replicated

    @property
    def label(self) -> str:
        label = self.role.value if self.instance is None else f"{self.role.value}:{self.instance}"
        return label if self.replica is None else f"{label}#{self.replica}"

    def argv(self) -> list[str]:
        if self.role in (Role.AUTHSERVER, Role.ZORGAANBIEDER):
            replica = [] if self.replica is None else ["--replica", str(self.replica)]
            return [self.role.value, "--dva", str(self.instance), *replica]
        if self.role is Role.PROXY:
            return [self.role.value, "--dva", str(self.instance)]
        if self.role is Role.PGO:
            return [self.role.value, "--pgo", str(self.instance)]
        return [self.role.value]


def role_instances(world: World) -> list[RoleInstance]:
    """Every process `medmij up` starts for `world`, the Stelselnode first."""
    result = [RoleInstance(Role.STELSELNODE, None)]
    if world.collector is not None:
        result.append(RoleInstance(Role.COLLECTOR, None))
    result += [RoleInstance(Role.PGO, p.hostname) for p in world.pgo if not p.external]
    for dva in world.ours():
        assert dva.back is not None
        assert dva.resource is not None
        for role, node in ((Role.AUTHSERVER, dva.back), (Role.ZORGAANBIEDER, dva.resource)):
            if node.replicas:
                result += [RoleInstance(role, dva.id, i) for i in range(len(node.replicas))]
            else:
                result.append(RoleInstance(role, dva.id))
        if any(node.replicas for node in dva.nodes):
            result.append(RoleInstance(Role.PROXY, dva.id))
    return result


def replica_endpoint(endpoint: Endpoint, replica: int | None) -> Endpoint:
    """Where replica ``replica`` of a node listens (the node itself for None)."""
    if replica is None:
        return endpoint
    if replica not in range(len(endpoint.replicas)):
        raise WorldError(f"{endpoint.hostname} has no replica {replica}")
    return Endpoint(hostname=endpoint.hostname, port=endpoint.replicas[replica])


def at_replica(listeners: list[Listener], replica: int | None) -> list[Listener]:
    """``listeners``, listening where replica ``replica`` of their node does."""
    return [
        replace(listener, endpoint=replica_endpoint(listener.endpoint, replica))
        for listener in listeners
    ]


def proxied_nodes(world: World, dva_id: str | None) -> list[Endpoint]:
    """The nodes of a DVA of ours that its proxy listens for: those with replicas."""
    return [node for node in _dva(world, dva_id).nodes if node.replicas]


def proxy_routes(
    world: World, dva_id: str | None, replica_host: str | None = None
) -> dict[int, list[tuple[str, int]]]:
    """What the DVA's proxy passes on: per port it listens on, each replica's host and port.

    The replicas run where the world's host map puts the node (one machine: `medmij up`),
    or, with ``replica_host``, at the host that template names for each replica:
    ``{role}`` and ``{replica}`` are the replica's role and number, so ``{role}-{replica}``
    reaches the containers ``authserver-0``, ``zorgaanbieder-1``, … (docker-compose).
    """
    dva = _dva(world, dva_id)
    hosts = world.hosts()
    routes: dict[int, list[tuple[str, int]]] = {}
    for node in proxied_nodes(world, dva_id):
        role = Role.ZORGAANBIEDER if node is dva.resource else Role.AUTHSERVER
        routes[node.port] = [
            (
                hosts.get(node.hostname, node.hostname)
                if replica_host is None
                else replica_host.format(role=role.value, replica=index),
                port,
            )
            for index, port in enumerate(node.replicas)
        ]
    return routes


def instance_workers(world: World, instance: RoleInstance, asked: int | None = None) -> int:
    """How many worker processes ``instance`` runs: ``asked`` (``--workers``), else the
    world's ``[workers]``, else `default_workers`; one for a role in `SINGLE_WORKER`."""
    if instance.role in SINGLE_WORKER:
        return 1
    if asked is not None:
        return asked
    configured = getattr(world.workers, instance.role.value, None)
    return configured if configured is not None else default_workers(instance.role)


def listener_urls(world: World, instance: RoleInstance) -> tuple[str, ...]:
    """Base URL of every listener of one role instance."""
    if instance.role is Role.STELSELNODE:
        return (world.stelselnode.endpoint.url(),)
    if instance.role is Role.COLLECTOR:
        return (_collector(world).endpoint.url(),)
    if instance.role is Role.PGO:
        return (world.pgo_by_hostname(instance.instance).endpoint.url(),)
    if instance.role is Role.PROXY:
        return tuple(node.url() for node in proxied_nodes(world, instance.instance))
    dva = _dva(world, instance.instance)
    assert dva.front
    assert dva.back
    assert dva.resource
    nodes = (dva.front, dva.back) if instance.role is Role.AUTHSERVER else (dva.resource,)
    return tuple(replica_endpoint(node, instance.replica).url() for node in nodes)


_JOINING_LISTS_WAIT_SECONDS = 60.0


def _node_common(
    world: World,
    pki: DevPKI,
    hostname: str,
    data_dir: Path,
    *,
    resolve: bool,
    deliver_ketenlog: bool = True,
) -> dict[str, object]:
    leaf = pki.leaf(hostname)
    stelsel = world.stelselnode.endpoint
    return {
        "development": world.world.development,
        "hostname": hostname,
        "cert": leaf.cert,
        "key": leaf.key,
        "trust": (pki.root_cert, *world.extra_trust()),
        "hosts": world.hosts() if resolve else {},
        "lists": {kind: stelsel.url(f"/{kind.filename}") for kind in ListKind},
        "lists_refresh_seconds": float(world.stelselnode.refresh_seconds),
        # A further worker or replica joins a role that serves already: it waits for its
        # lists before it takes connections, or it could only answer them 503.
        "lists_wait_seconds": 0.0 if deliver_ketenlog else _JOINING_LISTS_WAIT_SECONDS,
        "data_dir": data_dir,
        # Where the node delivers its ketenlog (medmij_stack.runtime.ketenlog_delivery).
        # One process of a role delivers (the first worker of the first replica): the
        # others write to the same database, and would only send every record again.
        "collector_url": (
            None
            if world.collector is None or not deliver_ketenlog
            else world.collector.endpoint.url(DELIVERY_PATH)
        ),
    }


def _database(url: str | None) -> dict[str, Any]:
    # Only when the world names one: else the setting's own default (or its environment
    # variable, MEDMIJ_<ROLE>_DATABASE_URL) holds.
    return {} if url is None else {"database_url": url}


def _collector(world: World) -> Collector:
    if world.collector is None:
        raise WorldError("this world has no collector: add a [collector] section")
    return world.collector


def collector_locations(world: World) -> dict[str, tuple[str, ...]]:
    """Per sender, the other hosts it records events under: an authorisation server of ours
    holds its back channel's certificate and also records its front channel's events."""
    return {
        dva.back.hostname: (dva.front.hostname,)
        for dva in world.ours()
        if dva.back is not None and dva.front is not None
    }


def _dva(world: World, dva_id: str | None) -> Dva:
    ours = world.ours()
    if dva_id is None:
        if len(ours) != 1:
            raise WorldError("this world has several DVAs of ours: name one with --dva")
        return ours[0]
    dva = world.dva_by_id(dva_id)
    if dva.external:
        raise WorldError(f"DVA {dva_id} is external: it runs elsewhere, not here")
    return dva


def listeners_for(
    role: Role,
    world: World,
    pki: DevPKI,
    data_dir: Path,
    *,
    instance: str | None = None,
    resolve: bool = True,
    nictiz: Path | None = None,
    deliver_ketenlog: bool = True,
    workers: int = 1,
) -> list[Listener]:
    """Build the apps of one role. Imports a service only when its role is asked for.

    ``nictiz``: the Nictiz qualification material, for the resource server.
    ``deliver_ketenlog``: False in every worker and replica but the first one.
    ``workers``: how many worker processes serve the role (the PGO's settings say it).
    """
    # medmij_stack.runtime.clock: in a simulation world (a development world, always) every
    # role reads the virtual clock `medmij simulate` moves, so that all of them stamp and
    # judge time alike; in any other world the system clock.
    clock: Clock = VirtualClock(data_dir) if world.world.simulation else system_clock
    if role is Role.STELSELNODE:
        from medmij_stack.stelselnode.app import create_app as create_stelselnode
        from medmij_stack.stelselnode.settings import StelselnodeSettings

        node = world.stelselnode
        lists = publication(world)
        app = create_stelselnode(
            StelselnodeSettings(
                hostname=node.hostname,
                development=world.world.development,
                data_dir=data_dir / "stelselnode",
            ),
            {
                ListKind.ZAL: lists.zal,
                ListKind.OCL: lists.ocl,
                ListKind.GNL: lists.gnl,
                ListKind.WHITELIST: lists.whitelist,
            },
            clock=clock,
        )
        return [Listener("lists", node.endpoint, "none", app, "lists")]

    if role is Role.COLLECTOR:
        from medmij_stack.collector.app import create_app as create_collector
        from medmij_stack.collector.settings import CollectorSettings

        collector = _collector(world)
        common = _node_common(
            world, pki, collector.hostname, data_dir / "collector", resolve=resolve
        )
        common["collector_url"] = None  # it delivers to no one
        collector_settings = CollectorSettings(locations=collector_locations(world), **common)  # type: ignore[arg-type]
        return [
            Listener(
                "collector",
                collector.endpoint,
                "optional",  # /health answers without a certificate; the rest needs one
                create_collector(collector_settings, clock=clock),
                "back",
            )
        ]

    if role is Role.PGO:
        from medmij_stack.pgo.app import create_app as create_pgo
        from medmij_stack.pgo.settings import DemoAccount, PgoSettings

        from .demo_accounts import demo_logins

        pgo = world.pgo_by_hostname(instance)
        common = _node_common(
            world,
            pki,
            pgo.hostname,
            pgo_data_dir(world, pgo, data_dir),
            resolve=resolve,
            deliver_ketenlog=deliver_ketenlog,
        )
        # The first worker (the one that delivers) does the role's once-only work too.
        common["leader"] = deliver_ketenlog
        common["workers"] = workers
        simulated: dict[str, object] = {}
        if world.world.simulation:
            # The background job (sweeps, refreshes) runs often, so that jumps of the clock
            # are seen soon; new accounts get the cheapest cost a PGO's settings allow, and
            # the demo accounts, the synthetic persons who log in for every attempt
            # (thousands of them), passwords.SIMULATED.
            simulated = {
                "background_interval_seconds": 1.0,
                "password_cost": 14,
                "simulated_accounts": True,
            }
        settings = PgoSettings(
            naam=pgo.naam,
            public_url=pgo.endpoint.url(),
            # The ZAL carries no names people know; a PGO keeps its own directory of them.
            weergavenamen={
                za.naam: za.weergavenaam for dva in world.dva for za in dva.zorgaanbieder
            },
            demo_accounts=tuple(
                DemoAccount(gebruikersnaam=d.gebruikersnaam, wachtwoord=d.wachtwoord, naam=d.naam)
                for d in demo_logins(world)
            ),
            **simulated,  # type: ignore[arg-type]
            **common,  # type: ignore[arg-type]
        )
        app = create_pgo(settings, clock=clock)
        return [Listener("pgo", pgo.endpoint, "none", app, "front")]

    if role is Role.PROXY:
        raise WorldError("the proxy serves no app: it passes connections on (wiring.proxy)")
    dva = _dva(world, instance)
    assert dva.front is not None
    assert dva.back is not None
    assert dva.resource is not None
    names = tuple(za.naam for za in dva.zorgaanbieder)
    if role is Role.AUTHSERVER:
        from medmij_stack.authserver.app import create_apps
        from medmij_stack.authserver.settings import AuthserverSettings

        common = _node_common(
            world,
            pki,
            dva.back.hostname,
            data_dir / f"authserver-{dva.id}",
            resolve=resolve,
            deliver_ketenlog=deliver_ketenlog,
        )
        auth_settings = AuthserverSettings(
            dva_naam=dva.naam,
            dva_telefoonnummer=dva.telefoon,
            front_hostname=dva.front.hostname,
            front_url=dva.front.url(),
            issuer=dva.back.url(),
            zorgaanbieders=names,
            weergavenamen={za.naam: za.weergavenaam for za in dva.zorgaanbieder},
            persons_seed=world.world.seed,
            persons_count=world.persons.count,
            pkce=dva.pkce,
            allow_requests_without_state_or_pkce=dva.allow_requests_without_state_or_pkce,
            availability_url=dva.resource.url(AVAILABILITY_PATH),
            introspection_clients=(dva.resource.hostname,),
            **_database(dva.authserver_database),
            **common,  # type: ignore[arg-type]
        )
        channels = create_apps(auth_settings, clock=clock)
        return [
            Listener("authserver-front", dva.front, "none", channels.front, "front"),
            Listener("authserver-back", dva.back, "optional", channels.back, "back"),
        ]

    from medmij_stack.zorgaanbieder.app import create_app as create_zorgaanbieder

    za_settings = zorgaanbieder_settings(
        world,
        pki,
        data_dir,
        dva=dva,
        resolve=resolve,
        nictiz=nictiz,
        deliver_ketenlog=deliver_ketenlog,
    )
    resource = create_zorgaanbieder(za_settings, clock=clock)
    return [Listener("resource", dva.resource, "optional", resource, "back")]


def pgo_data_dir(world: World, pgo: Pgo, data_dir: Path) -> Path:
    """Where a PGO of ours keeps its database: ``pgo`` for the first, ``pgo-<hostname>``
    for each further one (every PGO has accounts and attempts of its own)."""
    first = world.pgo_by_hostname()
    return data_dir / ("pgo" if pgo.hostname == first.hostname else f"pgo-{pgo.hostname}")


def zorgaanbieder_settings(
    world: World,
    pki: DevPKI,
    data_dir: Path,
    *,
    dva: Dva,
    resolve: bool = True,
    nictiz: Path | None = None,
    deliver_ketenlog: bool = True,
) -> ZorgaanbiederSettings:
    """The resource server settings of one DVA of ours: what it serves, for whom, how."""
    from medmij_stack.protocol.dva_contract import INTROSPECTION_PATH
    from medmij_stack.zorgaanbieder.settings import ServedZorgaanbieder, ZorgaanbiederSettings

    assert dva.back is not None
    assert dva.resource is not None
    common = _node_common(
        world,
        pki,
        dva.resource.hostname,
        data_dir / f"zorgaanbieder-{dva.id}",
        resolve=resolve,
        deliver_ketenlog=deliver_ketenlog,
    )
    served = tuple(
        ServedZorgaanbieder(
            naam=za.naam,
            gegevensdiensten=za.gegevensdiensten,
            deelt=za.deelt,
            nictiz=za.nictiz,
            gedrag=za.gedrag,
            minimumleeftijd=za.minimumleeftijd,
        )
        for za in dva.zorgaanbieder
    )
    return ZorgaanbiederSettings(
        dva_naam=dva.naam,
        public_url=dva.resource.url(),
        zorgaanbieders=served,
        introspection_url=dva.back.url(INTROSPECTION_PATH),
        seed=world.world.seed,
        persons_count=world.persons.count,
        sharing_zorgaanbieders=world.sharing_zorgaanbieders(),
        nictiz=nictiz,
        **_database(dva.zorgaanbieder_database),
        **common,  # type: ignore[arg-type]
    )
