"""The authorisation server's Prometheus metrics: its OAuth endpoints, counted and timed.

Both channels count into one registry (:func:`authserver_metrics`), which the back channel
serves at ``/metrics`` (``medmij_stack.runtime.metrics``; the gate lets a scraper without a
node certificate through to it). Labels are the endpoint and the HTTP status: no client
secret, code, token, person or session appears in them.

``medmij_authserver_requests_total{endpoint, status}`` counts e.g. tokens issued
(``endpoint="token", status="200"``) and refused (``status="400"``/``"401"``);
``medmij_authserver_request_duration_seconds{endpoint}`` holds their latency, against the
token norm of 10 s (``medmij_stack.protocol.reporting.latency``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from medmij_stack.runtime.metrics import RequestMetrics

from . import paths

__all__ = ["ENDPOINTS", "authserver_metrics", "endpoint_of"]

ENDPOINTS: dict[str, str] = {
    paths.TOKEN: "token",
    paths.INTROSPECT: "introspection",
    paths.REVOKE: "revocation",
    paths.AUTHORIZE: "authorize",
    paths.DIGID_ARTIFACT_RESOLUTION: "artifact_resolution",
}


def endpoint_of(path: str) -> str | None:
    """The name a request path is counted under; None for the rest (pages, health)."""
    return ENDPOINTS.get(path)


def authserver_metrics() -> tuple[CollectorRegistry, RequestMetrics]:
    registry = CollectorRegistry()
    return registry, RequestMetrics(registry, "medmij_authserver", endpoint_of)
