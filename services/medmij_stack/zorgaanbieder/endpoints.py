"""The FHIR bases this node serves: one per zorgaanbieder and gegevensdienst of the ZAL.

The ZAL lists a ResourceEndpointuri per (zorgaanbieder, gegevensdienst); the world
(``medmij_stack.wiring.world.Dva.resource_path``) makes it ``<node>/<zorgaanbieder without
@medmij>/<gegevensdienstId>/fhir``, and this module answers exactly those paths. Each
base speaks one FHIR version (catalogue: 48 is 3.0, 63 is 4.0) and holds one dataset, so a
token for one gegevensdienst can never read another's records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.fhir import FhirVersion

from .behaviour import Behaviour
from .capability import Capabilities, capabilities_for, capability_statement
from .dataset import EndpointKey
from .errors import NotFound
from .settings import ServedZorgaanbieder, ZorgaanbiederSettings

__all__ = ["Endpoints", "ServedEndpoint", "endpoint_path"]


def endpoint_path(zorgaanbieder: ServedZorgaanbieder, gegevensdienst: str) -> str:
    """The path of one FHIR base on this node (the same scheme as ``Dva.resource_path``)."""
    return f"/{zorgaanbieder.bare}/{gegevensdienst}/fhir"


@dataclass(frozen=True)
class ServedEndpoint:
    key: EndpointKey
    zorgaanbieder: ServedZorgaanbieder
    dienst: catalogue.Gegevensdienst
    capabilities: Capabilities
    base: str  # absolute: the ResourceEndpointuri
    behaviour: Behaviour
    capability_statement: dict[str, Any]

    @property
    def fhir_version(self) -> FhirVersion:
        return self.capabilities.fhir_version


class Endpoints:
    """Every FHIR base of this node, found by the two path segments before ``/fhir``."""

    def __init__(self, settings: ZorgaanbiederSettings, *, published: date) -> None:
        self._by_path: dict[tuple[str, str], ServedEndpoint] = {}
        self._zorgaanbieders = {za.naam: za for za in settings.zorgaanbieders}
        for za in settings.zorgaanbieders:
            behaviour = Behaviour(za.gedrag, seed=settings.seed, naam=za.naam)
            for gid in za.gegevensdiensten:
                dienst = catalogue.get(gid)
                if not dienst.served:
                    raise ValueError(f"{za.naam}: gegevensdienst {gid} is not served by this node")
                capabilities = capabilities_for(dienst)
                base = settings.public_url + endpoint_path(za, gid)
                self._by_path[(za.bare, gid)] = ServedEndpoint(
                    key=EndpointKey(za.naam, gid),
                    zorgaanbieder=za,
                    dienst=dienst,
                    capabilities=capabilities,
                    base=base,
                    behaviour=behaviour,
                    capability_statement=capability_statement(
                        capabilities,
                        dienst=dienst,
                        zorgaanbieder=za.naam,
                        base=base,
                        published=published,
                    ),
                )
        self._by_key = {e.key: e for e in self._by_path.values()}

    def __iter__(self) -> Iterator[ServedEndpoint]:
        return iter(self._by_path.values())

    def find(self, zorgaanbieder: str, gegevensdienst: str) -> ServedEndpoint:
        """The endpoint at ``/<zorgaanbieder>/<gegevensdienst>/fhir``, or NotFound."""
        found = self._by_path.get((zorgaanbieder, gegevensdienst))
        if found is None:
            raise NotFound("no FHIR endpoint at this address; the ZAL lists the ones there are")
        return found

    def by_key(self, key: EndpointKey) -> ServedEndpoint | None:
        return self._by_key.get(key)

    def zorgaanbieder(self, naam: str) -> ServedZorgaanbieder | None:
        return self._zorgaanbieders.get(naam)
