"""Turning a TestScript operation into the HTTP request the runner sends.

docs/qualification.md#xis-server-scripts and #runner-semantics:

* URL: ``url`` when given (absolute, or relative to the server), else
  ``[base]/[resource][params]``, where ``params`` starts with ``?`` or, for a read or
  ``$lastn``, with ``/``; a read with ``targetId`` reads the resource of that fixture or
  response.
* ``encodeRequestUrl``: query values are percent-encoded, so ``|`` and ``,`` arrive as
  ``%7C`` and ``%2C``; ``:`` and ``/`` stay as they are.
* ``accept``/``contentType``: ``json`` → ``application/fhir+json``, ``xml`` →
  ``application/fhir+xml``; a ``requestHeader`` of the same name wins.
* method from the operation type: search, read, vread, history → GET; create → POST;
  update → PUT; patch → PATCH; delete → DELETE; or the operation's ``method``.
* body for create/update: the fixture or response named by ``sourceId``, in the
  ``contentType`` format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from medmij_stack.testscript.errors import VariableError
from medmij_stack.testscript.exchange import HttpRequest
from medmij_stack.testscript.fhirxml import json_to_xml_bytes
from medmij_stack.testscript.model import Operation
from medmij_stack.testscript.structure import Structure
from medmij_stack.testscript.variables import Variables

__all__ = ["MIME_TYPES", "UnsupportedOperation", "build_request", "method_of"]

MIME_TYPES = {"json": "application/fhir+json", "xml": "application/fhir+xml"}
_METHODS = {
    "search": "GET",
    "read": "GET",
    "vread": "GET",
    "history": "GET",
    "history-instance": "GET",
    "history-type": "GET",
    "capabilities": "GET",
    "create": "POST",
    "update": "PUT",
    "updateCreate": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
}
_WITH_BODY = ("POST", "PUT")


class UnsupportedOperation(Exception):
    """An operation type the runner does not send (e.g. ConformanceLab's ``purge``)."""


def method_of(operation: Operation) -> str:
    if operation.method:
        return operation.method.upper()
    method = _METHODS.get(operation.type_code or "")
    if method is None:
        raise UnsupportedOperation(
            f"operation type {operation.type_code!r} ({operation.type_system}) is not supported"
        )
    return method


def _encode_query(query: str) -> str:
    parts = []
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        encoded = quote(name, safe=":_-.$") + (equals and "=" + quote(value, safe=":/_-.$"))
        parts.append(encoded)
    return "&".join(parts)


def _join(base: str, path: str) -> str:
    if path.startswith(("http://", "https://")):
        return path
    return base.rstrip("/") + "/" + path.lstrip("/")


def _url(
    operation: Operation,
    base: str,
    variables: Variables,
    sources: Mapping[str, dict[str, Any] | None],
) -> str:
    if operation.url:
        url = _join(base, variables.substitute(operation.url))
    else:
        params = variables.substitute(operation.params or "")
        resource = operation.resource or ""
        # A read names its resource by targetId; an update PUTs its body to its own id.
        named = operation.target_id or (
            operation.source_id if operation.type_code in ("update", "updateCreate") else None
        )
        if named and not params:
            target = sources.get(named)
            if not target or not target.get("id"):
                raise VariableError(f"{named!r} names no resource with an id yet")
            resource = str(target.get("resourceType", resource))
            params = f"/{target['id']}"
        if params and not params.startswith(("?", "/")):
            params = "?" + params
        url = _join(base, resource + params)
    if operation.encode_request_url and "?" in url:
        head, _, query = url.partition("?")
        url = head + "?" + _encode_query(query)
    return url


def build_request(
    operation: Operation,
    base: str,
    variables: Variables,
    sources: Mapping[str, dict[str, Any] | None],
    structure: Structure,
) -> HttpRequest:
    """The request for ``operation``; raises VariableError or UnsupportedOperation."""
    method = method_of(operation)
    url = _url(operation, base, variables, sources)
    headers: list[tuple[str, str]] = []
    given = {header.field.lower() for header in operation.request_headers}
    if operation.accept and "accept" not in given:
        headers.append(("Accept", MIME_TYPES.get(operation.accept, operation.accept)))
    body: bytes | None = None
    if method in _WITH_BODY and operation.source_id:
        resource = sources.get(operation.source_id)
        if resource is None:
            raise VariableError(f"sourceId {operation.source_id!r} names no fixture or response")
        kind = operation.content_type or "xml"
        if MIME_TYPES.get(kind, kind).endswith("json"):
            body = json.dumps(resource).encode("utf-8")
        else:
            body = json_to_xml_bytes(resource, structure)
        if "content-type" not in given:
            headers.append(("Content-Type", MIME_TYPES.get(kind, kind)))
    for header in operation.request_headers:
        headers.append((header.field, variables.substitute(header.value)))
    return HttpRequest(method=method, url=url, headers=tuple(headers), body=body)
