"""The DVA resource server app: FHIR gegevensdiensten on the back channel.

Every request except /health must come over mutual TLS from a node on the Whitelist;
a refusal is a FHIR OperationOutcome, the error format of this endpoint.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from medmij.asgi_tls import ASGIApp, ClientCertificateGate, Scope
from medmij.node import ListSubscription

from .settings import ZorgaanbiederSettings

__all__ = ["create_app", "operation_outcome"]


def operation_outcome(code: str, diagnostics: str) -> dict[str, object]:
    """A FHIR OperationOutcome with one error issue (same shape in STU3 and R4)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }


def _refuse(scope: Scope, reason: str) -> ASGIApp:
    return JSONResponse(
        operation_outcome("security", reason),
        status_code=403,
        media_type="application/fhir+json",
    )


def create_app(settings: ZorgaanbiederSettings) -> ClientCertificateGate:
    subscription = ListSubscription.for_node(settings)
    app = FastAPI(
        title="DVA resource server",
        lifespan=subscription.lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.lists = subscription

    @app.get("/health")
    def health() -> JSONResponse:
        status, body = subscription.node_health("zorgaanbieder", settings.hostname)
        return JSONResponse(body, status_code=status)

    return ClientCertificateGate(app, whitelist=subscription.whitelist, refuse=_refuse)
