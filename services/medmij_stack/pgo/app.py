"""The PGO server app.

This node is the OAuth client of the MedMij network: the browser talks to it on the
front channel, and it calls token and resource endpoints with its client certificate.
For now it keeps the MedMij lists current and reports its health.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from medmij_stack.runtime.node import ListSubscription

from .settings import PgoSettings

__all__ = ["create_app"]


def create_app(settings: PgoSettings) -> FastAPI:
    subscription = ListSubscription.for_node(settings)
    app = FastAPI(title="PGO", lifespan=subscription.lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.lists = subscription

    @app.get("/health")
    def health() -> JSONResponse:
        status, body = subscription.node_health("pgo", settings.hostname)
        return JSONResponse(body, status_code=status)

    return app
