"""The simulated FHIR server of ``medmij qualify-client``, as a Starlette app.

A thin adapter around :class:`medmij_stack.testscript.simulator.Simulator`: each FHIR release
has its own base (``/stu3`` for BgZ, ``/r4`` for Vaccinaties), requests are answered
from the Nictiz fixtures for the bearer token's patient and recorded for the PHR-Client
scripts' asserts. Anything that goes wrong comes back as a FHIR ``OperationOutcome``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.testscript.simulator import Simulator

__all__ = ["BASE_PATHS", "create_simulator_app"]

BASE_PATHS = {FhirVersion.STU3: "/stu3", FhirVersion.R4: "/r4"}


def create_simulator_app(simulator: Simulator) -> Starlette:
    """The ASGI app serving ``simulator`` under ``/stu3`` and ``/r4``."""

    def handler(version: FhirVersion) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            prefix = BASE_PATHS[version]
            base = str(request.base_url).rstrip("/") + prefix
            params = parse_qsl(request.url.query, keep_blank_values=True)
            reply = simulator.handle(
                version,
                request.method,
                base,
                request.path_params.get("path", ""),
                params,
                [(key, value) for key, value in request.headers.items()],
                str(request.url),
            )
            return Response(
                reply.body,
                status_code=reply.status,
                media_type=reply.content_type,
                headers=dict(reply.headers),
            )

        return endpoint

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "requests": len(simulator.recorded())})

    async def elsewhere(request: Request) -> Response:
        bases = " or ".join(
            str(request.base_url).rstrip("/") + path for path in BASE_PATHS.values()
        )
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "not-found",
                    "diagnostics": f"no FHIR base here; the simulator serves {bases}",
                }
            ],
        }
        return JSONResponse(outcome, status_code=404, media_type="application/fhir+json")

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    routes = [Route("/health", health)]
    for version, prefix in BASE_PATHS.items():
        routes.append(Route(prefix + "/{path:path}", handler(version), methods=methods))
    routes.append(Route("/{path:path}", elsewhere, methods=methods))
    return Starlette(routes=routes)
