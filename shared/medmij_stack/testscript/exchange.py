"""One HTTP request and its response, as the engine records and judges them.

Both sides of the engine use this record: the runner (``medmij qualify``) fills it from
what it sent and received, the simulator (``medmij qualify-client``) from what a client
sent and what it answered. The body is kept as received, and also parsed into FHIR JSON
(from JSON or from XML, :mod:`medmij_stack.testscript.fhirxml`) for FHIRPath.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from medmij_stack.testscript.fhirxml import parse_xml, xml_to_json
from medmij_stack.testscript.structure import Structure

__all__ = ["Exchange", "HttpRequest", "HttpResponse", "ParsedBody", "header", "parse_body"]


def header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The first value of a header, by case-insensitive name."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None

    def header(self, name: str) -> str | None:
        return header(self.headers, name)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    elapsed_ms: float = 0.0

    def header(self, name: str) -> str | None:
        return header(self.headers, name)

    @property
    def content_type(self) -> str | None:
        return self.header("content-type")


@dataclass(frozen=True)
class ParsedBody:
    resource: dict[str, Any] | None
    format: str | None
    """``json``, ``xml`` or None when the body is empty or neither."""
    problems: tuple[str, ...] = ()


def parse_body(body: bytes, content_type: str | None, structure: Structure) -> ParsedBody:
    """A FHIR body as JSON, judged by its content type, else by its first character."""
    text = body.lstrip()
    if not text:
        return ParsedBody(None, None)
    kind = (content_type or "").split(";")[0].strip().lower()
    if "json" in kind or (not kind.endswith("xml") and text[:1] in (b"{", b"[")):
        try:
            data = json.loads(body)
        except ValueError as exc:
            return ParsedBody(None, "json", (f"body is not valid JSON: {exc}",))
        if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
            return ParsedBody(None, "json", ("JSON body is not a FHIR resource (no resourceType)",))
        return ParsedBody(data, "json")
    if "xml" in kind or text[:1] == b"<":
        try:
            root = parse_xml(body)
        except ValueError as exc:
            return ParsedBody(None, "xml", (str(exc),))
        problems: list[str] = []
        resource = xml_to_json(root, structure, problems)
        return ParsedBody(resource, "xml", tuple(problems))
    return ParsedBody(
        None, None, (f"body is neither FHIR JSON nor FHIR XML ({kind or 'no type'})",)
    )


@dataclass
class Exchange:
    """A request, and its response or the reason there is none (``error``)."""

    request: HttpRequest
    response: HttpResponse | None = None
    error: str | None = None
    parsed: ParsedBody = field(default_factory=lambda: ParsedBody(None, None))

    @property
    def resource(self) -> dict[str, Any] | None:
        return self.parsed.resource
