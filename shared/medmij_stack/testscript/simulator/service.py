"""A FHIR server made of fixtures: the "test simulator" a PHR-Client script talks to.

For ``medmij qualify-client`` (docs/qualification.md#medmij-qualify-client, PHR-Client scripts) the
engine plays the server: it answers the client's GETs from the Nictiz fixtures for the
patient of the bearer token, and records every request with its answer, so that the
request asserts (Authorization header, no ``patient=`` or ``subject=`` in the URL) and
the response asserts can be evaluated afterwards.

This module knows no web framework: :meth:`Simulator.handle` takes a method, a path
below a FHIR base, the query pairs and the headers, and returns status, headers and
body. ``medmij_stack.wiring.qualify_server`` puts it behind Starlette.

Errors are FHIR ``OperationOutcome``s: 401 without a known token, 404 for an unknown
resource type or id, 405 for anything but GET.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.exchange import Exchange, HttpRequest, HttpResponse, ParsedBody, header
from medmij_stack.testscript.fhirxml import json_to_xml_bytes
from medmij_stack.testscript.simulator.fixtures import FixtureStore, TokenRegistry
from medmij_stack.testscript.simulator.search import SearchRequest, read, search
from medmij_stack.testscript.structure import structure_for

__all__ = ["Reply", "Simulator"]

_JSON = "application/fhir+json"
_XML = "application/fhir+xml"


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }


def _wants_xml(params: Sequence[tuple[str, str]], accept: str | None) -> bool:
    for name, value in params:
        if name == "_format":
            return "xml" in value
    text = (accept or "").lower()
    return "xml" in text and "json" not in text


@dataclass
class Simulator:
    """Answers FHIR reads and searches from fixture stores, and records what it was asked."""

    stores: dict[FhirVersion, list[FixtureStore]]
    tokens: TokenRegistry
    exchanges: list[Exchange] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _store(self, version: FhirVersion, patient: str) -> FixtureStore | None:
        for store in self.stores.get(version, []):
            if store.get("Patient", patient) is not None:
                return store
        return None

    def handle(
        self,
        version: FhirVersion,
        method: str,
        base: str,
        path: str,
        params: Sequence[tuple[str, str]],
        headers: Sequence[tuple[str, str]],
        url: str,
    ) -> Reply:
        """Answer one request; ``path`` is below the FHIR ``base`` (``Immunization``)."""
        as_xml = _wants_xml(params, header(headers, "accept"))
        status, resource = self._answer(version, method, base, path, params, headers)
        content_type = _XML if as_xml else _JSON
        if as_xml:
            body = json_to_xml_bytes(resource, structure_for(version))
        else:
            body = json.dumps(resource, ensure_ascii=False).encode("utf-8")
        extra: tuple[tuple[str, str], ...] = ()
        if status == 401:
            extra = (("WWW-Authenticate", 'Bearer realm="qualification"'),)
        reply = Reply(status, content_type, body, extra)
        exchange = Exchange(
            request=HttpRequest(method=method, url=url, headers=tuple(headers)),
            response=HttpResponse(
                status=status,
                headers=(("content-type", content_type), *extra),
                body=body,
            ),
            parsed=ParsedBody(resource, "xml" if as_xml else "json"),
        )
        with self._lock:
            self.exchanges.append(exchange)
        return reply

    def _answer(
        self,
        version: FhirVersion,
        method: str,
        base: str,
        path: str,
        params: Sequence[tuple[str, str]],
        headers: Sequence[tuple[str, str]],
    ) -> tuple[int, dict[str, Any]]:
        if method.upper() != "GET":
            return 405, _outcome("not-supported", f"{method} is not supported here; use GET")
        patient = self.tokens.patient_for(header(headers, "authorization"))
        if patient is None:
            return 401, _outcome("login", "no known qualification token in Authorization")
        store = self._store(version, patient)
        if store is None:
            return 404, _outcome(
                "not-found",
                f"the token's patient {patient} is not in the {version.release} fixtures",
            )
        parts = [part for part in path.strip("/").split("/") if part]
        structure = structure_for(version)
        if not parts or not structure.is_resource_type(parts[0]):
            shown = quote(parts[0]) if parts else "(none)"
            return 404, _outcome("not-supported", f"unknown resource type {shown}")
        if len(parts) == 1 or (len(parts) == 2 and parts[1] == "$lastn"):
            lastn = len(parts) == 2
            if lastn and parts[0] != "Observation":
                return 404, _outcome("not-supported", "$lastn is only defined on Observation")
            request = SearchRequest(parts[0], tuple(params), lastn=lastn)
            return 200, search(store, patient, request, base)
        if len(parts) == 2:
            found = read(store, patient, parts[0], parts[1])
            if found is None:
                return 404, _outcome("not-found", f"{parts[0]}/{quote(parts[1])} is not known")
            return 200, found
        return 404, _outcome("not-supported", "only read and search are supported")

    def recorded(self) -> list[Exchange]:
        with self._lock:
            return list(self.exchanges)
