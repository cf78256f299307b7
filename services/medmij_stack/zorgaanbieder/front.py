"""The resource server's front: one pure-ASGI layer before the app, and the FHIR GETs without it.

Every request first passes what used to be four ASGI layers, here in one call so that a
request pays for one wrapper (and at most one ``send`` wrapper) instead of four:

1. the request ids (:mod:`zorgaanbieder.tracing`): MedMij-Request-ID, X-Correlation-ID and
   Server-Timing on every answer, a refusal by the gate included;
2. the Whitelist gate (:class:`medmij_stack.runtime.asgi_tls.ClientCertificateGate`, its
   :meth:`admit` per request), whose refusal is an OperationOutcome; ``/health`` and
   ``/metrics`` are exempt;
3. the ketenlog records and metrics of every resource request the gate admitted
   (:class:`zorgaanbieder.observation.Recorder`), whether the front or the app answers it;
4. the FHIR interactions reached without the web framework's machinery.

Every resource request of a PGO is one of four GETs on a FHIR base
(:class:`zorgaanbieder.fhir_api.FhirApi`): search, ``$lastn``, read, metadata. Going through
FastAPI costs each of them its middleware stack (exception, telemetry and body-limit
wrappers, an exit stack), a match of the path against every route's pattern and a
request/response adapter: more than the answer itself when it comes from the answer cache.
The front recognises these four by the path's shape (as the routes of
:meth:`FhirApi.routes` would), calls the same interactions directly and sends their answer
with the header fields a Starlette ``Response`` would send (in its order) plus the request
ids; anything else (HEAD, other methods, other paths, a path with an empty segment) goes to
the app unchanged, and so do ``/health``, ``/metrics`` and the back-channel POSTs.

What the app would do around a handler is done here too: an interaction that raises (not a
:class:`zorgaanbieder.errors.FhirError`, which becomes its own answer) is logged and
answered ``500`` with an OperationOutcome, and the exception goes on to the server, as the
app's error middleware does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Coroutine
from datetime import datetime
from typing import Any

from medmij_stack.protocol.fhir import FhirFormat
from medmij_stack.protocol.headers import Tracing
from medmij_stack.runtime.asgi_tls import (
    ASGIApp,
    ClientCertificateGate,
    Message,
    Receive,
    Refusal,
    Scope,
    Send,
)
from medmij_stack.runtime.tls import PeerRefused

from .errors import ServerFailure
from .fhir_api import Answer, Asked, FhirApi, error_answer
from .observation import Recorder
from .tracing import id_fields, timing_field, tracing_for, with_ids

__all__ = ["ResourceFront"]

log = logging.getLogger(__name__)

_SEARCH_PARTS = 5  # "", zorgaanbieder, gegevensdienst, "fhir", type (or "metadata")
_READ_PARTS = 6  # ... type, id (or "$lastn")
_PEER = "medmij_peer"  # where the gate leaves the admitted names (runtime.asgi_tls)
_TRACING = "medmij_tracing"  # where tracing_of finds the ids (zorgaanbieder.tracing)
_CHALLENGE = b"www-authenticate"
_CONTENT_LENGTH = b"content-length"
_CONTENT_TYPE = b"content-type"


class ResourceFront:
    """ASGI: the layers of the module docstring, before ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        api: FhirApi,
        *,
        whitelist: Callable[[], Collection[str] | None],
        refuse: Refusal,
        exempt_paths: Collection[str],
        recorder: Recorder,
    ) -> None:
        self.app = app
        self.api = api
        # The gate's rule, applied by :meth:`ClientCertificateGate.admit`; the gate itself
        # still takes what is neither HTTP nor lifespan (WebSocket: refused, code 1008).
        self.gate = ClientCertificateGate(
            app, whitelist=whitelist, exempt_paths=exempt_paths, refuse=refuse
        )
        self.exempt_paths = frozenset(exempt_paths)
        self.refuse = refuse
        self.recorder = recorder
        # Content-Type values as bytes, one per media type answered.
        self._media: dict[str, bytes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            await (self.app if kind == "lifespan" else self.gate)(scope, receive, send)
            return
        started = time.perf_counter()
        tracing = tracing_for(scope)
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state[_TRACING] = tracing
        path: str = scope["path"]
        peers: frozenset[str] = frozenset()
        if path not in self.exempt_paths:
            try:
                peers = self.gate.admit(scope)
            except PeerRefused as refused:
                log.info("refused %s %s: %s", scope.get("client"), path, refused.reason)
                refusal = self.refuse(scope, refused.reason)
                await self._unrecorded(refusal, scope, receive, send, started)
                return
            state[_PEER] = peers
        if not self.recorder.observed(path):
            await self._unrecorded(self.app, scope, receive, send, started)
            return
        arrived = self.recorder.clock()
        interaction = self._interaction(scope, path)
        if interaction is None:
            await self._through_app(scope, receive, send, tracing, peers, path, arrived, started)
            return
        try:
            answer = await interaction
        except Exception:
            log.exception("GET %s failed", path)
            failure = ServerFailure("the resource server failed on this request")
            answer = error_answer(failure, FhirFormat.JSON, None)
            try:
                await self._send(answer, send, tracing, started)
            finally:
                self._record(tracing, peers, scope, path, arrived, started, answer)
            raise
        try:
            await self._send(answer, send, tracing, started)
        finally:
            self._record(tracing, peers, scope, path, arrived, started, answer)

    # -- the FHIR GETs ----------------------------------------------------------------------

    def _interaction(self, scope: Scope, path: str) -> Coroutine[Any, Any, Answer] | None:
        """The coroutine of the FHIR interaction ``scope`` asks for, or None (the app's)."""
        if scope["method"] != "GET":
            return None
        parts = path.split("/")
        # The routes' parameters match one non-empty segment each ("[^/]+").
        if (
            len(parts) not in (_SEARCH_PARTS, _READ_PARTS)
            or parts[3] != "fhir"
            or not all(parts[1:])
            or scope.get("root_path")
        ):
            return None
        params = {"zorgaanbieder": parts[1], "gegevensdienst": parts[2]}
        api = self.api
        if len(parts) == _READ_PARTS:
            params["resource_type"] = parts[4]
            params["resource_id"] = parts[5]
            handler = api.read_answer
        elif parts[4] == "metadata":
            handler = api.metadata_answer
        else:
            params["resource_type"] = parts[4]
            handler = api.search_answer
        # As the router would leave them, for anything that reads the scope after us.
        scope["path_params"] = params
        return handler(Asked.of(scope, params))

    async def _send(self, answer: Answer, send: Send, tracing: Tracing, started: float) -> None:
        """``answer`` as Starlette's ``Response`` sends it (its fields first, then
        Content-Length and Content-Type), with the request ids and Server-Timing."""
        media = self._media.get(answer.media_type)
        if media is None:
            media = self._media[answer.media_type] = answer.media_type.encode("latin-1")
        body = answer.body
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in answer.headers.items()
        ]
        headers += [
            (_CONTENT_LENGTH, str(len(body)).encode("latin-1")),
            (_CONTENT_TYPE, media),
            *id_fields(tracing),
            timing_field(started),
        ]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _record(
        self,
        tracing: Tracing,
        peers: frozenset[str],
        scope: Scope,
        path: str,
        arrived: datetime,
        started: float,
        answer: Answer,
    ) -> None:
        self.recorder.record(
            tracing=tracing,
            peers=peers,
            method=scope["method"],
            path=path,
            arrived=arrived,
            seconds=time.perf_counter() - started,
            status=answer.status,
            challenge=answer.headers.get("WWW-Authenticate"),
        )

    # -- everything else ----------------------------------------------------------------------

    async def _unrecorded(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, started: float
    ) -> None:
        """``app``'s answer with the request ids; nothing recorded."""
        tracing = scope["state"][_TRACING]

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_ids(message.get("headers", ()), tracing, started)
            await send(message)

        await app(scope, receive, send_with_ids)

    async def _through_app(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        tracing: Tracing,
        peers: frozenset[str],
        path: str,
        arrived: datetime,
        started: float,
    ) -> None:
        """A resource request the app answers: recorded, with the request ids."""
        status: int | None = None
        challenge: str | None = None

        async def watch(message: Message) -> None:
            nonlocal status, challenge
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = message.get("headers", ())
                for name, value in headers:
                    if name.lower() == _CHALLENGE:
                        challenge = value.decode("latin-1")
                message["headers"] = with_ids(headers, tracing, started)
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.recorder.record(
                tracing=tracing,
                peers=peers,
                method=str(scope.get("method", "")),
                path=path,
                arrived=arrived,
                seconds=time.perf_counter() - started,
                status=status,
                challenge=challenge,
            )
