"""What the Stelselnode of a world publishes: the four MedMij lists, derived from the world.

The lists are the only place where PGOs learn endpoints (ZAL), where authorisation
servers learn clients (OCL), where everyone learns display names (GNL) and which nodes
may talk on the back channel (Whitelist). Deriving all of them from the world in one
function keeps what is published and what is served from drifting apart.

Volgnummer and Tijdstempel are placeholders here: the Stelselnode sets them when it
publishes, raising the Volgnummer by one whenever the content changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.lists import (
    Gegevensdienst,
    GegevensdienstNaam,
    Gegevensdienstnamenlijst,
    Interfaceversie,
    OAuthclient,
    OAuthclientlist,
    Systeemrol,
    Whitelist,
    Zorgaanbieder,
    Zorgaanbiederslijst,
)

from .world import Dva, World

__all__ = ["Publication", "publication"]

_PLACEHOLDER_TIME = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Publication:
    zal: Zorgaanbiederslijst
    ocl: OAuthclientlist
    gnl: Gegevensdienstnamenlijst
    whitelist: Whitelist


def _zorgaanbieders(dva: Dva) -> list[Zorgaanbieder]:
    result = []
    for za in dva.zorgaanbieder:
        diensten = []
        for gid in za.gegevensdiensten:
            entry = catalogue.get(gid)
            rollen = tuple(
                Systeemrol(code=code, resource_endpoint=dva.resource_url(za, gid))
                for code in entry.systeemrollen
            )
            diensten.append(
                Gegevensdienst(
                    id=gid,
                    authorization_endpoint=dva.authorization_url,
                    token_endpoint=dva.token_url,
                    systeemrollen=rollen,
                )
            )
        result.append(
            Zorgaanbieder(
                naam=za.naam,
                aanbiedertype=za.aanbiedertype,
                interfaceversies=(
                    Interfaceversie(id=dva.interfaceversie, gegevensdiensten=tuple(diensten)),
                ),
            )
        )
    return result


def publication(world: World) -> Publication:
    """The four lists for `world`, with placeholder Volgnummer 1 and a fixed Tijdstempel."""
    zorgaanbieders = [za for dva in world.dva for za in _zorgaanbieders(dva)]
    zal = Zorgaanbiederslijst(
        tijdstempel=_PLACEHOLDER_TIME,
        volgnummer=1,
        zorgaanbieders=tuple(sorted(zorgaanbieders, key=lambda z: z.naam)),
    )
    ocl = OAuthclientlist(
        tijdstempel=_PLACEHOLDER_TIME,
        volgnummer=1,
        clients=tuple(
            OAuthclient(
                hostname=pgo.hostname,
                organisatienaam=pgo.naam,
                gegevensdiensten=None
                if pgo.gegevensdiensten is None
                else frozenset(pgo.gegevensdiensten),
            )
            for pgo in world.pgo
        ),
    )
    # The GNL names every gegevensdienst of the catalogue that has not ended, so that a
    # PGO can show a name for any service any zorgaanbieder offers.
    gnl = Gegevensdienstnamenlijst(
        tijdstempel=_PLACEHOLDER_TIME,
        volgnummer=1,
        gegevensdiensten=tuple(
            GegevensdienstNaam(id=g.id, weergavenaam=g.naam)
            for g in sorted(catalogue.CATALOGUE.values(), key=lambda g: int(g.id))
            if g.ended is None
        ),
    )
    whitelist = Whitelist(tijdstempel=_PLACEHOLDER_TIME, volgnummer=1, hostnames=world.whitelist())
    return Publication(zal=zal, ocl=ocl, gnl=gnl, whitelist=whitelist)
