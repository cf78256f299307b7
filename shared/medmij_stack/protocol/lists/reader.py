"""Reading MedMij list documents into models, validating them first.

Receivers must validate every new list against its XML schema before use
("XML-schema's" page; docs/protocol.md#the-lists). `parse_list` does, in order:

1. hardened parsing (`medmij_stack.protocol.lists.hardened`): size cap, no DOCTYPE, no entities,
   no network;
2. a root check: the expected root element in the expected namespace. The ZAL is
   read in namespace release3 and, for older lists, release2;
3. validation against the project's schema for that list (and ZAL release), with
   the development variant when asked (`medmij_stack.protocol.lists.schemas`);
4. for the Whitelist, the rules its two-shape schema cannot express (see the
   comment in MedMij_Whitelist.release2.xsd);
5. conversion into the models of `medmij_stack.protocol.lists.models`.

A release2 ZAL becomes the release3 model: every Zorgaanbieder gets aanbiedertype
`RELEASE2_AANBIEDERTYPE` ("ZA") and one Interfaceversie `RELEASE2_INTERFACEVERSIE`
("1.0.0"). A Tijdstempel without a zone is only schema-valid with fractional
seconds (the `.{20,}` pattern); such a time is read as UTC.

Every failure raises `ListValidationError` naming the list, and the line when known.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import TypeVar

from lxml import etree

from medmij_stack.protocol.lists.errors import ListValidationError
from medmij_stack.protocol.lists.hardened import DEFAULT_MAX_BYTES, parse_untrusted, source_line
from medmij_stack.protocol.lists.models import (
    RELEASE2_AANBIEDERTYPE,
    RELEASE2_INTERFACEVERSIE,
    ZAL_RELEASE2_NAMESPACE,
    ZAL_RELEASE3_NAMESPACE,
    Abonneren,
    Gegevensdienst,
    GegevensdienstNaam,
    Gegevensdienstnamenlijst,
    Interfaceversie,
    ListKind,
    MedMijList,
    OAuthclient,
    OAuthclientlist,
    Systeemrol,
    Whitelist,
    Zorgaanbieder,
    Zorgaanbiederslijst,
)
from medmij_stack.protocol.lists.schemas import XSD_NAMESPACE, ZalRelease, schema_document, validate

_ZAL_RELEASES: dict[str, ZalRelease] = {
    ZAL_RELEASE3_NAMESPACE: 3,
    ZAL_RELEASE2_NAMESPACE: 2,
}

# xs:dateTime after whitespace collapsing; the schema has already vouched for it.
_DATETIME = re.compile(
    r"(?P<year>-?\d{4,})-(?P<month>\d\d)-(?P<day>\d\d)"
    r"T(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>Z|[+-]\d\d:\d\d)?"
)

_MAX_PROBLEMS_IN_MESSAGE = 3

_T = TypeVar("_T")


class _Document:
    """Navigation in one validated document, with errors that name the list."""

    def __init__(self, kind: ListKind, namespace: str) -> None:
        self.kind = kind
        self.namespace = namespace

    def error(self, problem: str, element: etree._Element | None = None) -> ListValidationError:
        line = source_line(element) if element is not None else None
        return ListValidationError(self.kind, problem, line=line)

    def children(self, element: etree._Element, name: str) -> list[etree._Element]:
        return list(element.iterchildren(f"{{{self.namespace}}}{name}"))

    def optional(self, element: etree._Element, name: str) -> etree._Element | None:
        found = self.children(element, name)
        return found[0] if found else None

    def child(self, element: etree._Element, name: str) -> etree._Element:
        found = self.optional(element, name)
        if found is None:
            raise self.error(f"<{name}> is missing", element)
        return found

    def text(self, element: etree._Element, name: str) -> str:
        return _string_value(self.child(element, name))

    def integer(self, element: etree._Element, name: str) -> int:
        child = self.child(element, name)
        try:
            # Integer types collapse whitespace; int() also takes the sign and
            # leading zeros that the schema allows.
            return int(_string_value(child).strip())
        except ValueError:
            raise self.error(f"<{name}> is not an integer", child) from None

    def tijdstempel(self, root: etree._Element) -> datetime:
        element = self.child(root, "Tijdstempel")
        try:
            return parse_datetime(_string_value(element))
        except ValueError as exc:
            raise self.error(f"<Tijdstempel>: {exc}", element) from None


def _string_value(element: etree._Element) -> str:
    # The text of an element with simple content, even when comments split it.
    return (element.text or "") + "".join(child.tail or "" for child in element)


def parse_datetime(text: str) -> datetime:
    """An xs:dateTime as a timezone-aware datetime; no zone is read as UTC.

    Fractions finer than a microsecond are truncated; "24:00:00" is the next
    midnight, as XML Schema 1.0 defines it.
    """
    match = _DATETIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an xs:dateTime")
    year = int(match["year"])
    if not 1 <= year <= 9999:
        raise ValueError(f"year {year} is out of the supported range 1..9999")
    zone = match["zone"]
    tz: timezone
    if zone is None or zone == "Z":
        tz = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    hour = int(match["hour"])
    extra = timedelta(0)
    if hour == 24:
        hour, extra = 0, timedelta(days=1)
    microsecond = int((match["fraction"] or "0")[:6].ljust(6, "0"))
    return (
        datetime(
            year,
            int(match["month"]),
            int(match["day"]),
            hour,
            int(match["minute"]),
            int(match["second"]),
            microsecond,
            tzinfo=tz,
        )
        + extra
    )


def _root_namespace(kind: ListKind, root: etree._Element) -> str:
    if not isinstance(root.tag, str):
        raise ListValidationError(kind, "document has no root element")
    qname = etree.QName(root)
    expected = tuple(_ZAL_RELEASES) if kind is ListKind.ZAL else (kind.namespace,)
    if qname.localname != kind.root or qname.namespace not in expected:
        raise ListValidationError(
            kind,
            f"root element is <{qname.localname}> in namespace {qname.namespace!r}; "
            f"expected <{kind.root}> in namespace {' or '.join(map(repr, expected))}",
            line=source_line(root),
        )
    return qname.namespace or ""


def _validated(
    kind: ListKind, data: bytes, *, development: bool, max_bytes: int
) -> tuple[_Document, etree._Element, ZalRelease]:
    root = parse_untrusted(kind, data, max_bytes=max_bytes)
    namespace = _root_namespace(kind, root)
    release = _ZAL_RELEASES.get(namespace, 3)
    problems = validate(kind, data, tree=root, zal_release=release, development=development)
    if problems:
        message = "; ".join(p.message for p in problems[:_MAX_PROBLEMS_IN_MESSAGE])
        if len(problems) > _MAX_PROBLEMS_IN_MESSAGE:
            message += f"; and {len(problems) - _MAX_PROBLEMS_IN_MESSAGE} more"
        raise ListValidationError(
            kind, f"does not match the XML schema: {message}", line=problems[0].line
        )
    return _Document(kind, namespace), root, release


def _model(document: _Document, build: Callable[[], _T]) -> _T:
    try:
        return build()
    except ValueError as exc:
        if isinstance(exc, ListValidationError):
            raise
        raise document.error(str(exc)) from None


def parse_zal(
    data: bytes, *, development: bool = False, max_bytes: int = DEFAULT_MAX_BYTES
) -> Zorgaanbiederslijst:
    """Read a Zorgaanbiederslijst (release3, or release2 by its namespace).

    `development` allows a port in AuthorizationEndpointuri (development worlds).
    """
    doc, root, release = _validated(
        ListKind.ZAL, data, development=development, max_bytes=max_bytes
    )
    read = _zorgaanbieder_release3 if release == 3 else _zorgaanbieder_release2
    return _model(
        doc,
        lambda: Zorgaanbiederslijst(
            tijdstempel=doc.tijdstempel(root),
            volgnummer=doc.integer(root, "Volgnummer"),
            zorgaanbieders=tuple(
                read(doc, element)
                for element in doc.children(doc.child(root, "Zorgaanbieders"), "Zorgaanbieder")
            ),
        ),
    )


def _zorgaanbieder_release2(doc: _Document, element: etree._Element) -> Zorgaanbieder:
    return Zorgaanbieder(
        naam=doc.text(element, "Zorgaanbiedernaam"),
        aanbiedertype=RELEASE2_AANBIEDERTYPE,
        interfaceversies=(
            Interfaceversie(RELEASE2_INTERFACEVERSIE, _gegevensdiensten(doc, element)),
        ),
    )


def _zorgaanbieder_release3(doc: _Document, element: etree._Element) -> Zorgaanbieder:
    versies = doc.children(doc.child(element, "Interfaceversies"), "Interfaceversie")
    return Zorgaanbieder(
        naam=doc.text(element, "Zorgaanbiedernaam"),
        aanbiedertype=doc.text(element, "Aanbiedertype"),
        interfaceversies=tuple(
            Interfaceversie(doc.text(versie, "InterfaceversieId"), _gegevensdiensten(doc, versie))
            for versie in versies
        ),
    )


def _gegevensdiensten(doc: _Document, parent: etree._Element) -> tuple[Gegevensdienst, ...]:
    return tuple(
        _gegevensdienst(doc, element)
        for element in doc.children(doc.child(parent, "Gegevensdiensten"), "Gegevensdienst")
    )


def _endpoint(doc: _Document, parent: etree._Element, name: str) -> str | None:
    wrapper = doc.optional(parent, name)
    return None if wrapper is None else doc.text(wrapper, f"{name}uri")


def _gegevensdienst(doc: _Document, element: etree._Element) -> Gegevensdienst:
    abonneren = doc.optional(element, "Abonneren")
    return Gegevensdienst(
        id=doc.text(element, "GegevensdienstId"),
        authorization_endpoint=_endpoint(doc, element, "AuthorizationEndpoint"),
        token_endpoint=_endpoint(doc, element, "TokenEndpoint"),
        systeemrollen=tuple(
            Systeemrol(
                code=doc.text(rol, "Systeemrolcode"),
                resource_endpoint=doc.text(
                    doc.child(rol, "ResourceEndpoint"), "ResourceEndpointuri"
                ),
            )
            for rol in doc.children(doc.child(element, "Systeemrollen"), "Systeemrol")
        ),
        abonneren=None
        if abonneren is None
        else Abonneren(
            maximale_duur=doc.integer(abonneren, "MaximaleDuur"),
            subscription_endpoint=doc.text(abonneren, "SubscriptionEndpointuri"),
        ),
    )


def parse_ocl(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> OAuthclientlist:
    """Read an OAuth Client List, including the optional per-client gegevensdiensten."""
    doc, root, _ = _validated(ListKind.OCL, data, development=False, max_bytes=max_bytes)
    return _model(
        doc,
        lambda: OAuthclientlist(
            tijdstempel=doc.tijdstempel(root),
            volgnummer=doc.integer(root, "Volgnummer"),
            clients=tuple(
                _oauthclient(doc, element)
                for element in doc.children(doc.child(root, "OAuthclients"), "OAuthclient")
            ),
        ),
    )


def _oauthclient(doc: _Document, element: etree._Element) -> OAuthclient:
    diensten = doc.optional(element, "Gegevensdiensten")
    return OAuthclient(
        hostname=doc.text(element, "Hostname"),
        organisatienaam=doc.text(element, "OAuthclientOrganisatienaam"),
        gegevensdiensten=None
        if diensten is None
        else frozenset(
            doc.text(dienst, "GegevensdienstId")
            for dienst in doc.children(diensten, "Gegevensdienst")
        ),
    )


def parse_gnl(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Gegevensdienstnamenlijst:
    """Read a Gegevensdienstnamenlijst."""
    doc, root, _ = _validated(ListKind.GNL, data, development=False, max_bytes=max_bytes)
    return _model(
        doc,
        lambda: Gegevensdienstnamenlijst(
            tijdstempel=doc.tijdstempel(root),
            volgnummer=doc.integer(root, "Volgnummer"),
            gegevensdiensten=tuple(
                GegevensdienstNaam(
                    id=doc.text(element, "GegevensdienstId"),
                    weergavenaam=doc.text(element, "Weergavenaam"),
                )
                for element in doc.children(doc.child(root, "Gegevensdiensten"), "Gegevensdienst")
            ),
        ),
    )


@cache
def _hostname_pattern() -> re.Pattern[str]:
    # Taken from our Whitelist schema so the old shape is held to the very
    # pattern the current shape gets; XSD patterns are implicitly anchored, hence
    # fullmatch, and this one uses no syntax that differs between XSD and Python.
    document = schema_document(ListKind.WHITELIST)
    pattern = document.getroot().find(
        f"{{{XSD_NAMESPACE}}}simpleType[@name='Hostname']"
        f"/{{{XSD_NAMESPACE}}}restriction/{{{XSD_NAMESPACE}}}pattern"
    )
    if pattern is None:
        raise RuntimeError("the Whitelist schema has no Hostname pattern")
    return re.compile(pattern.get("value", ""))


def parse_whitelist(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Whitelist:
    """Read a Whitelist in either shape (MedMijNode/Hostname, or MedMijNode text)."""
    doc, root, _ = _validated(ListKind.WHITELIST, data, development=False, max_bytes=max_bytes)
    hostnames = _whitelist_hostnames(doc, doc.child(root, "MedMijNodes"))
    return _model(
        doc,
        lambda: Whitelist(
            tijdstempel=doc.tijdstempel(root),
            volgnummer=doc.integer(root, "Volgnummer"),
            hostnames=hostnames,
        ),
    )


def _whitelist_hostnames(doc: _Document, nodes: etree._Element) -> tuple[str, ...]:
    hostnames: list[str] = []
    # A set beside the list: `in` on the list made N host names cost O(N²).
    seen: set[str] = set()
    old_shape: set[bool] = set()
    for node in doc.children(nodes, "MedMijNode"):
        hostname = doc.optional(node, "Hostname")
        text = _string_value(node)
        if hostname is not None:
            if text.strip():
                raise doc.error("<MedMijNode> has both text and a <Hostname>", node)
            hostnames.append(_string_value(hostname))
            old_shape.add(False)
        else:
            if not _hostname_pattern().fullmatch(text):
                raise doc.error(
                    f"<MedMijNode> text {text!r} is not a lowercase fully qualified host name",
                    node,
                )
            if text in seen:
                raise doc.error(f"host name {text!r} is listed twice", node)
            seen.add(text)
            hostnames.append(text)
            old_shape.add(True)
        if len(old_shape) > 1:
            raise doc.error(
                "<MedMijNodes> mixes the old shape (host name as text) "
                "and the current shape (<Hostname>)",
                node,
            )
    return tuple(hostnames)


def parse_list(
    kind: ListKind,
    data: bytes,
    *,
    development: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> MedMijList:
    """Read and validate a list of the given kind; see the module docstring.

    `development` only affects the ZAL (a port in AuthorizationEndpointuri).
    """
    if kind is ListKind.ZAL:
        return parse_zal(data, development=development, max_bytes=max_bytes)
    if kind is ListKind.OCL:
        return parse_ocl(data, max_bytes=max_bytes)
    if kind is ListKind.GNL:
        return parse_gnl(data, max_bytes=max_bytes)
    return parse_whitelist(data, max_bytes=max_bytes)
