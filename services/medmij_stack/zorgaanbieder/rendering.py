"""Searchset Bundles, single resources and OperationOutcomes as JSON or XML bytes.

What the qualification asserts ask of a searchset (docs/qualification.md#generic-asserts):

* ``Bundle.type`` = ``searchset``;
* every entry has an absolute ``fullUrl`` ``<base>/<Type>/<id>``, which ends in the id;
* ``search.mode`` ``match`` for what the search found, ``include`` for what ``_include``
  added, and ``total`` = the number of matches;
* a ``self`` link that is absolute and carries the request's query string as it arrived,
  so that every parameter is echoed (Touchstone rule ``assert-response-queryParamsInSelfLink``)
  and so that the Vaccinaties script can cut ``<base>/`` off it with
  ``replaceMatches('Immunization[/?].*$', '')`` to read each Medication.

An empty result is a Bundle with ``total`` 0 and no ``entry`` (FHIR JSON has no empty arrays).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Protocol
from xml.sax.saxutils import quoteattr

from medmij_stack.protocol.fhir import FhirFormat, FhirVersion

from .errors import FhirError
from .fhir_xml import XmlFragments, resource_xml

__all__ = ["FhirResource", "Renderer", "operation_outcome", "outcome_body"]

_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_NAMESPACE = "http://hl7.org/fhir"


class FhirResource(Protocol):
    """A resource as the store hands it out."""

    @property
    def resource_type(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def content(self) -> Mapping[str, Any]: ...


def _json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _xml_text(value: str) -> str:
    # XML 1.0 has no place for most control characters, even escaped.
    cleaned = "".join(c for c in value if c >= " " or c in "\t\n\r")
    return quoteattr(cleaned)


def _value(name: str, value: str | int) -> str:
    return f"<{name} value={_xml_text(str(value))}/>"


def operation_outcome(code: str, diagnostics: str) -> dict[str, object]:
    """A FHIR OperationOutcome with one error issue (same shape in STU3 and R4)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }


def outcome_body(error: FhirError, fmt: FhirFormat) -> bytes:
    """The OperationOutcome of a refusal, in the negotiated format."""
    if fmt is FhirFormat.JSON:
        return _json(operation_outcome(error.issue_code, error.diagnostics))
    issue = (
        _value("severity", "error")
        + _value("code", error.issue_code)
        + _value("diagnostics", error.diagnostics)
    )
    body = f'<OperationOutcome xmlns="{_NAMESPACE}"><issue>{issue}</issue></OperationOutcome>'
    return _XML_DECLARATION + body.encode("utf-8")


class Renderer:
    """Writes answers; XML of resources comes from (and goes into) the fragment cache."""

    def __init__(self, fragments: XmlFragments) -> None:
        self.fragments = fragments

    def _xml(self, scope: Hashable, fhir_version: FhirVersion, resource: FhirResource) -> bytes:
        key = (scope, resource.resource_type, resource.id)
        return self.fragments.get(key, fhir_version, resource.content)

    def searchset(
        self,
        *,
        scope: Hashable,
        fhir_version: FhirVersion,
        base: str,
        self_url: str,
        matches: Sequence[FhirResource],
        includes: Iterable[FhirResource],
        fmt: FhirFormat,
    ) -> bytes:
        """A searchset Bundle; ``scope`` names the FHIR base the resources come from."""
        entries: list[tuple[FhirResource, str]] = [(r, "match") for r in matches]
        seen = {(r.resource_type, r.id) for r in matches}
        for resource in includes:
            if (resource.resource_type, resource.id) not in seen:
                seen.add((resource.resource_type, resource.id))
                entries.append((resource, "include"))
        if fmt is FhirFormat.JSON:
            bundle: dict[str, Any] = {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(matches),
                "link": [{"relation": "self", "url": self_url}],
            }
            if entries:
                bundle["entry"] = [
                    {
                        "fullUrl": f"{base}/{r.resource_type}/{r.id}",
                        "resource": r.content,
                        "search": {"mode": mode},
                    }
                    for r, mode in entries
                ]
            return _json(bundle)
        parts = [
            f'<Bundle xmlns="{_NAMESPACE}">'.encode(),
            _value("type", "searchset").encode(),
            _value("total", len(matches)).encode(),
            f"<link>{_value('relation', 'self')}{_value('url', self_url)}</link>".encode(),
        ]
        for resource, mode in entries:
            full_url = _value("fullUrl", f"{base}/{resource.resource_type}/{resource.id}")
            parts += [
                f"<entry>{full_url}<resource>".encode(),
                self._xml(scope, fhir_version, resource),
                f"</resource><search>{_value('mode', mode)}</search></entry>".encode(),
            ]
        parts.append(b"</Bundle>")
        return _XML_DECLARATION + b"".join(parts)

    def resource(
        self, *, scope: Hashable, fhir_version: FhirVersion, resource: FhirResource, fmt: FhirFormat
    ) -> bytes:
        """One resource, as a read returns it."""
        if fmt is FhirFormat.JSON:
            return _json(resource.content)
        return _XML_DECLARATION + self._xml(scope, fhir_version, resource)

    def document(
        self, fhir_version: FhirVersion, content: Mapping[str, Any], fmt: FhirFormat
    ) -> bytes:
        """A resource that is not stored (the CapabilityStatement), written fresh."""
        if fmt is FhirFormat.JSON:
            return _json(content)
        return _XML_DECLARATION + resource_xml(fhir_version, content)
