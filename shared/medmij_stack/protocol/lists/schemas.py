"""The project's XML schemas for the MedMij lists, loaded and ready to validate.

Receivers must validate every new list against its XSD ("XML-schema's" page;
docs/protocol.md#the-lists). The XSD files in `medmij_stack/protocol/lists/xsd/` were written for
this project from the specification (MedMij's own files are not shipped); the ZAL
release3 schema is reconstructed, see the comment at its top.

Development worlds run their authorisation servers on ports, which the strict
frontchannel pattern forbids. `development_variant` makes a schema that allows an
optional ":port" in `AuthorizationEndpointuri` by patching the parsed XSD tree in
memory; there is no second schema file to drift from the first.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, TypeAlias

from lxml import etree

from medmij_stack.protocol.lists.models import ListKind

XSD_NAMESPACE = "http://www.w3.org/2001/XMLSchema"

ZalRelease: TypeAlias = Literal[2, 3]

SCHEMA_FILES: dict[tuple[ListKind, ZalRelease | None], str] = {
    (ListKind.ZAL, 2): "MedMij_Zorgaanbiederslijst.release2.xsd",
    (ListKind.ZAL, 3): "MedMij_Zorgaanbiederslijst.release3.xsd",
    (ListKind.OCL, None): "MedMij_OAuthclientlist.release2.xsd",
    (ListKind.GNL, None): "MedMij_Gegevensdienstnamenlijst.release1.xsd",
    (ListKind.WHITELIST, None): "MedMij_Whitelist.release2.xsd",
}
"""Schema file per list (and per ZAL release); other lists have one release."""

FRONTCHANNEL_TYPE = "Frontchanneluri"
_PORT = r"(:(\d){1,5})?"
# The host part of the frontchannel pattern; the port goes right after it.
_FRONTCHANNEL_HOST = r"https://(([a-z0-9])([a-z0-9-])*(\.))+([a-z0-9])([a-z0-9-])*([a-z0-9])?"


def _key(kind: ListKind, zal_release: ZalRelease) -> tuple[ListKind, ZalRelease | None]:
    return (kind, zal_release if kind is ListKind.ZAL else None)


def schema_document(kind: ListKind, *, zal_release: ZalRelease = 3) -> etree._ElementTree:
    """A fresh parsed copy of the project's XSD for `kind`, free to modify."""
    name = SCHEMA_FILES[_key(kind, zal_release)]
    data = resources.files("medmij_stack.protocol.lists").joinpath("xsd", name).read_bytes()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.ElementTree(etree.fromstring(data, parser))


def development_variant(document: etree._ElementTree) -> etree._ElementTree:
    """A copy of a ZAL schema document whose frontchannel URIs may carry a port.

    Only the `Frontchanneluri` pattern changes: `:port` (1 to 5 digits) becomes
    allowed right after the host, as the backchannel pattern already allows.
    Raises ValueError when the document has no frontchannel pattern to patch.
    """
    patched = copy.deepcopy(document)
    patterns = patched.getroot().findall(
        f"{{{XSD_NAMESPACE}}}simpleType[@name='{FRONTCHANNEL_TYPE}']"
        f"/{{{XSD_NAMESPACE}}}restriction/{{{XSD_NAMESPACE}}}pattern"
    )
    if len(patterns) != 1:
        raise ValueError(f"schema has no single {FRONTCHANNEL_TYPE} pattern to patch")
    value = patterns[0].get("value", "")
    if not value.startswith(_FRONTCHANNEL_HOST):
        raise ValueError(f"unexpected {FRONTCHANNEL_TYPE} pattern: {value}")
    host_end = len(_FRONTCHANNEL_HOST)
    patterns[0].set("value", value[:host_end] + _PORT + value[host_end:])
    return patched


@dataclass(frozen=True)
class ValidationProblem:
    line: int | None
    message: str


_LOCATED_AT_MOST = 100
"""Up to this many problems, a second pass over the parsed tree gives each its line."""


def _problems(errors: Iterable[Any]) -> list[ValidationProblem]:
    return [
        ValidationProblem(int(e.line) or None, str(e.message))
        for e in errors
        if e.level >= etree.ErrorLevels.ERROR
    ]


class _Validator:
    """Validates documents while parsing them (libxml2's streaming validator).

    Not `XMLSchema.validate(tree)` alone: for a tree, lxml records every error with the
    path of its element (`_LogEntry._setError` calls libxml2's xmlGetNodePath), and that
    path is worked out by walking all preceding siblings of the same name. A list with N
    bad entries (N copies of one Hostname, N malformed host names) then cost O(N²):
    40,000 duplicates took half a minute, 200,000 several minutes. While parsing, an
    error costs the same wherever it is, so time grows linearly with the document, with
    the same schema, rules and messages (benchmarks/list_validation.py measures it).

    Errors found while parsing carry no line number, so when there are few of them (at
    most `_LOCATED_AT_MOST`) the parsed tree, when given, is validated once more to
    learn their lines: at most that many walks over the siblings, so still linear.

    One lock per schema serialises its use: an `XMLSchema` keeps its error log on the
    object, and a node that validated its four lists in four threads at once crashed
    (SIGSEGV after "Document is not valid XML Schema") while building and using schemas
    concurrently. Lists are validated a few times a minute, so the lock costs nothing.
    """

    def __init__(self, schema: etree.XMLSchema) -> None:
        self.schema = schema
        self._lock = threading.Lock()

    def problems(self, data: bytes, tree: etree._Element | None) -> list[ValidationProblem]:
        with self._lock:
            found = self._streaming(data)
            if not found or tree is None or len(found) > _LOCATED_AT_MOST:
                return found
            if self.schema.validate(tree):  # cannot differ, but never report nothing
                return found
            # lxml-stubs does not declare the error log as iterable.
            errors: Iterable[Any] = self.schema.error_log  # type: ignore[assignment]
            return _problems(errors) or found

    def _streaming(self, data: bytes) -> list[ValidationProblem]:
        # The hardening of medmij_stack.protocol.lists.hardened: nothing is loaded,
        # expanded or fetched while validating.
        parser = etree.XMLParser(
            schema=self.schema,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
        )
        try:
            etree.fromstring(data, parser)
        except etree.XMLSyntaxError:
            return _problems(parser.error_log) or [
                ValidationProblem(None, "not valid by the schema")
            ]
        return []


_BUILDING = threading.Lock()
_VALIDATORS: dict[tuple[ListKind, ZalRelease | None, bool], _Validator] = {}


def _validator(kind: ListKind, zal_release: ZalRelease | None, development: bool) -> _Validator:
    # Built once, under a lock: functools.cache would let two threads compile the same
    # schema at once, which libxml2 does not survive reliably (see _Validator).
    key = (kind, zal_release, development)
    with _BUILDING:
        found = _VALIDATORS.get(key)
        if found is None:
            document = schema_document(kind, zal_release=zal_release or 3)
            if development:
                document = development_variant(document)
            found = _VALIDATORS[key] = _Validator(etree.XMLSchema(document))
        return found


def load_schema(
    kind: ListKind, *, zal_release: ZalRelease = 3, development: bool = False
) -> etree.XMLSchema:
    """A compiled schema for `kind`; `development` only changes the ZAL schemas.

    The returned object is shared: do not use it from several threads at once, and
    mind that `XMLSchema.validate(tree)` costs O(N²) for N invalid sibling entries
    (see `_Validator`); `validate` has neither problem.
    """
    return _validator(*_key(kind, zal_release), development and kind is ListKind.ZAL).schema


def validate(
    kind: ListKind,
    data: bytes,
    *,
    tree: etree._Element | None = None,
    zal_release: ZalRelease = 3,
    development: bool = False,
) -> list[ValidationProblem]:
    """Schema problems of the document `data`; empty when it is valid.

    Thread-safe, and linear in the size of the document however many problems it has.
    `data` should have passed `medmij_stack.protocol.lists.hardened.parse_untrusted`
    first, which refuses a DOCTYPE or an oversized document with a reason; give its
    result as `tree` and a few problems carry their line numbers.
    """
    chosen = _validator(*_key(kind, zal_release), development and kind is ListKind.ZAL)
    return chosen.problems(data, tree)


DEVELOPMENT_SUFFIX = ".development.xsd"


@dataclass(frozen=True)
class SchemaDocument:
    """One schema as a node publishes it: a file name and its bytes.

    `development` is the kind of world the entry is listed for: True for
    development worlds, False for strict ones (see `schema_documents`).
    """

    name: str
    kind: ListKind
    zal_release: ZalRelease | None
    development: bool
    content: bytes


def _development_name(name: str) -> str:
    return name.removesuffix(".xsd") + DEVELOPMENT_SUFFIX


def _development_content(kind: ListKind, zal_release: ZalRelease) -> bytes:
    document = development_variant(schema_document(kind, zal_release=zal_release))
    note = etree.Comment(
        " Development variant, generated from the schema above by"
        " medmij_stack.protocol.lists.schemas: AuthorizationEndpointuri may carry a :port."
        " Not for production worlds. "
    )
    document.getroot().addprevious(note)
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8")


def schema_documents(*, development: bool = False) -> dict[str, SchemaDocument]:
    """The schemas in force in a world, by file name, ZAL release3 first.

    Every list has one entry flagged `development`, in force in that world: for
    the ZAL in a development world that is the development variant, named
    `...development.xsd`. The ZAL schemas are the only ones that differ between
    worlds, so the ZAL schemas of the other kind of world are included as well,
    flagged `not development`, for reference.
    """
    documents: dict[str, SchemaDocument] = {}
    for (kind, release), name in SCHEMA_FILES.items():
        strict = resources.files("medmij_stack.protocol.lists").joinpath("xsd", name).read_bytes()
        if kind is not ListKind.ZAL:
            documents[name] = SchemaDocument(name, kind, release, development, strict)
            continue
        zal_release: ZalRelease = release or 3
        variant = SchemaDocument(
            _development_name(name),
            kind,
            zal_release,
            True,
            _development_content(kind, zal_release),
        )
        plain = SchemaDocument(name, kind, zal_release, False, strict)
        for document in (variant, plain) if development else (plain, variant):
            documents[document.name] = document
    # Release3 is the current ZAL; lookups that take the first match should find it.
    return dict(
        sorted(
            documents.items(),
            key=lambda item: (item[1].kind is not ListKind.ZAL, -(item[1].zal_release or 0)),
        )
    )
