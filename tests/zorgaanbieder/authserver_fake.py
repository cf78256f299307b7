"""A stand-in for the DVA's authorisation server: RFC 7662 introspection over mutual TLS.

It answers from a table of tokens as ``medmij_stack.protocol.dva_contract`` fixes the answer, and
records which node asked (by its client certificate) about which token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from medmij_stack.protocol.dva_contract import INTROSPECTION_PATH, Introspection
from medmij_stack.runtime.asgi_tls import peer_certificate
from medmij_stack.runtime.tls import peer_hostnames

PGO = "pgo.za.localhost"


@dataclass
class FakeAuthserver:
    """Answers introspection from ``tokens``; ``failing`` makes it answer 500."""

    tokens: dict[str, Introspection] = field(default_factory=dict)
    seen: list[tuple[frozenset[str], str]] = field(default_factory=list)
    failing: bool = False
    url: str = ""

    def app(self) -> Starlette:
        async def introspect(request: Request) -> JSONResponse:
            cert = peer_certificate(request.scope)
            peer = peer_hostnames(cert) if cert is not None else frozenset()
            token = str((await request.form()).get("token", ""))
            self.seen.append((peer, token))
            if self.failing:
                return JSONResponse({"error": "server_error"}, status_code=500)
            return JSONResponse(self.tokens.get(token, Introspection(active=False)).to_json())

        return Starlette(routes=[Route(INTROSPECTION_PATH, introspect, methods=["POST"])])

    def grant(
        self,
        token: str,
        bsn: str,
        zorgaanbieder: str = "ziekenhuis@medmij",
        gegevensdiensten: tuple[str, ...] = ("48", "63"),
    ) -> None:
        self.tokens[token] = Introspection(
            active=True,
            client_id=PGO,
            scope=zorgaanbieder.removesuffix("@medmij"),
            exp=int(time.time()) + 900,
            iat=int(time.time()),
            zorgaanbieder=zorgaanbieder,
            gegevensdiensten=gegevensdiensten,
            bsn=bsn,
        )
