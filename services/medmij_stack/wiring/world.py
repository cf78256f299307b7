"""The world: one TOML file that describes every participant of a local MedMij network.

A world names the Stelselnode, the PGOs on the OCL, the DVAs and the zorgaanbieders
they serve, the synthetic persons, and optionally the ketenlog collector (MedMij's central
log, to which every node delivers its ketenlog). Participants marked `external = true` run
elsewhere (a developer's own PGO or XIS): the world lists them on the MedMij lists and
trusts their CA, but `medmij up` does not start them. That is how a vendor puts their
own component in one role and keeps ours in the others.

Everything the lists say (endpoints, hostnames) is derived here, in one place, so that
the Stelselnode publishes exactly what the services serve.
"""

from __future__ import annotations

import json
import socket
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.persons import (
    MAX_PERSONS,
    TestPerson,
    assign_zorgaanbieders,
    test_persons,
)
from medmij_stack.zorgaanbieder.settings import Gedrag

__all__ = [
    "Collector",
    "Dva",
    "Endpoint",
    "Gedrag",
    "Pgo",
    "World",
    "WorldError",
    "Zorgaanbieder",
    "load_world",
    "save_world",
]

Hostname = Annotated[
    str,
    Field(pattern=r"^(([a-z0-9])([a-z0-9-])*(\.))+([a-z0-9])([a-z0-9-])*([a-z0-9])$"),
]
Port = Annotated[int, Field(ge=1, le=65535)]
ZorgaanbiederNaam = Annotated[str, Field(pattern=r"^[a-z]+@medmij$", min_length=10, max_length=57)]

AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret


class WorldError(ValueError):
    """The world file cannot be read or does not describe a consistent network."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Endpoint(_Model):
    """One listening node of ours: a hostname (its certificate's CN and SAN) and a port."""

    hostname: Hostname
    port: Port
    # Replicas (a DVA's nodes only): the ports of several processes that serve this node,
    # each with its certificate; the DVA's proxy listens on `port` and passes each
    # connection, TLS and all, to the next (medmij_stack.wiring.proxy). Empty: one process
    # listens on `port` itself.
    replicas: tuple[Port, ...] = ()

    def url(self, path: str = "") -> str:
        # The official ZAL pattern allows no port in front-channel URIs: leave out the default.
        port = "" if self.port == 443 else f":{self.port}"
        return f"https://{self.hostname}{port}{path}"


class WorldInfo(_Model):
    name: str = "MedMij-wereld"
    development: bool = True
    seed: int = 1
    listen: str = "127.0.0.1"
    # A simulation world: its PGOs read a virtual clock that `medmij simulate` moves
    # (medmij_stack.runtime.clock), and so do all its other services. Only ever in a
    # development world.
    simulation: bool = False

    @model_validator(mode="after")
    def _simulation_is_development(self) -> Self:
        if self.simulation and not self.development:
            raise ValueError(
                "simulation = true needs development = true: a virtual clock "
                "is never run in a real network"
            )
        return self


class Workers(_Model):
    """Worker processes per role (`medmij up --workers N` sets both); unset: the machine's
    default (medmij_stack.wiring.roles.default_workers). The other roles run one each
    (medmij_stack.wiring.roles.SINGLE_WORKER says why)."""

    authserver: Annotated[int, Field(ge=1, le=32)] | None = None
    zorgaanbieder: Annotated[int, Field(ge=1, le=32)] | None = None
    pgo: Annotated[int, Field(ge=1, le=32)] | None = None


class Stelselnode(_Model):
    hostname: Hostname = "stelselnode.localhost"
    port: Port = 8440
    refresh_seconds: Annotated[int, Field(ge=5, le=900)] = 60

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(hostname=self.hostname, port=self.port)


class Collector(_Model):
    """The ketenlog collector: the central log every node of ours delivers its ketenlog to.

    It is on the Whitelist, so that nodes may call it (a client checks its peer's host name
    there before connecting) and it admits only nodes that are on it.
    """

    hostname: Hostname = "collector.localhost"
    port: Port = 8447

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(hostname=self.hostname, port=self.port)


class Persons(_Model):
    count: Annotated[int, Field(ge=0, le=MAX_PERSONS)] = 12


class Pgo(_Model):
    """A PGO Server (DVP) on the OAuth Client List."""

    hostname: Hostname
    naam: Annotated[str, Field(min_length=3, max_length=50)]
    port: Port | None = None
    whitelisted: bool = True
    external: bool = False
    ca: Path | None = None  # external: the CA that issued its client certificate
    gegevensdiensten: tuple[str, ...] | None = None  # OCL: services it may ask for

    @model_validator(mode="after")
    def _ours_have_a_port(self) -> Self:
        if not self.external and self.port is None:
            raise ValueError(f"PGO {self.hostname} runs here, so it needs a port")
        return self

    @property
    def endpoint(self) -> Endpoint:
        assert self.port is not None
        return Endpoint(hostname=self.hostname, port=self.port)


class Zorgaanbieder(_Model):
    naam: ZorgaanbiederNaam
    weergavenaam: Annotated[str, Field(min_length=3, max_length=50)]
    aanbiedertype: Literal["ZA", "BAZB", "APD"] = "ZA"
    gegevensdiensten: tuple[str, ...]
    deelt: bool = True  # false: listed, but the beschikbaarheidstoets says "no data"
    nictiz: bool = False  # serves the Nictiz qualification fixtures when found
    gedrag: Gedrag = Gedrag()  # simulated misbehaviour of its resource server; off by default
    # The age rule of its beschikbaarheidstoets (Verantwoordelijkheden, Zorg), e.g. 16: a
    # younger person is answered as one without data there.
    minimumleeftijd: Annotated[int, Field(ge=0, le=120)] | None = None

    @field_validator("gegevensdiensten")
    @classmethod
    def _in_catalogue(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        # catalogue.get raises KeyError, which pydantic would let through as a crash.
        unknown = [gid for gid in ids if gid not in catalogue.CATALOGUE]
        if unknown:
            raise ValueError(f"gegevensdienst {', '.join(unknown)} is not in the MedMij catalogue")
        return ids

    @property
    def bare(self) -> str:
        """The name without "@medmij", as used in scopes and URL paths."""
        return self.naam.removesuffix("@medmij")


class Dva(_Model):
    """A Dienstverlener aanbieder: an authorisation server plus a resource server."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    naam: str
    # The DVA's phone number for people: the "technische storing" page must show it
    # (Technische storing, Core), so a DVA that runs here cannot do without.
    telefoon: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    interfaceversie: str = "2.0.0"
    external: bool = False
    # Ours: whether an authorization request must carry PKCE (RFC 7636, S256).
    pkce: Literal["required", "optional"] = "optional"
    # Ours: serve authorization requests with neither state nor PKCE (a legacy client; no
    # CSRF protection, warned about at startup and in /health).
    allow_requests_without_state_or_pkce: bool = False
    zorgaanbieder: tuple[Zorgaanbieder, ...] = ()
    # Ours: three listening nodes.
    front: Endpoint | None = None
    back: Endpoint | None = None
    resource: Endpoint | None = None
    # External: where it lives and who signed its certificates.
    ca: Path | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    resource_endpoints: dict[str, str] = {}
    whitelist: tuple[Hostname, ...] = ()
    # Ours: SQLAlchemy URLs of the authorisation and resource server's databases; unset,
    # a SQLite file in the data dir. Replicas of a node share one (PostgreSQL).
    authserver_database: str | None = None
    zorgaanbieder_database: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.external:
            missing = [
                name
                for name in ("authorization_endpoint", "token_endpoint")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"external DVA {self.id} needs {', '.join(missing)}")
            urls = {
                "authorization_endpoint": self.authorization_endpoint,
                "token_endpoint": self.token_endpoint,
                **{f"resource_endpoints.{k}": v for k, v in self.resource_endpoints.items()},
            }
            for name, url in urls.items():
                # The lists carry these as they are; junk here would stop the Stelselnode.
                parts = urlsplit(url or "")
                if parts.scheme != "https" or not parts.hostname:
                    raise ValueError(
                        f"external DVA {self.id}: {name} must be an https URL, not {url!r}"
                    )
            for za in self.zorgaanbieder:
                for gid in za.gegevensdiensten:
                    if gid not in self.resource_endpoints:
                        raise ValueError(
                            f"external DVA {self.id}: no resource_endpoints entry for "
                            f"gegevensdienst {gid} of {za.naam}"
                        )
        else:
            if self.front is None or self.back is None or self.resource is None:
                raise ValueError(f"DVA {self.id} runs here: give front, back and resource")
            if len(self.front.replicas) != len(self.back.replicas):
                raise ValueError(
                    f"DVA {self.id}: front and back are served by the same authorisation "
                    "server processes: give them as many replicas"
                )
            if not (self.telefoon or "").strip():
                raise ValueError(
                    f"DVA {self.id} runs here: give telefoon, the phone number its "
                    "'technische storing' page shows"
                )
            for za in self.zorgaanbieder:
                for gid in za.gegevensdiensten:
                    if not catalogue.get(gid).served:
                        raise ValueError(
                            f"{za.naam}: gegevensdienst {gid} is not served by this stack "
                            f"(served: {', '.join(g.id for g in catalogue.served())})"
                        )
        return self

    # The URL scheme of our own DVA, in one place.
    @property
    def authorization_url(self) -> str:
        if self.external:
            assert self.authorization_endpoint is not None
            return self.authorization_endpoint
        assert self.front is not None
        return self.front.url(AUTHORIZE_PATH)

    @property
    def token_url(self) -> str:
        if self.external:
            assert self.token_endpoint is not None
            return self.token_endpoint
        assert self.back is not None
        return self.back.url(TOKEN_PATH)

    def resource_path(self, za: Zorgaanbieder, gegevensdienst: str) -> str:
        """Path prefix of one (zorgaanbieder, gegevensdienst) FHIR base on our resource node."""
        return f"/{za.bare}/{gegevensdienst}/fhir"

    def resource_url(self, za: Zorgaanbieder, gegevensdienst: str) -> str:
        if self.external:
            return self.resource_endpoints[gegevensdienst]
        assert self.resource is not None
        return self.resource.url(self.resource_path(za, gegevensdienst))

    @property
    def nodes(self) -> tuple[Endpoint, ...]:
        return tuple(e for e in (self.front, self.back, self.resource) if e is not None)

    @property
    def whitelisted_hostnames(self) -> tuple[str, ...]:
        """Hostnames of this DVA that make or take back-channel calls."""
        if self.external:
            if self.whitelist:
                return self.whitelist
            urls = [self.token_url, *self.resource_endpoints.values()]
            return tuple(dict.fromkeys(urlsplit(u).hostname or "" for u in urls))
        assert self.back is not None
        assert self.resource is not None
        return (self.back.hostname, self.resource.hostname)


class World(_Model):
    world: WorldInfo = WorldInfo()
    stelselnode: Stelselnode = Stelselnode()
    collector: Collector | None = None
    persons: Persons = Persons()
    pgo: tuple[Pgo, ...] = ()
    dva: tuple[Dva, ...] = ()
    workers: Workers = Workers()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [za.naam for dva in self.dva for za in dva.zorgaanbieder]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"zorgaanbieder named twice: {', '.join(duplicates)}")
        ids = [dva.id for dva in self.dva]
        if len(ids) != len(set(ids)):
            raise ValueError("two DVAs share an id")
        hosts = [e.hostname for e in self.endpoints()]
        if len(hosts) != len(set(hosts)):
            raise ValueError("two listening nodes share a hostname")
        ports = [port for e in self.endpoints() for port in (e.port, *e.replicas)]
        if len(ports) != len(set(ports)):
            raise ValueError("two listening nodes share a port")
        if not any(p.whitelisted for p in self.pgo):
            raise ValueError("no PGO on the Whitelist: nothing could retrieve data")
        if not self.world.development:
            ported = [d.id for d in self.ours() if d.front is not None and d.front.port != 443]
            if ported:
                raise ValueError(
                    f"DVA {', '.join(ported)}: the official ZAL pattern forbids a port in the "
                    "AuthorizationEndpointuri; listen on 443 or set world.development = true"
                )
        return self

    # --- what runs here ------------------------------------------------------------

    def endpoints(self) -> Iterator[Endpoint]:
        """Every node that we run, the Stelselnode first."""
        yield self.stelselnode.endpoint
        if self.collector is not None:
            yield self.collector.endpoint
        for pgo in self.pgo:
            if not pgo.external:
                yield pgo.endpoint
        for dva in self.dva:
            if not dva.external:
                yield from dva.nodes

    def our_hostnames(self) -> tuple[str, ...]:
        """Hostnames that need a certificate from the dev PKI."""
        return tuple(e.hostname for e in self.endpoints())

    def whitelist(self) -> tuple[str, ...]:
        """The Whitelist: nodes allowed on the back channel.

        The Stelselnode is not on it but is deemed to be (UCI Opvragen Whitelist). The
        collector is, last: nodes call it on the back channel.
        """
        names = [p.hostname for p in self.pgo if p.whitelisted]
        for dva in self.dva:
            names.extend(dva.whitelisted_hostnames)
        if self.collector is not None:
            names.append(self.collector.hostname)
        return tuple(dict.fromkeys(names))

    def extra_trust(self) -> tuple[Path, ...]:
        """CA files of external participants, trusted next to the dev root."""
        cas = [p.ca for p in self.pgo if p.external and p.ca is not None]
        cas += [d.ca for d in self.dva if d.external and d.ca is not None]
        return tuple(dict.fromkeys(cas))

    def hosts(self) -> dict[str, str]:
        """Name resolution for the stack's own clients: our nodes live on `listen`."""
        address = self.world.listen if self.world.listen not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
        return {hostname: address for hostname in self.our_hostnames()}

    def ours(self) -> tuple[Dva, ...]:
        return tuple(d for d in self.dva if not d.external)

    def dva_by_id(self, dva_id: str) -> Dva:
        for dva in self.dva:
            if dva.id == dva_id:
                return dva
        raise WorldError(f"no DVA with id {dva_id!r} (known: {', '.join(d.id for d in self.dva)})")

    def pgo_by_hostname(self, hostname: str | None = None) -> Pgo:
        ours = [p for p in self.pgo if not p.external]
        for pgo in ours:
            if hostname is None or pgo.hostname == hostname:
                return pgo
        raise WorldError(f"no PGO of ours with hostname {hostname!r}")

    # --- persons -------------------------------------------------------------------

    def persons_list(self) -> tuple[TestPerson, ...]:
        return test_persons(self.world.seed, self.persons.count)

    def sharing_zorgaanbieders(self) -> tuple[str, ...]:
        """Zorgaanbieders (of our DVAs) that hold synthetic persons' data, in world order."""
        return tuple(
            za.naam for dva in self.ours() for za in dva.zorgaanbieder if za.deelt and not za.nictiz
        )

    def person_zorgaanbieders(self) -> dict[str, tuple[str, ...]]:
        """BSN → names of the zorgaanbieders (of our DVAs) that hold data for that person."""
        return assign_zorgaanbieders(
            self.world.seed, self.persons_list(), self.sharing_zorgaanbieders()
        )

    # --- variations ----------------------------------------------------------------

    def with_free_ports(self) -> World:
        """A copy in which every node of ours listens on a port the OS says is free."""
        data = self.model_dump(mode="python")
        # Each socket stays bound until every port is chosen, so none is handed out twice.
        with ExitStack() as held:
            data["stelselnode"]["port"] = _free_port(held)
            if data["collector"] is not None:
                data["collector"]["port"] = _free_port(held)
            for pgo in data["pgo"]:
                if not pgo["external"]:
                    pgo["port"] = _free_port(held)
            for dva in data["dva"]:
                if not dva["external"]:
                    for node in ("front", "back", "resource"):
                        dva[node]["port"] = _free_port(held)
                        dva[node]["replicas"] = [_free_port(held) for _ in dva[node]["replicas"]]
        return World.model_validate(data)


def save_world(world: World, path: Path) -> Path:
    """Write the effective world (JSON) that `medmij serve` processes read back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(world.model_dump_json(indent=2), "utf-8")
    return path


def _free_port(held: ExitStack) -> int:
    sock = held.enter_context(closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)))
    sock.bind(("127.0.0.1", 0))
    return int(sock.getsockname()[1])


@dataclass(frozen=True)
class _Source:
    text: str
    origin: str


def _read(path: Path | None) -> _Source:
    if path is None:
        text = (
            resources.files("medmij_stack.wiring")
            .joinpath("worlds/default.toml")
            .read_text("utf-8")
        )
        return _Source(text, "the embedded default world")
    try:
        return _Source(path.read_text("utf-8"), str(path))
    except OSError as exc:
        raise WorldError(f"cannot read world file {path}: {exc.strerror}") from exc


def load_world(path: Path | None = None) -> World:
    """Read and check a world; None means the embedded default world."""
    source = _read(path)
    try:
        # JSON is what `medmij up` hands its own processes (the effective world).
        if path is not None and path.suffix == ".json":
            data = json.loads(source.text)
        else:
            data = tomllib.loads(source.text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise WorldError(f"{source.origin} is not valid TOML or JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise WorldError(
            f"{source.origin}: a world is a table of sections, not {type(data).__name__}"
        )
    # Paths of external CAs are relative to the world file.
    base = path.parent if path is not None else Path.cwd()
    for group in ("pgo", "dva"):
        items = data.get(group)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("ca"), str):
                item["ca"] = str((base / item["ca"]).resolve())
    try:
        world = World.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'world'}: {err['msg']}"
            for err in exc.errors()
        )
        raise WorldError(f"{source.origin}: {problems}") from exc
    # Every node loads these into its trust store; a missing one would stop it mid-start.
    missing = [str(ca) for ca in world.extra_trust() if not ca.is_file()]
    if missing:
        raise WorldError(f"{source.origin}: CA file not found: {', '.join(missing)}")
    return world
