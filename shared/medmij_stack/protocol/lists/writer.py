"""Writing the list models as MedMij list documents.

The file rules of the "XML-schema's" page (docs/protocol.md#the-lists) apply: XML
1.0 in UTF-8 with an XML declaration, a default namespace without prefix, and
pretty-printed. Tijdstempel is written with seconds and a zone ("Z" for UTC), the
form the schemas' `.{20,}` pattern demands.

By default every document is read back with `medmij_stack.protocol.lists.reader` before it is
returned, so a model that would be refused by receivers (an uppercase host name, a
duplicate Zorgaanbiedernaam, ...) raises `ListValidationError` here instead. That
check uses the development variant of the ZAL schema (a port is allowed in
AuthorizationEndpointuri) because a writer does not know which world a list is
for; a strict world's readers refuse such a ZAL, so publishers validate with
`parse_list(..., development=...)` for their world.

What is written where:

- ZAL: namespace release3. `release=2` writes the older namespace for old
  receivers, but only when nothing would be lost (see `write_zal`).
- OCL: the release2 shape; per-client gegevensdiensten, when a client has them,
  are written as the project's extension, which MedMij's published release2
  schema rejects.
- Whitelist: the current shape (MedMijNode/Hostname) unless `shape="old"`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, TypeAlias

from lxml import etree

from medmij_stack.protocol.lists.errors import ListValidationError
from medmij_stack.protocol.lists.models import (
    RELEASE2_AANBIEDERTYPE,
    RELEASE2_INTERFACEVERSIE,
    ZAL_RELEASE2_NAMESPACE,
    ZAL_RELEASE3_NAMESPACE,
    Gegevensdienst,
    Gegevensdienstnamenlijst,
    ListKind,
    MedMijList,
    OAuthclientlist,
    Whitelist,
    Zorgaanbiederslijst,
)
from medmij_stack.protocol.lists.reader import parse_list
from medmij_stack.protocol.lists.schemas import ZalRelease

WhitelistShape: TypeAlias = Literal["current", "old"]

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_INDENT = "    "


def format_tijdstempel(moment: datetime) -> str:
    """An aware datetime as xs:dateTime with seconds and a zone.

    Microseconds are written only when present. Raises ValueError for a naive
    datetime or a zone offset that is not whole minutes (xs:dateTime has none).
    """
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("Tijdstempel must be timezone-aware")
    if offset % timedelta(minutes=1):
        raise ValueError(f"zone offset {offset} is not a whole number of minutes")
    text = moment.isoformat(timespec="seconds" if moment.microsecond == 0 else "microseconds")
    if not offset:
        text = text.removesuffix("+00:00") + "Z"
    return text


class _Builder:
    def __init__(self, kind: ListKind, namespace: str) -> None:
        self.kind = kind
        self.namespace = namespace

    def root(self, name: str) -> etree._Element:
        # The default namespace has prefix None, which lxml-stubs does not allow for.
        nsmap: dict[Any, str] = {None: self.namespace}
        return etree.Element(f"{{{self.namespace}}}{name}", nsmap=nsmap)

    def add(self, parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        element = etree.SubElement(parent, f"{{{self.namespace}}}{name}")
        if text is not None:
            try:
                element.text = text
            except ValueError:
                # lxml refuses control characters with a bare ValueError.
                raise ListValidationError(
                    self.kind, f"<{name}> {text!r} cannot be written in XML"
                ) from None
        return element

    def header(self, root: etree._Element, tijdstempel: datetime, volgnummer: int) -> None:
        self.add(root, "Tijdstempel", format_tijdstempel(tijdstempel))
        self.add(root, "Volgnummer", str(volgnummer))


def _serialise(kind: ListKind, root: etree._Element, *, check: bool) -> bytes:
    etree.indent(root, space=_INDENT)
    data = _DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)
    if check:
        try:
            parse_list(kind, data, development=True)
        except ListValidationError as exc:
            raise ListValidationError(
                kind, f"the model does not make a valid list: {exc.problem}", line=exc.line
            ) from exc
    return data


def write_zal(
    lst: Zorgaanbiederslijst,
    *,
    release: ZalRelease = 3,
    check: bool = True,
) -> bytes:
    """The ZAL as a document, in namespace release3 unless `release=2`.

    Release2 has no Aanbiedertype, no interfaceversies, no Abonneren and requires
    both OAuth endpoints, so `release=2` only writes lists whose Zorgaanbieders are
    all "ZA" with exactly one interfaceversie "1.0.0" (what the reader makes of a
    release2 list), and raises `ListValidationError` otherwise.
    """
    kind = ListKind.ZAL
    build = _Builder(kind, ZAL_RELEASE3_NAMESPACE if release == 3 else ZAL_RELEASE2_NAMESPACE)
    root = build.root(kind.root)
    build.header(root, lst.tijdstempel, lst.volgnummer)
    zorgaanbieders = build.add(root, "Zorgaanbieders")
    for za in lst.zorgaanbieders:
        element = build.add(zorgaanbieders, "Zorgaanbieder")
        build.add(element, "Zorgaanbiedernaam", za.naam)
        if release == 3:
            build.add(element, "Aanbiedertype", za.aanbiedertype)
            versies = build.add(element, "Interfaceversies")
            for versie in za.interfaceversies:
                versie_element = build.add(versies, "Interfaceversie")
                build.add(versie_element, "InterfaceversieId", versie.id)
                _write_gegevensdiensten(build, versie_element, versie.gegevensdiensten)
            continue
        if za.aanbiedertype != RELEASE2_AANBIEDERTYPE or [
            versie.id for versie in za.interfaceversies
        ] != [RELEASE2_INTERFACEVERSIE]:
            raise ListValidationError(
                kind,
                f"{za.naam}: release2 holds only aanbiedertype {RELEASE2_AANBIEDERTYPE!r} "
                f"with the single interfaceversie {RELEASE2_INTERFACEVERSIE!r}",
            )
        for dienst in za.interfaceversies[0].gegevensdiensten:
            if dienst.abonneren is not None or None in (
                dienst.authorization_endpoint,
                dienst.token_endpoint,
            ):
                raise ListValidationError(
                    kind,
                    f"{za.naam}, gegevensdienst {dienst.id}: release2 has no Abonneren "
                    "and requires both OAuth endpoints",
                )
        _write_gegevensdiensten(build, element, za.interfaceversies[0].gegevensdiensten)
    return _serialise(kind, root, check=check)


def _write_gegevensdiensten(
    build: _Builder, parent: etree._Element, diensten: tuple[Gegevensdienst, ...]
) -> None:
    container = build.add(parent, "Gegevensdiensten")
    for dienst in diensten:
        element = build.add(container, "Gegevensdienst")
        build.add(element, "GegevensdienstId", dienst.id)
        if dienst.authorization_endpoint is not None:
            wrapper = build.add(element, "AuthorizationEndpoint")
            build.add(wrapper, "AuthorizationEndpointuri", dienst.authorization_endpoint)
        if dienst.token_endpoint is not None:
            wrapper = build.add(element, "TokenEndpoint")
            build.add(wrapper, "TokenEndpointuri", dienst.token_endpoint)
        if dienst.abonneren is not None:
            wrapper = build.add(element, "Abonneren")
            build.add(wrapper, "MaximaleDuur", str(dienst.abonneren.maximale_duur))
            build.add(
                wrapper,
                "SubscriptionEndpointuri",
                dienst.abonneren.subscription_endpoint,
            )
        rollen = build.add(element, "Systeemrollen")
        for rol in dienst.systeemrollen:
            rol_element = build.add(rollen, "Systeemrol")
            build.add(rol_element, "Systeemrolcode", rol.code)
            wrapper = build.add(rol_element, "ResourceEndpoint")
            build.add(wrapper, "ResourceEndpointuri", rol.resource_endpoint)


def write_ocl(lst: OAuthclientlist, *, check: bool = True) -> bytes:
    """The OCL as a document; per-client gegevensdiensten are written sorted."""
    kind = ListKind.OCL
    build = _Builder(kind, kind.namespace)
    root = build.root(kind.root)
    build.header(root, lst.tijdstempel, lst.volgnummer)
    clients = build.add(root, "OAuthclients")
    for client in lst.clients:
        element = build.add(clients, "OAuthclient")
        build.add(element, "Hostname", client.hostname)
        build.add(element, "OAuthclientOrganisatienaam", client.organisatienaam)
        if client.gegevensdiensten is not None:
            diensten = build.add(element, "Gegevensdiensten")
            for dienst_id in sorted(client.gegevensdiensten):
                dienst = build.add(diensten, "Gegevensdienst")
                build.add(dienst, "GegevensdienstId", dienst_id)
    return _serialise(kind, root, check=check)


def write_gnl(lst: Gegevensdienstnamenlijst, *, check: bool = True) -> bytes:
    """The GNL as a document."""
    kind = ListKind.GNL
    build = _Builder(kind, kind.namespace)
    root = build.root(kind.root)
    build.header(root, lst.tijdstempel, lst.volgnummer)
    diensten = build.add(root, "Gegevensdiensten")
    for naam in lst.gegevensdiensten:
        element = build.add(diensten, "Gegevensdienst")
        build.add(element, "GegevensdienstId", naam.id)
        build.add(element, "Weergavenaam", naam.weergavenaam)
    return _serialise(kind, root, check=check)


def write_whitelist(
    lst: Whitelist, shape: WhitelistShape = "current", *, check: bool = True
) -> bytes:
    """The Whitelist as a document, in the current shape or, for old readers, the old one."""
    kind = ListKind.WHITELIST
    if shape not in ("current", "old"):
        raise ValueError(f"unknown Whitelist shape {shape!r}")
    build = _Builder(kind, kind.namespace)
    root = build.root(kind.root)
    build.header(root, lst.tijdstempel, lst.volgnummer)
    nodes = build.add(root, "MedMijNodes")
    for hostname in lst.hostnames:
        if shape == "current":
            build.add(build.add(nodes, "MedMijNode"), "Hostname", hostname)
        else:
            build.add(nodes, "MedMijNode", hostname)
    return _serialise(kind, root, check=check)


def write_list(lst: MedMijList, *, check: bool = True) -> bytes:
    """Any list as a document, in the form each `write_*` function writes by default."""
    if isinstance(lst, Zorgaanbiederslijst):
        return write_zal(lst, check=check)
    if isinstance(lst, OAuthclientlist):
        return write_ocl(lst, check=check)
    if isinstance(lst, Gegevensdienstnamenlijst):
        return write_gnl(lst, check=check)
    return write_whitelist(lst, check=check)
