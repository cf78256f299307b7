"""The FHIR interactions of every endpoint: search, ``Observation/$lastn``, read, metadata.

The Resource interface (docs/protocol.md#resource-requests) as the Nictiz qualification
scripts exercise it (docs/qualification.md#xis-server-scripts): only GET; search and
``$lastn`` with token filters and ``_include``; reads of what a search's resources reference
(the Vaccinaties script reads each Medication); the patient only ever from the token. Per
request, in this order:

1. the endpoint from the path (404 when the ZAL lists no such base here);
2. the representation (``_format``, ``Accept``, its ``fhirVersion``: 400 or 406);
3. the token (401, 403, or 503 when the authorisation server cannot be asked);
4. the zorgaanbieder's simulated behaviour (latency, 500, a hang then 504);
5. for a search: its plan, the one reading of the query (:func:`.store.plan_search`: 400
   for a search this server cannot answer, parameters left out under lenient handling);
6. the answer, from the answer cache or from the store, which runs the plan as it is.

``GET <base>/metadata`` skips steps 3 and 4: a CapabilityStatement needs no token.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote_from_bytes, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from medmij_stack.protocol.dva_contract import certificate_thumbprint
from medmij_stack.protocol.fhir import FhirFormat, FhirVersion
from medmij_stack.runtime.asgi_tls import peer_certificate_der

from .access import Access, AccessResolver, bearer_token
from .answers import AnswerCache
from .endpoints import Endpoints, ServedEndpoint
from .errors import FhirError, InvalidRequest, NotFound, ServerFailure
from .fhir_xml import FhirXmlError
from .negotiation import content_type, lenient_handling, negotiate
from .records import Records
from .rendering import FhirResource, Renderer, outcome_body
from .store import SearchError, SearchPlan, plan_search

__all__ = ["Answer", "Asked", "FhirApi", "error_answer", "error_response"]

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_LASTN = "$lastn"
# Printable ASCII stays as sent in the self link (percent escapes included); anything else
# a client managed to put in the query is escaped, so the link is a valid URL.
_QUERY_SAFE = "".join(c for c in string.printable if not c.isspace() and c not in "%") + "%"
_BSN_SYSTEM = "NamingSystem/bsn"


# What depends on the request's text alone is worked out once per distinct text: a PGO
# sends the same Accept, certificate and queries again and again. Refusals are not kept
# (lru_cache keeps no exception); each is raised anew.
_negotiate = functools.lru_cache(maxsize=256)(negotiate)
_thumbprint = functools.lru_cache(maxsize=256)(certificate_thumbprint)


def _plan_search(
    fhir_version: FhirVersion,
    resource_type: str,
    params: tuple[tuple[str, str], ...],
    lastn: bool,
    fmt: FhirFormat,
    lenient: bool,
) -> SearchPlan:
    """:func:`.store.plan_search`, its refusal as the 400 of this interface."""
    try:
        return plan_search(
            fhir_version, resource_type, params, lastn=lastn, fmt=fmt, lenient=lenient
        )
    except SearchError as refused:
        raise InvalidRequest(str(refused), issue_code=refused.code) from refused


# A plan is immutable, so one serves every request of the same reading; only short
# queries are kept, so that the cache stays small whatever clients send.
_planned = functools.lru_cache(maxsize=1024)(_plan_search)
_PLANNED_QUERY_BYTES = 1024


class Answer(NamedTuple):
    """What an interaction answers: status, body, media type and any further header fields
    (``WWW-Authenticate``, ``Retry-After``), sent as a Starlette ``Response`` would."""

    status: int
    body: bytes
    media_type: str
    headers: Mapping[str, str]


_NO_HEADERS: Mapping[str, str] = {}


def error_answer(error: FhirError, fmt: FhirFormat, fhir_version: FhirVersion | None) -> Answer:
    """A refusal: status, OperationOutcome in the negotiated format, WWW-Authenticate."""
    media = content_type(fmt, fhir_version) if fhir_version else "application/fhir+json"
    return Answer(error.status, outcome_body(error, fmt), media, error.headers())


def as_response(answer: Answer) -> Response:
    return Response(
        answer.body,
        status_code=answer.status,
        headers=dict(answer.headers) or None,
        media_type=answer.media_type,
    )


def error_response(error: FhirError, fmt: FhirFormat, fhir_version: FhirVersion | None) -> Response:
    """:func:`error_answer` as a Starlette response."""
    return as_response(error_answer(error, fmt, fhir_version))


_ACCEPT = b"accept"
_AUTHORIZATION = b"authorization"
_PREFER = b"prefer"


@dataclass(slots=True)
class Asked:
    """What the handlers read of a request: the path's parameters, the query string, the
    connection's TLS extension (in ``scope``) and three header fields, each found in one
    pass over the raw headers (names are lower case in ASGI), as Starlette's ``Headers``
    finds them: ``accept`` the first field, the others every field."""

    scope: Any
    path_params: Mapping[str, str]
    accept: str | None
    authorization: list[str]
    prefer: list[str]

    @classmethod
    def of(cls, scope: Any, path_params: Mapping[str, str]) -> Asked:
        accept: str | None = None
        authorization: list[str] = []
        prefer: list[str] = []
        for name, value in scope["headers"]:
            if name == _AUTHORIZATION:
                authorization.append(value.decode("latin-1"))
            elif name == _ACCEPT:
                if accept is None:
                    accept = value.decode("latin-1")
            elif name == _PREFER:
                prefer.append(value.decode("latin-1"))
        return cls(scope, path_params, accept, authorization, prefer)

    @classmethod
    def of_request(cls, request: Request) -> Asked:
        return cls.of(request.scope, request.path_params)


@dataclass(frozen=True)
class _Query:
    """A request's query string: as received (for the self link and the cache) and decoded."""

    raw: bytes
    params: tuple[tuple[str, str], ...]  # without _format
    format: str | None  # the first _format
    # Every non-empty "name=value" part as received, with its decoded pair (also _format).
    parts: tuple[tuple[str, tuple[str, str]], ...] = ()

    def without(self, ignored: Collection[tuple[str, str]]) -> _Query:
        """This query less the ``ignored`` pairs, in the self link and the cache key too."""
        kept = [(raw, pair) for raw, pair in self.parts if pair not in ignored]
        raw = "&".join(part for part, _ in kept).encode("latin-1")
        params = tuple(p for p in self.params if p not in ignored)
        return _Query(raw, params, self.format, tuple(kept))


def _parse_query(raw_query: bytes) -> _Query:
    """Decoded (name, value) pairs without ``_format``, and the first ``_format``.

    Percent-decoding only: in a URL a ``+`` is a plus, not a space (as in
    :attr:`medmij_stack.protocol.catalogue.Query.params`).
    """
    pairs: list[tuple[str, str]] = []
    parts: list[tuple[str, tuple[str, str]]] = []
    format_param: str | None = None
    text = raw_query.decode("latin-1")
    for part in text.split("&") if text else ():
        if not part:
            continue
        raw_name, _, raw_value = part.partition("=")
        try:
            name = unquote(raw_name, errors="strict")
            value = unquote(raw_value, errors="strict")
        except UnicodeDecodeError as exc:
            raise InvalidRequest("the query string is not UTF-8 after percent-decoding") from exc
        parts.append((part, (name, value)))
        if name == "_format":
            format_param = value if format_param is None else format_param
            continue
        if _BSN_SYSTEM in value or _BSN_SYSTEM in name:
            raise InvalidRequest(
                "a resource request names no person: the patient follows from the access token"
            )
        pairs.append((name, value))
    return _Query(raw_query, tuple(pairs), format_param, tuple(parts))


# A PGO repeats its queries: the reading of a short query string is kept (a _Query is
# immutable; a refused one raises anew each time).
_parsed = functools.lru_cache(maxsize=1024)(_parse_query)


def _query_of(raw_query: bytes) -> _Query:
    return _parsed(raw_query) if len(raw_query) <= _PLANNED_QUERY_BYTES else _parse_query(raw_query)


class FhirApi:
    """The request handlers; :meth:`routes` mounts them."""

    def __init__(
        self,
        endpoints: Endpoints,
        records: Callable[[], Records],
        access: Callable[[], AccessResolver],
        renderer: Renderer,
        answers: AnswerCache,
    ) -> None:
        self.endpoints = endpoints
        self._records = records
        self._access = access
        self.renderer = renderer
        self.answers = answers

    def routes(self) -> list[Route]:
        base = "/{zorgaanbieder}/{gegevensdienst}/fhir"
        return [
            Route(f"{base}/metadata", self.metadata, methods=["GET"]),
            Route(f"{base}/{{resource_type}}", self.search, methods=["GET"]),
            Route(f"{base}/{{resource_type}}/{{resource_id}}", self.read, methods=["GET"]),
        ]

    # --- plumbing ----------------------------------------------------------------------

    async def _answer(
        self,
        asked: Asked,
        work: Callable[[ServedEndpoint, FhirFormat, _Query], Awaitable[bytes]],
    ) -> Answer:
        try:
            endpoint = self.endpoints.find(
                asked.path_params["zorgaanbieder"], asked.path_params["gegevensdienst"]
            )
        except NotFound as missing:
            return error_answer(missing, FhirFormat.JSON, None)
        fmt = FhirFormat.JSON
        try:
            query = _query_of(asked.scope.get("query_string", b""))
            fmt = _negotiate(asked.accept, query.format, endpoint.fhir_version)
            body = await work(endpoint, fmt, query)
        except FhirXmlError as unwritable:
            # Data the base FHIR model rejects (a source's fault) still gets a clear answer.
            failure = ServerFailure(f"this answer has no FHIR XML form ({unwritable}); ask JSON")
            return error_answer(failure, fmt, endpoint.fhir_version)
        except FhirError as error:
            return error_answer(error, fmt, endpoint.fhir_version)
        return Answer(200, body, content_type(fmt, endpoint.fhir_version), _NO_HEADERS)

    async def _authorise(self, asked: Asked, endpoint: ServedEndpoint) -> Access:
        token = bearer_token(asked.authorization)
        thumbprint = _thumbprint(peer_certificate_der(asked.scope))
        access = await self._access().resolve(endpoint.key, token, thumbprint)
        await endpoint.behaviour.apply()
        if not endpoint.zorgaanbieder.deelt:
            # Listed, but sharing nothing: whatever a token says, there is nothing to show.
            return Access(access.endpoint, None)
        return access

    # --- the routes (the app's way in; zorgaanbieder.front calls the answers directly) ---

    async def metadata(self, request: Request) -> Response:
        return as_response(await self.metadata_answer(Asked.of_request(request)))

    async def search(self, request: Request) -> Response:
        return as_response(await self.search_answer(Asked.of_request(request)))

    async def read(self, request: Request) -> Response:
        return as_response(await self.read_answer(Asked.of_request(request)))

    # --- interactions ------------------------------------------------------------------

    async def metadata_answer(self, asked: Asked) -> Answer:
        async def work(endpoint: ServedEndpoint, fmt: FhirFormat, query: _Query) -> bytes:
            key = (endpoint.key, None, "metadata", b"", fmt)
            cached = self.answers.get(key)
            if cached is None:
                cached = self.renderer.document(
                    endpoint.fhir_version, endpoint.capability_statement, fmt
                )
                self.answers.put(key, cached)
            return cached

        return await self._answer(asked, work)

    async def search_answer(self, asked: Asked) -> Answer:
        resource_type = asked.path_params["resource_type"]

        async def work(endpoint: ServedEndpoint, fmt: FhirFormat, query: _Query) -> bytes:
            return await self._search(asked, endpoint, fmt, query, resource_type, False)

        return await self._answer(asked, work)

    async def read_answer(self, asked: Asked) -> Answer:
        resource_type = asked.path_params["resource_type"]
        resource_id = asked.path_params["resource_id"]

        async def work(endpoint: ServedEndpoint, fmt: FhirFormat, query: _Query) -> bytes:
            if resource_id == _LASTN:
                return await self._search(asked, endpoint, fmt, query, resource_type, True)
            return await self._read(asked, endpoint, fmt, resource_type, resource_id)

        return await self._answer(asked, work)

    async def _search(
        self,
        asked: Asked,
        endpoint: ServedEndpoint,
        fmt: FhirFormat,
        query: _Query,
        resource_type: str,
        lastn: bool,
    ) -> bytes:
        capabilities = endpoint.capabilities
        if resource_type not in capabilities.searchable:
            raise NotFound(
                f"no {resource_type[:64]} search at this endpoint; {endpoint.base}/metadata "
                "says what there is"
            )
        if lastn and resource_type not in capabilities.lastn:
            raise NotFound(f"{_LASTN} is not defined on {resource_type} at this endpoint")
        access = await self._authorise(asked, endpoint)
        plan = self._plan(asked, endpoint, fmt, query, resource_type, lastn)
        if plan.ignored:
            # Left out under lenient handling: the self link (and the cache key) then show
            # exactly the parameters the answer used.
            query = query.without(plan.ignored)

        def render(
            matches: Sequence[FhirResource] = (), includes: Sequence[FhirResource] = ()
        ) -> bytes:
            # Made only when an answer is rendered, not for one from the cache.
            echoed = quote_from_bytes(query.raw, safe=_QUERY_SAFE)
            self_url = f"{endpoint.base}/{plan.path}" + (f"?{echoed}" if echoed else "")
            return self.renderer.searchset(
                scope=endpoint.key,
                fhir_version=plan.fhir_version,
                base=endpoint.base,
                self_url=self_url,
                matches=matches,
                includes=includes,
                fmt=plan.fmt,
            )

        patient_id = access.patient_id
        if patient_id is None:
            return render()
        key = (endpoint.key, patient_id, plan.path, query.raw, plan.fmt)
        cached = self.answers.get(key)
        if cached is not None:
            return cached
        records = self._records()
        result = await run_in_threadpool(records.search, endpoint.key, patient_id, plan)
        body = render(result.matches, result.includes)
        self.answers.put(key, body)
        return body

    @staticmethod
    def _plan(
        asked: Asked,
        endpoint: ServedEndpoint,
        fmt: FhirFormat,
        query: _Query,
        resource_type: str,
        lastn: bool,
    ) -> SearchPlan:
        """The one reading of this search: checked against what the endpoint's FHIR version
        supports, strict or lenient as the client's ``Prefer`` asks (400 when refused)."""
        plan = _planned if len(query.raw) <= _PLANNED_QUERY_BYTES else _plan_search
        return plan(
            endpoint.fhir_version,
            resource_type,
            query.params,
            lastn,
            fmt,
            lenient_handling(asked.prefer),
        )

    async def _read(
        self,
        asked: Asked,
        endpoint: ServedEndpoint,
        fmt: FhirFormat,
        resource_type: str,
        resource_id: str,
    ) -> bytes:
        if resource_type not in endpoint.capabilities.readable:
            raise NotFound(f"no {resource_type[:64]} resources at this endpoint")
        if not _ID.fullmatch(resource_id):
            raise NotFound(f"{resource_type}/{resource_id[:64]} is not a resource id")
        access = await self._authorise(asked, endpoint)
        missing = NotFound(f"{resource_type}/{resource_id} is not known here")
        if access.patient_id is None:
            raise missing
        key = (endpoint.key, access.patient_id, f"{resource_type}/{resource_id}", b"", fmt)
        cached = self.answers.get(key)
        if cached is not None:
            return cached
        found = await run_in_threadpool(
            self._records().read, endpoint.key, access.patient_id, resource_type, resource_id
        )
        if found is None:
            raise missing
        body = self.renderer.resource(
            scope=endpoint.key, fhir_version=endpoint.fhir_version, resource=found, fmt=fmt
        )
        self.answers.put(key, body)
        return body
