"""The DVA authorisation server apps: one per channel.

The front channel (browser: authorization endpoint and the DVA screens) and the back
channel (PGO servers over mutual TLS: token, revocation and introspection endpoints; and
the DigiD simulator's artifact resolution, for this server's own nodes) listen on different
nodes with different certificates, so each has its own app; both share one list
subscription and one :class:`~authserver.runtime.Dva` (database, OAuth server,
housekeeping).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import NamedTuple

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.runtime.asgi_tls import ClientCertificateGate
from medmij_stack.runtime.metrics import METRICS_PATH, MeasuredRequests, metrics_route
from medmij_stack.runtime.node import ListSubscription

from . import authorize, consent, paths
from .backchannel import mount_back
from .digid import assertion_consumer, simulator
from .frontchannel import mount_front
from .metrics import authserver_metrics
from .runtime import Dva
from .settings import AuthserverSettings

__all__ = ["Channels", "create_apps"]


class Channels(NamedTuple):
    front: FastAPI
    back: ClientCertificateGate


def create_apps(settings: AuthserverSettings, *, clock: Clock = system_clock) -> Channels:
    """The two channel apps of ``settings``. ``clock`` gives every time of day the server
    keeps or judges (token lifetimes, flows, its ketenlog, its lists): the virtual clock in
    a simulation world (medmij_stack.runtime.clock), else the system clock."""
    subscription = ListSubscription.for_node(settings, clock=clock)
    dva = Dva.build(settings, subscription, clock=clock)
    registry, measured = authserver_metrics()  # authserver.metrics

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        await dva.acquire()
        try:
            async with subscription.lifespan(app):
                yield
        finally:
            await dva.release()

    def app(title: str, hostname: str) -> FastAPI:
        made = FastAPI(
            title=title, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
        )
        made.state.settings = settings
        made.state.lists = subscription
        made.state.dva = dva
        made.add_middleware(MeasuredRequests, metrics=measured)

        @made.get("/health")
        def health() -> JSONResponse:
            status, body = subscription.node_health("authserver", hostname)
            if settings.warnings:
                body["warnings"] = list(settings.warnings)
            return JSONResponse(body, status_code=status)

        return made

    # The front channel, step by step in the order a person meets them (authserver.frontchannel).
    front = app("DVA autorisatieserver", settings.front_hostname)
    screens = mount_front(front, dva)
    authorize.mount(front, screens)
    simulator.mount_login(front, screens)
    assertion_consumer.mount(front, screens)
    consent.mount(front, screens)
    # The back channel: token, revocation, introspection; and DigiD's artifact resolution.
    back = app("DVA autorisatieserver (backchannel)", settings.hostname)
    back_channel = mount_back(back, dva)
    simulator.mount_artifact_resolution(back, dva.digid, settings.hostname)
    back.add_route(METRICS_PATH, metrics_route(registry), methods=["GET"])
    # Back channel: only whitelisted nodes (Whitelist rule; see medmij_stack.runtime.asgi_tls),
    # except the health report, the public RFC 8414 metadata and the metrics.
    gate = ClientCertificateGate(
        back,
        whitelist=subscription.whitelist,
        exempt_paths=("/health", paths.METADATA, METRICS_PATH),
        refuse=back_channel.gate_refusal(),
    )
    return Channels(front, gate)
