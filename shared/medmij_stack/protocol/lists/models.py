"""The four MedMij lists as immutable values.

The Afsprakenstelsel coordinates PGO's and zorgaanbieders through four XML lists
published by the MedMij Stelselnode ("XML-schema's" page; docs/protocol.md#the-lists):
the Zorgaanbiederslijst (ZAL), the OAuth Client List (OCL), the
Gegevensdienstnamenlijst (GNL) and the Whitelist. This module holds their content
as frozen dataclasses with the look-ups nodes need; reading and writing XML lives in
`medmij_stack.protocol.lists.reader` and `medmij_stack.protocol.lists.writer`.

Every list carries a `Tijdstempel` (timezone-aware: the schemas require a zone) and
a `Volgnummer` (positive; raised by one on each publication).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

ZAL_RELEASE2_NAMESPACE = "xmlns://afsprakenstelsel.medmij.nl/zorgaanbiederslijst/release2/"
ZAL_RELEASE3_NAMESPACE = "xmlns://afsprakenstelsel.medmij.nl/zorgaanbiederslijst/release3/"
OCL_NAMESPACE = "xmlns://afsprakenstelsel.medmij.nl/oauthclientlist/release2/"
GNL_NAMESPACE = "xmlns://afsprakenstelsel.medmij.nl/gegevensdienstnamenlijst/release1/"
WHITELIST_NAMESPACE = "xmlns://afsprakenstelsel.medmij.nl/whitelist/release2/"

RELEASE2_AANBIEDERTYPE = "ZA"
"""Aanbiedertype given to every Zorgaanbieder read from a release2 ZAL.

Release2 predates Aanbiedertype; all its entries were zorgaanbieders.
"""

RELEASE2_INTERFACEVERSIE = "1.0.0"
"""InterfaceversieId of the single Interfaceversie a release2 Zorgaanbieder gets.

Release2 has no interfaceversie level; its lists belong to Afsprakenstelsel 1.0/1.1,
whose interface is taken to be version 1.0.0 here.
"""

ZORGAANBIEDERNAAM_SUFFIX = "@medmij"


class ListKind(enum.Enum):
    """The four lists, with their file names and (current) namespaces.

    File names come from the "XML-schema's" page: "Het XML-bestand van de
    Zorgaanbiederslijst heet MedMij_Zorgaanbiederslijst.xml", and so on.
    """

    ZAL = "ZAL"
    OCL = "OCL"
    GNL = "GNL"
    WHITELIST = "WHITELIST"

    @property
    def filename(self) -> str:
        return _FILENAMES[self]

    @property
    def namespace(self) -> str:
        """The namespace written by this project; for the ZAL that is release3."""
        return _NAMESPACES[self]

    @property
    def root(self) -> str:
        """Local name of the root element, also the list's name in messages."""
        return _ROOTS[self]


_FILENAMES = {
    ListKind.ZAL: "MedMij_Zorgaanbiederslijst.xml",
    ListKind.OCL: "MedMij_OAuthclientlist.xml",
    ListKind.GNL: "MedMij_Gegevensdienstnamenlijst.xml",
    ListKind.WHITELIST: "MedMij_Whitelist.xml",
}
_NAMESPACES = {
    ListKind.ZAL: ZAL_RELEASE3_NAMESPACE,
    ListKind.OCL: OCL_NAMESPACE,
    ListKind.GNL: GNL_NAMESPACE,
    ListKind.WHITELIST: WHITELIST_NAMESPACE,
}
_ROOTS = {
    ListKind.ZAL: "Zorgaanbiederslijst",
    ListKind.OCL: "OAuthclientlist",
    ListKind.GNL: "Gegevensdienstnamenlijst",
    ListKind.WHITELIST: "Whitelist",
}


def _check_header(tijdstempel: datetime, volgnummer: int) -> None:
    # The schemas demand a zone and a positive number; refusing here keeps a model
    # that could never be written from travelling through the system.
    if tijdstempel.tzinfo is None or tijdstempel.utcoffset() is None:
        raise ValueError("Tijdstempel must be timezone-aware")
    if volgnummer < 1:
        raise ValueError(f"Volgnummer must be positive, not {volgnummer}")


def _hostname_key(hostname: str) -> str:
    # Host names compare case-insensitively (RFC 4343); a trailing dot is the
    # absolute form of the same name.
    return hostname.lower().removesuffix(".")


_VERSION_PART = re.compile(r"\d+")


def _version_key(version: str) -> tuple[tuple[int, int, str], ...]:
    # "1.10.0" must sort after "1.9.0"; non-numeric parts sort after numeric ones.
    return tuple(
        (0, int(part), "") if _VERSION_PART.fullmatch(part) else (1, 0, part)
        for part in version.split(".")
    )


@dataclass(frozen=True, slots=True)
class Systeemrol:
    """A serving system role of a gegevensdienst and the FHIR endpoint that plays it."""

    code: str
    resource_endpoint: str


@dataclass(frozen=True, slots=True)
class Abonneren:
    """Subscription support (ZAL release3): maximum duration in days and endpoint."""

    maximale_duur: int
    subscription_endpoint: str


@dataclass(frozen=True, slots=True)
class Gegevensdienst:
    """One gegevensdienst of a zorgaanbieder within one interfaceversie.

    The OAuth endpoints are optional from release3 on; release2 always has both.
    """

    id: str
    authorization_endpoint: str | None
    token_endpoint: str | None
    systeemrollen: tuple[Systeemrol, ...]
    abonneren: Abonneren | None = None

    def systeemrol(self, code: str) -> Systeemrol | None:
        return next((rol for rol in self.systeemrollen if rol.code == code), None)


@dataclass(frozen=True, slots=True)
class Interfaceversie:
    """The gegevensdiensten a zorgaanbieder offers under one interface version."""

    id: str
    gegevensdiensten: tuple[Gegevensdienst, ...]

    def gegevensdienst(self, id: str) -> Gegevensdienst | None:
        return next((dienst for dienst in self.gegevensdiensten if dienst.id == id), None)


@dataclass(frozen=True, slots=True)
class Zorgaanbieder:
    """One entry of the ZAL.

    `aanbiedertype` is "ZA", "BAZB" or "APD". An entry read from a release2 ZAL has
    aanbiedertype `RELEASE2_AANBIEDERTYPE` and a single interfaceversie with id
    `RELEASE2_INTERFACEVERSIE`.
    """

    naam: str
    aanbiedertype: str
    interfaceversies: tuple[Interfaceversie, ...]

    def interfaceversie(self, id: str) -> Interfaceversie | None:
        return next((versie for versie in self.interfaceversies if versie.id == id), None)

    def gegevensdienst(self, id: str) -> Gegevensdienst | None:
        """The gegevensdienst with this id, taken from the newest interfaceversie offering it.

        "Newest" compares InterfaceversieIds as dotted version numbers, so "1.10.0"
        is newer than "1.9.0"; document order does not matter.
        """
        for versie in sorted(
            self.interfaceversies, key=lambda versie: _version_key(versie.id), reverse=True
        ):
            dienst = versie.gegevensdienst(id)
            if dienst is not None:
                return dienst
        return None

    @property
    def gegevensdienst_ids(self) -> frozenset[str]:
        """Every GegevensdienstId offered under any interfaceversie."""
        return frozenset(
            dienst.id for versie in self.interfaceversies for dienst in versie.gegevensdiensten
        )


@dataclass(frozen=True, slots=True)
class Zorgaanbiederslijst:
    """The ZAL: which zorgaanbieders exist and where their endpoints are."""

    tijdstempel: datetime
    volgnummer: int
    zorgaanbieders: tuple[Zorgaanbieder, ...]
    _index: dict[str, Zorgaanbieder] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_header(self.tijdstempel, self.volgnummer)
        object.__setattr__(self, "_index", {za.naam: za for za in self.zorgaanbieders})

    def get(self, naam: str) -> Zorgaanbieder | None:
        """Look up by Zorgaanbiedernaam; "umcharderwijk" finds "umcharderwijk@medmij"."""
        key = naam.lower()
        if not key.endswith(ZORGAANBIEDERNAAM_SUFFIX):
            key += ZORGAANBIEDERNAAM_SUFFIX
        return self._index.get(key)


@dataclass(frozen=True, slots=True)
class OAuthclient:
    """A PGO server known to the OCL.

    `gegevensdiensten` is the set of GegevensdienstIds the client is qualified for
    (an unverified Afsprakenstelsel 2.x extension, see the OCL schema); None means
    the list does not say, which is the case for every published release2 list.
    """

    hostname: str
    organisatienaam: str
    gegevensdiensten: frozenset[str] | None = None

    def is_qualified_for(self, gegevensdienst_id: str) -> bool:
        """False only when the list names the client's gegevensdiensten and this is not one."""
        return self.gegevensdiensten is None or gegevensdienst_id in self.gegevensdiensten


@dataclass(frozen=True, slots=True)
class OAuthclientlist:
    """The OCL: which PGO servers may act as OAuth client, and their display names."""

    tijdstempel: datetime
    volgnummer: int
    clients: tuple[OAuthclient, ...]
    _index: dict[str, OAuthclient] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_header(self.tijdstempel, self.volgnummer)
        object.__setattr__(
            self, "_index", {_hostname_key(client.hostname): client for client in self.clients}
        )

    def get(self, hostname: str) -> OAuthclient | None:
        """Look up by host name, case-insensitively."""
        return self._index.get(_hostname_key(hostname))


@dataclass(frozen=True, slots=True)
class GegevensdienstNaam:
    """A GegevensdienstId and the name shown to people."""

    id: str
    weergavenaam: str


@dataclass(frozen=True, slots=True)
class Gegevensdienstnamenlijst:
    """The GNL: display names of gegevensdiensten."""

    tijdstempel: datetime
    volgnummer: int
    gegevensdiensten: tuple[GegevensdienstNaam, ...]
    _index: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_header(self.tijdstempel, self.volgnummer)
        object.__setattr__(
            self, "_index", {naam.id: naam.weergavenaam for naam in self.gegevensdiensten}
        )

    def weergavenaam(self, id: str) -> str | None:
        return self._index.get(id)


@dataclass(frozen=True, slots=True)
class Whitelist:
    """The host names of MedMij nodes that may be talked to.

    The MedMij Stelselnode itself is not on the list but counts as being on it
    (Afsprakenstelsel 1.x, Whitelist); callers add it themselves.
    """

    tijdstempel: datetime
    volgnummer: int
    hostnames: tuple[str, ...]
    _keys: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_header(self.tijdstempel, self.volgnummer)
        object.__setattr__(self, "_keys", frozenset(_hostname_key(h) for h in self.hostnames))

    def __contains__(self, hostname: object) -> bool:
        """Case-insensitive membership of a host name (a trailing dot is ignored)."""
        return isinstance(hostname, str) and _hostname_key(hostname) in self._keys


MedMijList: TypeAlias = Zorgaanbiederslijst | OAuthclientlist | Gegevensdienstnamenlijst | Whitelist
"""Any one of the four lists."""
