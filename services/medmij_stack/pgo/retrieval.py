"""The PGO's retrieval engine: every resource request of one gegevensdienst, read and checked.

After the token exchange the PGO runs, for each granted gegevensdienst, the requests the
catalogue lists (:mod:`medmij_stack.protocol.catalogue`: the 28 BgZ searches of 48, the
Vaccinaties search of 63) against the ResourceEndpointuri of the ZAL, and the reads those
answers lead to (:mod:`medmij_stack.pgo.follow_up_reads`). What the Afsprakenstelsel's
resource interface asks of each request:

* ``core.rscint.200``: the access token in the ``Authorization: Bearer`` header (RFC 6750
  §2.1), never in the URL.
* ``core.rscint.201``: a fresh ``MedMij-Request-ID`` per request and the flow's
  ``X-Correlation-ID`` (:mod:`medmij_stack.protocol.headers`).
* ``Accept: application/fhir+json; fhirVersion=3.0|4.0`` (``Gegevensdienst.accept``).
* No patient parameter: the patient follows from the token.

And what this engine adds, so that one bad answer can neither hang nor sink the PGO:

* every request has a deadline (connect, headers and body together), and no redirect is
  followed (it could carry the token elsewhere);
* an answer is streamed and dropped once it passes ``max_bytes``, never read whole;
* a searchset's ``next`` links are followed up to ``max_pages`` pages, only on the
  resource endpoint itself, never in a loop;
* every answer must be FHIR JSON of the gegevensdienst's release: a searchset Bundle for
  a search, the resource asked for a read (:mod:`medmij_stack.pgo.fhir_validation`).

Outcomes use the failure taxonomy of :class:`medmij_stack.protocol.funnel.FailureReason`:
``RESOURCE_ERROR`` for an HTTP error status, a timeout or no connection; ``INVALID_CONTENT``
for an answer that is not what was asked (not JSON, not valid FHIR of the release, another
resource type, too large, a next link elsewhere). Each request leaves ketenlog records
(:mod:`medmij_stack.protocol.ketenlog`) through the caller's sink: ``send_resource_request``,
then ``receive_resource_response``, ``receive_resource_error_response`` (an HTTP error
status) or ``receive_resource_request_error`` (no answer), each with ``trace_id`` = the
X-Correlation-ID and ``request.id`` = the MedMij-Request-ID.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import anyio.to_thread
import httpx

from medmij_stack.protocol import catalogue, ketenlog
from medmij_stack.protocol.funnel import Clock, FailureReason
from medmij_stack.protocol.headers import MEDMIJ_REQUEST_ID, X_CORRELATION_ID, new_id, parse_id
from medmij_stack.protocol.ketenlog import ErrorInfo, EventType, RequestInfo, ResponseInfo

from .fhir_validation import (
    FhirContentError,
    FhirRelease,
    ValidBodies,
    outcome_text,
    parse_json,
    parse_valid,
    read_resource,
    read_searchset,
)
from .follow_up_reads import follow_up_reads, is_read

__all__ = [
    "DEFAULT_MAX_PAGES",
    "MAX_FOLLOW_UP_READS",
    "EventSink",
    "QueryResult",
    "ServiceResult",
    "retrieve_service",
]

EventSink = Callable[[ketenlog.Record], None]
"""Receives each ketenlog record as it happens (the PGO stores them in its own database)."""

DEFAULT_MAX_PAGES = 50
"""Pages of one search followed at most; a searchset with more is refused."""

MAX_FOLLOW_UP_READS = 250
"""Reads one gegevensdienst's answers may lead to; references beyond it stay unresolved."""

_ERROR_BODY_LIMIT = 64 * 1024  # an OperationOutcome worth showing is far smaller
_READ_IN_LOOP_BYTES = 16 * 1024
"""Answers up to this size are read and validated on the event loop: a millisecond or
two, less than handing them to a worker thread and back costs. Larger ones go to a
worker thread, so that a big Bundle does not hold up every other request."""
_DETAIL_LIMIT = 300
_VALID_BODIES = ValidBodies()
"""Answers already read as valid, process-wide: a person fetching again gets the same
bytes (the resource server writes no per-answer id or time), and building the models of
a Bundle again was a tenth of the PGO's CPU per retrieval."""
_JSON_MEDIA_TYPES = frozenset(
    {"application/fhir+json", "application/json", "application/json+fhir"}
)
_AUTH_PARAM = re.compile(r'(error|error_description)="([^"]*)"')
_FHIR_VERSION = re.compile(r"fhirversion\s*=\s*\"?([0-9.]+)", re.IGNORECASE)


@dataclass(frozen=True)
class QueryResult:
    """The outcome of one catalogue query (all its pages) or one follow-up read.

    ``request_id`` is the MedMij-Request-ID of the last request made for it: the only one
    for a single page or a read, the failing one when a later page failed. ``status`` is
    that request's HTTP status, None when it got no answer. ``resources`` holds every
    resource of the answer, included ones too, validated and without OperationOutcomes;
    empty when the query failed.
    """

    query: catalogue.Query
    request_id: str
    status: int | None
    resources: tuple[dict[str, Any], ...]
    failure: FailureReason | None
    detail: str | None
    started: datetime
    elapsed_seconds: float


@dataclass(frozen=True)
class ServiceResult:
    """Every query of one gegevensdienst: the catalogue's, in its order, then follow-up reads."""

    gegevensdienst: str
    queries: tuple[QueryResult, ...]

    @property
    def failure(self) -> QueryResult | None:
        """The first failed query, None when all succeeded."""
        return next((result for result in self.queries if result.failure is not None), None)

    @property
    def resources(self) -> tuple[dict[str, Any], ...]:
        """All resources, each (resourceType, id) once, in the order first seen."""
        return _unique(resource for result in self.queries for resource in result.resources)


def _unique(resources: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    seen: set[tuple[str, str]] = set()
    kept: list[dict[str, Any]] = []
    for resource in resources:
        identifier = resource.get("id")
        if isinstance(identifier, str):
            key = (str(resource.get("resourceType")), identifier)
            if key in seen:
                continue
            seen.add(key)
        kept.append(resource)
    return tuple(kept)


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _DETAIL_LIMIT else flat[: _DETAIL_LIMIT - 1] + "…"


def _query_url(base: str, query: catalogue.Query) -> str:
    # As the Nictiz scripts send them (encodeRequestUrl=true): "|" and "," percent-encoded,
    # ":" and "/" of system URIs and typed includes as they are.
    url = f"{base}/{quote(query.resource_path, safe='/$')}"
    if query.params:
        url += "?" + "&".join(
            f"{quote(name, safe='')}={quote(value, safe=':/')}" for name, value in query.params
        )
    return url


@dataclass(frozen=True)
class _Answer:
    request_id: str
    status: int | None
    body: bytes = b""
    content_type: str = ""
    failure: FailureReason | None = None
    detail: str | None = None


class _Oversized(Exception):
    pass


async def _read_limited(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _Oversized
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _Oversized  # leaving the stream's context closes the connection
        chunks.append(chunk)
    return b"".join(chunks)


def _error_detail(status: int, body: bytes, www_authenticate: str) -> tuple[str, str, str | None]:
    """Detail text, ketenlog error code and description of an HTTP error answer."""
    params = dict(_AUTH_PARAM.findall(www_authenticate))
    code = params.get("error") or "other"
    description = params.get("error_description") or None
    outcome: str | None = None
    try:
        data = parse_json(body)
        if data.get("resourceType") == "OperationOutcome":
            outcome = outcome_text(data)
    except FhirContentError:
        pass
    text = f"HTTP {status}"
    if "error" in params:
        text += f" {params['error']}"
    reason = outcome or description
    if reason is None:
        return text, code, None
    # The ketenlog carries the server's error_description when it gave one (as RFC 6750
    # puts it), the OperationOutcome's text otherwise; the detail prefers the latter.
    return _short(f"{text}: {reason}"), code, _short(description or reason)


class _Retrieval:
    """One gegevensdienst's requests on one resource endpoint, with one token and one flow."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        resource_base: str,
        access_token: str,
        dienst: catalogue.Gegevensdienst,
        release: FhirRelease,
        *,
        correlation_id: str,
        clock: Clock,
        sink: EventSink | None,
        session_id: str | None,
        client_id: str,
        timeout_seconds: float,
        max_bytes: int,
        max_pages: int,
    ) -> None:
        self.client = client
        self.base = resource_base
        self.token = access_token
        self.dienst = dienst
        self.release = release
        self.correlation_id = correlation_id
        self.clock = clock
        self.sink = sink
        self.session_id = session_id
        self.client_id = client_id
        self.timeout = timeout_seconds
        self.max_bytes = max_bytes
        self.max_pages = max_pages
        self.server_id = urlsplit(resource_base).hostname

    # -- ketenlog ------------------------------------------------------------------------

    def _log(
        self,
        kind: EventType,
        request: RequestInfo,
        *,
        response: ResponseInfo | None = None,
        error: ErrorInfo | None = None,
    ) -> None:
        if self.sink is None:
            return
        event = ketenlog.Event(
            kind, self.client_id or "pgo", self.clock(), self.session_id, self.correlation_id
        )
        self.sink(ketenlog.Record(event, request, response, error))

    # -- one HTTP exchange ---------------------------------------------------------------

    async def _get(self, url: str) -> _Answer:
        request_id = new_id()
        headers = {
            "Accept": self.dienst.accept,
            "Authorization": f"Bearer {self.token}",
            MEDMIJ_REQUEST_ID: request_id,
            X_CORRELATION_ID: self.correlation_id,
        }
        request = RequestInfo(
            id=request_id,
            method="GET",
            uri=url,
            client_id=self.client_id or None,
            server_id=self.server_id,
            service_id=int(self.dienst.id),
        )
        self._log(EventType.SEND_RESOURCE_REQUEST, request)
        oversized = False
        try:
            # One deadline for connect, headers and the whole body: httpx's own timeouts
            # are per read, which a server dripping bytes would never trip. (asyncio's own
            # deadline: AnyIO's asked which event loop runs, twice per request.)
            async with asyncio.timeout(self.timeout):
                async with self.client.stream(
                    "GET",
                    url,
                    headers=headers,
                    timeout=httpx.Timeout(self.timeout),
                    follow_redirects=False,
                ) as response:
                    status = response.status_code
                    success = 200 <= status < 300
                    try:
                        body = await _read_limited(
                            response, self.max_bytes if success else _ERROR_BODY_LIMIT
                        )
                    except _Oversized:
                        oversized, body = True, b""
                    content_type = response.headers.get("content-type", "")
                    www_authenticate = response.headers.get("www-authenticate", "")
        except (TimeoutError, httpx.TimeoutException):
            detail = f"timeout after {self.timeout:g} s"
            return self._no_answer(request_id, request, detail)
        except httpx.HTTPError as exc:
            detail = f"no answer: {type(exc).__name__}" + (f": {exc}" if str(exc) else "")
            return self._no_answer(request_id, request, _short(detail))
        if success:
            self._log(
                EventType.RECEIVE_RESOURCE_RESPONSE,
                request,
                response=ResponseInfo(id=request_id, status=status),
            )
            if oversized:
                return _Answer(
                    request_id,
                    status,
                    failure=FailureReason.INVALID_CONTENT,
                    detail=f"answer larger than {self.max_bytes} bytes; not read",
                )
            return _Answer(request_id, status, body, content_type)
        detail, code, description = _error_detail(status, body, www_authenticate)
        if 300 <= status < 400:
            detail += " (redirects are not followed)"
        self._log(
            EventType.RECEIVE_RESOURCE_ERROR_RESPONSE,
            request,
            response=ResponseInfo(id=request_id, status=status),
            error=ErrorInfo(
                code=code, description=description, request_id=request_id, status=status
            ),
        )
        return _Answer(request_id, status, failure=FailureReason.RESOURCE_ERROR, detail=detail)

    def _no_answer(self, request_id: str, request: RequestInfo, detail: str) -> _Answer:
        self._log(
            EventType.RECEIVE_RESOURCE_REQUEST_ERROR,
            request,
            error=ErrorInfo(code="other", description=detail, request_id=request_id),
        )
        return _Answer(request_id, None, failure=FailureReason.RESOURCE_ERROR, detail=detail)

    # -- reading an answer ---------------------------------------------------------------

    def _check_media_type(self, content_type: str) -> None:
        if not content_type:
            return  # nothing claimed: the body decides
        media_type = content_type.split(";")[0].strip().lower()
        if media_type not in _JSON_MEDIA_TYPES:
            raise FhirContentError(f"content type {media_type!r} is not FHIR JSON")
        version = _FHIR_VERSION.search(content_type)
        asked = self.dienst.fhir_version or ""
        if version and version.group(1).split(".")[:2] != asked.split(".")[:2]:
            raise FhirContentError(
                f"the answer is FHIR version {version.group(1)}, the request asked {asked}"
            )

    def _read(
        self, query: catalogue.Query, answer: _Answer
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Runs in a worker thread for a large answer: validating a big Bundle takes a while."""
        self._check_media_type(answer.content_type)
        key = ValidBodies.key(answer.body, self.release)
        valid = _VALID_BODIES.known(key)
        data = parse_valid(answer.body) if valid else parse_json(answer.body)
        read: tuple[list[dict[str, Any]], str | None]
        if is_read(query):
            resource_type, _, resource_id = query.resource_path.partition("/")
            resource = read_resource(data, self.release, resource_type, resource_id, valid=valid)
            read = [resource], None
        else:
            read = read_searchset(
                data,
                self.release,
                matches=query.resource_type,
                includes=query.includes,
                valid=valid,
            )
        if not valid:
            _VALID_BODIES.add(key)
        return read

    def _next_url(self, current: str, link: str, seen: set[str]) -> str:
        url = urljoin(current, link)
        here, base = urlsplit(url), urlsplit(self.base)
        same_origin = (here.scheme, here.netloc.lower()) == (base.scheme, base.netloc.lower())
        if not same_origin or not (here.path + "/").startswith(base.path.rstrip("/") + "/"):
            # The token may go to this resource endpoint only.
            raise FhirContentError(
                f"the next link leads away from the resource endpoint (to {here.netloc}{here.path})"
            )
        if url in seen:
            raise FhirContentError("the next link leads back to a page already read")
        if len(seen) >= self.max_pages:
            raise FhirContentError(f"the searchset has more than {self.max_pages} pages")
        seen.add(url)
        return url

    # -- one query -----------------------------------------------------------------------

    async def run(self, query: catalogue.Query) -> QueryResult:
        started = self.clock()
        began = time.perf_counter()

        def result(
            answer: _Answer,
            resources: Sequence[dict[str, Any]] = (),
            failure: FailureReason | None = None,
            detail: str | None = None,
        ) -> QueryResult:
            return QueryResult(
                query=query,
                request_id=answer.request_id,
                status=answer.status,
                resources=_unique(resources) if failure is None else (),
                failure=failure,
                detail=detail,
                started=started,
                elapsed_seconds=time.perf_counter() - began,
            )

        url = _query_url(self.base, query)
        seen = {url}
        collected: list[dict[str, Any]] = []
        while True:
            answer = await self._get(url)
            if answer.failure is not None:
                return result(answer, failure=answer.failure, detail=answer.detail)
            try:
                if len(answer.body) <= _READ_IN_LOOP_BYTES:
                    found, next_link = self._read(query, answer)
                else:
                    found, next_link = await anyio.to_thread.run_sync(
                        partial(self._read, query, answer)
                    )
                collected += found
                if next_link is None:
                    return result(answer, collected)
                url = self._next_url(url, next_link, seen)
            except FhirContentError as exc:
                return result(
                    answer, failure=FailureReason.INVALID_CONTENT, detail=_short(str(exc))
                )

    async def run_all(
        self, queries: Sequence[catalogue.Query], concurrency: int
    ) -> list[QueryResult]:
        results: list[QueryResult | None] = [None] * len(queries)
        # ``concurrency`` workers take the queries in order: the same order of sending as
        # a task per query behind a semaphore, without a task and a wait per query.
        waiting = iter(enumerate(queries))

        async def worker() -> None:
            for index, query in waiting:
                results[index] = await self.run(query)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(concurrency, len(queries))):
                    group.create_task(worker())
        except BaseExceptionGroup as failed:
            # Only the caller's sink raises here (every other failure is a result), often in
            # several queries at once: hand on the first, as the sink raised it.
            raise failed.exceptions[0] from None
        return [result for result in results if result is not None]


def _checked_base(resource_base: str) -> str:
    parts = urlsplit(resource_base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"resource_base must be an http(s) URL, got {resource_base!r}")
    if parts.query or parts.fragment:
        raise ValueError("resource_base must not carry a query or fragment")
    return resource_base.rstrip("/")


def _checked_token(access_token: str) -> str:
    # RFC 6750 §2.1 b64token: a header value that cannot smuggle another header.
    if not re.fullmatch(r"[A-Za-z0-9\-._~+/]+=*", access_token):
        raise ValueError("access_token is not an RFC 6750 bearer token")
    return access_token


async def retrieve_service(
    client: httpx.AsyncClient,
    resource_base: str,
    access_token: str,
    dienst: catalogue.Gegevensdienst,
    *,
    correlation_id: str,
    clock: Clock,
    sink: EventSink | None = None,
    session_id: str | None = None,
    client_id: str = "",
    timeout_seconds: float = 30.0,
    max_bytes: int = 10 * 1024 * 1024,
    concurrency: int = 4,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> ServiceResult:
    """Run every query of ``dienst`` on ``resource_base`` with ``access_token``.

    ``client`` carries the PGO's TLS setup (its certificate for mutual TLS, the trusted
    roots); ``resource_base`` is the ResourceEndpointuri from the ZAL (``…/fhir``).
    Queries run ``concurrency`` at a time; the catalogue's first, then the reads their
    answers lead to. Failures are results, not exceptions: ValueError is raised only for
    arguments no request could be made with, and an exception of ``sink`` (the PGO's own
    storage failing) ends the retrieval with that exception.
    """
    release = dienst.fhir_release
    if not dienst.queries or release is None:
        raise ValueError(f"gegevensdienst {dienst.id} has no queries this PGO can run")
    if timeout_seconds <= 0 or max_bytes <= 0 or concurrency < 1 or max_pages < 1:
        raise ValueError("timeout_seconds, max_bytes, concurrency and max_pages must be positive")
    base = _checked_base(resource_base)
    retrieval = _Retrieval(
        client,
        base,
        _checked_token(access_token),
        dienst,
        release,
        correlation_id=parse_id(correlation_id, name=X_CORRELATION_ID),
        clock=clock,
        sink=sink,
        session_id=session_id,
        client_id=client_id,
        timeout_seconds=timeout_seconds,
        max_bytes=max_bytes,
        max_pages=max_pages,
    )
    results = await retrieval.run_all(dienst.queries, concurrency)
    found = (resource for result in results for resource in result.resources)
    reads = follow_up_reads(dienst, found, base)[:MAX_FOLLOW_UP_READS]
    if reads:
        results += await retrieval.run_all(reads, concurrency)
    return ServiceResult(gegevensdienst=dienst.id, queries=tuple(results))
