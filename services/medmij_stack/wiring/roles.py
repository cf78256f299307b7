"""From a world to the listeners of one role: settings, certificates, apps.

A role is one process: `stelselnode`, `collector` (when the world has one), `pgo`,
`authserver` or `zorgaanbieder` (the last two once per DVA of ours). A role can listen on
more than one node (the authorisation server has a front and a back channel), each with its
own certificate and client certificate policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from medmij_stack.protocol.dva_contract import AVAILABILITY_PATH
from medmij_stack.protocol.lists import ListKind
from medmij_stack.runtime.devpki import DevPKI
from medmij_stack.runtime.ketenlog_delivery import DELIVERY_PATH

from .publication import publication
from .world import Collector, Dva, Endpoint, Pgo, World, WorldError

if TYPE_CHECKING:
    from medmij_stack.zorgaanbieder.settings import ZorgaanbiederSettings

__all__ = [
    "Listener",
    "Role",
    "RoleInstance",
    "collector_locations",
    "listener_urls",
    "listeners_for",
    "pgo_data_dir",
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

    @property
    def label(self) -> str:
        return self.role.value if self.instance is None else f"{self.role.value}:{self.instance}"

    def argv(self) -> list[str]:
        if self.role in (Role.AUTHSERVER, Role.ZORGAANBIEDER):
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
        result += [RoleInstance(Role.AUTHSERVER, dva.id), RoleInstance(Role.ZORGAANBIEDER, dva.id)]
    return result


def listener_urls(world: World, instance: RoleInstance) -> tuple[str, ...]:
    """Base URL of every listener of one role instance."""
    if instance.role is Role.STELSELNODE:
        return (world.stelselnode.endpoint.url(),)
    if instance.role is Role.COLLECTOR:
        return (_collector(world).endpoint.url(),)
    if instance.role is Role.PGO:
        return (world.pgo_by_hostname(instance.instance).endpoint.url(),)
    dva = _dva(world, instance.instance)
    assert dva.front
    assert dva.back
    assert dva.resource
    if instance.role is Role.AUTHSERVER:
        return (dva.front.url(), dva.back.url())
    return (dva.resource.url(),)


def _node_common(
    world: World, pki: DevPKI, hostname: str, data_dir: Path, *, resolve: bool
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
        "data_dir": data_dir,
        # Where the node delivers its ketenlog (medmij_stack.runtime.ketenlog_delivery).
        "collector_url": (
            None if world.collector is None else world.collector.endpoint.url(DELIVERY_PATH)
        ),
    }


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
) -> list[Listener]:
    """Build the apps of one role. Imports a service only when its role is asked for.

    ``nictiz``: the Nictiz qualification material, for the resource server.
    """
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
                create_collector(collector_settings),
                "back",
            )
        ]

    if role is Role.PGO:
        from medmij_stack.pgo.app import create_app as create_pgo
        from medmij_stack.pgo.settings import DemoAccount, PgoSettings

        from .demo_accounts import demo_logins

        pgo = world.pgo_by_hostname(instance)
        common = _node_common(
            world, pki, pgo.hostname, pgo_data_dir(world, pgo, data_dir), resolve=resolve
        )
        simulated: dict[str, object] = {}
        clock = None
        if world.world.simulation:
            from .clock import VirtualClock

            # medmij_stack.wiring.clock: time as `medmij simulate` moves it; the background
            # job (sweeps, refreshes) runs often, so that jumps of the clock are seen soon,
            # and demo accounts get the cheapest password hash allowed (thousands of them).
            clock = VirtualClock(data_dir)
            simulated = {"background_interval_seconds": 1.0, "password_cost": 14}
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
        app = create_pgo(settings) if clock is None else create_pgo(settings, clock=clock)
        return [Listener("pgo", pgo.endpoint, "none", app, "front")]

    dva = _dva(world, instance)
    assert dva.front is not None
    assert dva.back is not None
    assert dva.resource is not None
    names = tuple(za.naam for za in dva.zorgaanbieder)
    if role is Role.AUTHSERVER:
        from medmij_stack.authserver.app import create_apps
        from medmij_stack.authserver.settings import AuthserverSettings

        common = _node_common(
            world, pki, dva.back.hostname, data_dir / f"authserver-{dva.id}", resolve=resolve
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
            **common,  # type: ignore[arg-type]
        )
        channels = create_apps(auth_settings)
        return [
            Listener("authserver-front", dva.front, "none", channels.front, "front"),
            Listener("authserver-back", dva.back, "optional", channels.back, "back"),
        ]

    from medmij_stack.zorgaanbieder.app import create_app as create_zorgaanbieder

    za_settings = zorgaanbieder_settings(
        world, pki, data_dir, dva=dva, resolve=resolve, nictiz=nictiz
    )
    return [
        Listener("resource", dva.resource, "optional", create_zorgaanbieder(za_settings), "back")
    ]


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
) -> ZorgaanbiederSettings:
    """The resource server settings of one DVA of ours: what it serves, for whom, how."""
    from medmij_stack.protocol.dva_contract import INTROSPECTION_PATH
    from medmij_stack.zorgaanbieder.settings import ServedZorgaanbieder, ZorgaanbiederSettings

    assert dva.back is not None
    assert dva.resource is not None
    common = _node_common(
        world, pki, dva.resource.hostname, data_dir / f"zorgaanbieder-{dva.id}", resolve=resolve
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
        **common,  # type: ignore[arg-type]
    )
