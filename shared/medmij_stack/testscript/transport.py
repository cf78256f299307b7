"""Sending the runner's requests: a protocol, and its httpx implementation.

The runner only needs "send this request, give me the response or tell me why not";
tests hand it an ``httpx.MockTransport``-backed client, ``medmij qualify`` a real one
(plain, or with the dev PKI and mutual TLS via :func:`medmij_stack.runtime.net.make_client`).
"""

from __future__ import annotations

import time
from typing import Protocol

import httpx

from medmij_stack.testscript.exchange import HttpRequest, HttpResponse

__all__ = ["HttpxTransport", "Transport", "TransportError"]

_MAX_BODY = 50 * 1024 * 1024


class TransportError(Exception):
    """No response: connection refused, TLS failure, timeout, body too large."""


class Transport(Protocol):
    def send(self, request: HttpRequest) -> tuple[HttpRequest, HttpResponse]:
        """Send ``request``; return it as actually sent (final URL) and the response."""
        ...


class HttpxTransport:
    """Sends with an ``httpx.Client`` the caller owns (and closes)."""

    def __init__(self, client: httpx.Client, *, max_body: int = _MAX_BODY) -> None:
        self._client = client
        self._max_body = max_body

    def send(self, request: HttpRequest) -> tuple[HttpRequest, HttpResponse]:
        started = time.perf_counter()
        try:
            built = self._client.build_request(
                request.method,
                request.url,
                headers=list(request.headers),
                content=request.body,
            )
            response = self._client.send(built, stream=True)
            try:
                received = bytearray()
                for chunk in response.iter_bytes():
                    received += chunk
                    if len(received) > self._max_body:
                        raise TransportError(f"response body larger than {self._max_body} bytes")
            finally:
                response.close()
            body = bytes(received)
        except httpx.HTTPError as exc:
            raise TransportError(str(exc) or type(exc).__name__) from exc
        elapsed = (time.perf_counter() - started) * 1000
        sent = HttpRequest(
            method=built.method,
            url=str(built.url),
            headers=tuple((key, value) for key, value in built.headers.items()),
            body=request.body,
        )
        return sent, HttpResponse(
            status=response.status_code,
            headers=tuple((key, value) for key, value in response.headers.items()),
            body=body,
            elapsed_ms=elapsed,
        )
