"""The FHIR interactions reached without the web framework's machinery.

Every resource request of a PGO is one of four GETs on a FHIR base
(:class:`zorgaanbieder.fhir_api.FhirApi`): search, ``$lastn``, read, metadata. Going through
FastAPI costs each of them its middleware stack (exception, telemetry and body-limit
wrappers, an exit stack), a match of the path against every route's pattern and a
request/response adapter: more than the answer itself when it comes from the answer cache.
:class:`FhirFront` sits in front of the app, recognises these four by the path's shape (as
the routes of :meth:`FhirApi.routes` would) and calls the same handlers directly; anything
else (HEAD, other methods, other paths, a path with an empty segment) goes to the app
unchanged, and so do ``/health``, ``/metrics`` and the back-channel POSTs.

What the app would do around a handler is done here too: a handler that raises (not a
:class:`zorgaanbieder.errors.FhirError`, which the handler turns into its own answer) is
logged and answered ``500`` with an OperationOutcome, and the exception goes on to the
server, as the app's error middleware does. The Whitelist gate, the request ids and the
ketenlog and metrics wrap this front exactly as they wrap the app
(:func:`zorgaanbieder.app.create_app`).
"""

from __future__ import annotations

import logging

from starlette.requests import Request

from medmij_stack.protocol.fhir import FhirFormat
from medmij_stack.runtime.asgi_tls import ASGIApp, Receive, Scope, Send

from .errors import ServerFailure
from .fhir_api import FhirApi, error_response

__all__ = ["FhirFront"]

log = logging.getLogger(__name__)

_SEARCH_PARTS = 5  # "", zorgaanbieder, gegevensdienst, "fhir", type (or "metadata")
_READ_PARTS = 6  # ... type, id (or "$lastn")


class FhirFront:
    """ASGI: the FHIR GETs straight to :class:`FhirApi`, the rest to ``app``."""

    def __init__(self, app: ASGIApp, api: FhirApi) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        parts = path.split("/")
        # The routes' parameters match one non-empty segment each ("[^/]+").
        if (
            len(parts) not in (_SEARCH_PARTS, _READ_PARTS)
            or parts[3] != "fhir"
            or not all(parts[1:])
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        params = {"zorgaanbieder": parts[1], "gegevensdienst": parts[2]}
        if len(parts) == _READ_PARTS:
            params["resource_type"] = parts[4]
            params["resource_id"] = parts[5]
            handler = self.api.read
        elif parts[4] == "metadata":
            handler = self.api.metadata
        else:
            params["resource_type"] = parts[4]
            handler = self.api.search
        scope["path_params"] = params
        try:
            response = await handler(Request(scope, receive))
        except Exception:
            log.exception("GET %s failed", path)
            failure = ServerFailure("the resource server failed on this request")
            await error_response(failure, FhirFormat.JSON, None)(scope, receive, send)
            raise
        await response(scope, receive, send)
