"""The DVA authorisation server apps: one per channel.

The front channel (browser: authorization endpoint and the DVA screens) and the back
channel (PGO servers over mutual TLS: token endpoint) listen on different nodes with
different certificates, so each has its own app; both share one list subscription.
"""

from __future__ import annotations

from typing import NamedTuple

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from medmij.asgi_tls import ClientCertificateGate
from medmij.node import ListSubscription

from .settings import AuthserverSettings

__all__ = ["Channels", "create_apps"]


class Channels(NamedTuple):
    front: FastAPI
    back: ClientCertificateGate


def create_apps(settings: AuthserverSettings) -> Channels:
    subscription = ListSubscription.for_node(settings)

    def app(title: str, hostname: str) -> FastAPI:
        made = FastAPI(title=title, lifespan=subscription.lifespan, docs_url=None, redoc_url=None)
        made.state.settings = settings
        made.state.lists = subscription

        @made.get("/health")
        def health() -> JSONResponse:
            status, body = subscription.node_health("authserver", hostname)
            return JSONResponse(body, status_code=status)

        return made

    front = app("DVA autorisatieserver", settings.front_hostname)
    back = app("DVA autorisatieserver (backchannel)", settings.hostname)
    # Back channel: only whitelisted nodes (Whitelist rule; see medmij.asgi_tls).
    return Channels(front, ClientCertificateGate(back, whitelist=subscription.whitelist))
