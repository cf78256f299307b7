"""Finding a zorgaanbieder: the ZAL and GNL the node holds, searched as a person searches.

The lists come from :class:`medmij_stack.runtime.node.ListSubscription`: fetched from the
Stelselnode over mutual TLS at least every 900 s, validated against their XSDs, the last
good version kept when a new one fails. This module only reads the current versions.

A person searches by the name they know (the ZAL carries only the Zorgaanbiedernaam, such
as ``ziekenhuisdemo@medmij``; the names people know come from the PGO's own directory,
``PgoSettings.weergavenamen``, and fall back to the Zorgaanbiedernaam) and by
gegevensdienst, named as the GNL names it. Every word of the search text must occur in the
name, compared without case and accents, so "ziekenhuis demo" finds "Ziekenhuis Demostad".

Only gegevensdiensten the PGO can retrieve are offered: Verzamelen services whose queries
the catalogue knows (:mod:`medmij_stack.protocol.catalogue`), with an authorization and a
token endpoint in the ZAL, and, when the PGO's own OCL entry names services, one of those
(the DVA checks the same, core.authint.202).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.lists import (
    Gegevensdienstnamenlijst,
    OAuthclientlist,
    Zorgaanbieder,
    Zorgaanbiederslijst,
)

__all__ = ["Directory", "Provider", "SearchResult", "Service", "fold"]

MAX_HITS = 50


def fold(text: str) -> str:
    """``text`` without case and accents, for comparing what people type."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True)
class Service:
    """One gegevensdienst of one zorgaanbieder, as the ZAL publishes it."""

    id: str
    naam: str  # GNL Weergavenaam, else the catalogue's name
    interfaceversie: str
    authorization_endpoint: str
    token_endpoint: str
    resource_endpoint: str


@dataclass(frozen=True)
class Provider:
    naam: str  # Zorgaanbiedernaam, e.g. ziekenhuisdemo@medmij
    weergavenaam: str
    services: tuple[Service, ...]  # what this PGO can retrieve there
    not_offered: tuple[str, ...]  # GNL names of services listed there that it cannot

    def service(self, gegevensdienst: str) -> Service | None:
        return next((s for s in self.services if s.id == gegevensdienst), None)


@dataclass(frozen=True)
class SearchResult:
    providers: tuple[Provider, ...]
    more: bool  # more matched than are shown
    lists_ready: bool


@dataclass(frozen=True)
class Directory:
    zal: Zorgaanbiederslijst | None
    gnl: Gegevensdienstnamenlijst | None
    ocl: OAuthclientlist | None
    client_id: str
    weergavenamen: dict[str, str]

    def service_name(self, gegevensdienst: str) -> str:
        name = None if self.gnl is None else self.gnl.weergavenaam(gegevensdienst)
        if name:
            return name
        known = catalogue.CATALOGUE.get(gegevensdienst)
        return known.naam if known is not None else f"Gegevensdienst {gegevensdienst}"

    def provider_name(self, naam: str) -> str:
        return self.weergavenamen.get(naam) or naam.removesuffix("@medmij")

    def _retrievable(self, gegevensdienst: str) -> bool:
        known = catalogue.CATALOGUE.get(gegevensdienst)
        if known is None or known.functie is not catalogue.Functie.VERZAMELEN:
            return False
        if not known.queries:
            return False
        own = None if self.ocl is None else self.ocl.get(self.client_id)
        return own is None or own.is_qualified_for(gegevensdienst)

    def _provider(self, entry: Zorgaanbieder) -> Provider:
        services = []
        not_offered = []
        for gegevensdienst in sorted(entry.gegevensdienst_ids, key=_id_order):
            dienst = entry.gegevensdienst(gegevensdienst)
            versie = next(
                (
                    v.id
                    for v in entry.interfaceversies
                    if v.gegevensdienst(gegevensdienst) is dienst
                ),
                "",
            )
            known = catalogue.CATALOGUE.get(gegevensdienst)
            endpoint = None
            if dienst is not None and dienst.systeemrollen:
                wanted = () if known is None else known.systeemrollen
                rol = next((r for r in dienst.systeemrollen if r.code in wanted), None)
                endpoint = (rol or dienst.systeemrollen[0]).resource_endpoint
            if (
                dienst is not None
                and dienst.authorization_endpoint
                and dienst.token_endpoint
                and endpoint
                and self._retrievable(gegevensdienst)
            ):
                services.append(
                    Service(
                        id=gegevensdienst,
                        naam=self.service_name(gegevensdienst),
                        interfaceversie=versie,
                        authorization_endpoint=dienst.authorization_endpoint,
                        token_endpoint=dienst.token_endpoint,
                        resource_endpoint=endpoint,
                    )
                )
            else:
                not_offered.append(self.service_name(gegevensdienst))
        return Provider(
            naam=entry.naam,
            weergavenaam=self.provider_name(entry.naam),
            services=tuple(services),
            not_offered=tuple(not_offered),
        )

    def provider(self, naam: str) -> Provider | None:
        """The zorgaanbieder with this Zorgaanbiedernaam in the current ZAL."""
        if self.zal is None or not naam.endswith("@medmij"):
            return None
        entry = self.zal.get(naam)
        return None if entry is None else self._provider(entry)

    def offered_services(self) -> list[tuple[str, str]]:
        """(id, name) of every gegevensdienst this PGO can retrieve from someone in the ZAL."""
        if self.zal is None:
            return []
        ids = {
            gid
            for entry in self.zal.zorgaanbieders
            for gid in entry.gegevensdienst_ids
            if self._retrievable(gid)
        }
        return [(gid, self.service_name(gid)) for gid in sorted(ids, key=_id_order)]

    def search(self, zoek: str = "", gegevensdienst: str = "") -> SearchResult:
        if self.zal is None:
            return SearchResult((), more=False, lists_ready=False)
        words = fold(zoek).split()
        hits = []
        for entry in self.zal.zorgaanbieders:
            name = self.provider_name(entry.naam)
            haystack = fold(f"{name} {entry.naam.removesuffix('@medmij')}")
            if not all(word in haystack for word in words):
                continue
            if gegevensdienst and gegevensdienst not in entry.gegevensdienst_ids:
                continue
            hits.append(self._provider(entry))
        hits.sort(key=lambda p: fold(p.weergavenaam))
        return SearchResult(tuple(hits[:MAX_HITS]), more=len(hits) > MAX_HITS, lists_ready=True)


def _id_order(gegevensdienst: str) -> tuple[int, str]:
    return (int(gegevensdienst) if gegevensdienst.isdigit() else 10**9, gegevensdienst)
