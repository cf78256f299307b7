"""Parsing untrusted list documents without the classic XML attacks.

Lists arrive over the network, so a document could try entity expansion ("billion
laughs"), external entities (XXE, e.g. file:///etc/passwd), network fetches or an
oversized body. MedMij lists are plain XML 1.0 without a document type declaration
("XML-schema's" page, file requirement 4; docs/protocol.md#the-lists), so the
safest rule is also a simple one: cap the size, let lxml neither load DTDs nor
substitute entities nor touch the network, and refuse any document that has a
DOCTYPE at all. Nothing is ever expanded; the refusal names the reason.
"""

from __future__ import annotations

import codecs
from typing import Any

from lxml import etree

from medmij_stack.protocol.lists.errors import ListValidationError
from medmij_stack.protocol.lists.models import ListKind

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
"""Largest list accepted, by default. Real lists are well under a megabyte."""


_DOCTYPE_REFUSED = "document has a DOCTYPE; MedMij lists have none, so it is refused unread"


def source_line(element: etree._Element) -> int | None:
    """The line an element starts on, when lxml knows it."""
    # lxml-stubs types sourceline wrongly; at run time it is an int or None.
    line: object = element.sourceline
    return line if isinstance(line, int) else None


_BOMS = (
    # UTF-32 first: its little-endian mark begins with the UTF-16 one.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF8, "utf-8-sig"),
)


def _prolog_has_doctype(data: bytes) -> bool:
    # Looked for before parsing so that the refusal says "DOCTYPE" even when
    # libxml2 would stop earlier on, say, its entity amplification limit. Only
    # markup of the prolog is skipped, so a comment that mentions a DOCTYPE is no
    # reason to refuse; the check after parsing remains the one to rely on.
    text = next(
        (data.decode(codec, errors="replace") for bom, codec in _BOMS if data.startswith(bom)),
        None,
    )
    if text is None:
        # Markup is ASCII in every other encoding a list could use.
        text = data.decode("latin-1")
    position = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n\ufeff":
            position += 1
        if text.startswith("<?", position):
            end, skip = text.find("?>", position + 2), 2
        elif text.startswith("<!--", position):
            end, skip = text.find("-->", position + 4), 3
        else:
            return text.startswith("<!DOCTYPE", position)
        if end < 0:
            return False
        position = end + skip


def _parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers keep per-parse state and an error log,
    # and lists may be parsed from several threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_untrusted(
    kind: ListKind, data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> etree._Element:
    """Parse `data` as one XML document and return its root element.

    Raises `ListValidationError` for oversized input, input that is not well-formed
    XML, and any document with a DOCTYPE or entity references.
    """
    if not isinstance(data, bytes):
        raise TypeError(f"expected bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise ListValidationError(
            kind, f"document is {len(data)} bytes, more than the limit of {max_bytes}"
        )
    if not data.strip():
        raise ListValidationError(kind, "document is empty")
    if _prolog_has_doctype(data):
        raise ListValidationError(kind, _DOCTYPE_REFUSED)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise ListValidationError(
            kind, f"not well-formed XML: {exc.msg}", line=exc.lineno or None
        ) from None
    # lxml-stubs does not declare DocInfo.doctype and its DTD attributes.
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise ListValidationError(kind, _DOCTYPE_REFUSED)
    # Without a DOCTYPE only the predefined entities exist, so an entity reference
    # left in the tree would mean the rule above was bypassed somehow.
    entity = next(root.iter(etree.Entity), None)
    if entity is not None:
        raise ListValidationError(
            kind, f"entity reference {entity.text} is not allowed", line=source_line(entity)
        )
    return root
