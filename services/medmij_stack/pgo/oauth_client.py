"""The PGO as OAuth client, on authlib's ``AsyncOAuth2Client``.

What the Afsprakenstelsel asks of the client, and where it happens:

* Authorization request (``core.authint.200/208``, docs
  docs/protocol.md#authorization-request): a GET on the authorization endpoint from the ZAL
  with ``response_type=code``, ``client_id`` = the PGO's OCL hostname, the full HTTPS
  ``redirect_uri`` on that host, the ``scope`` (:mod:`medmij_stack.pgo.scopes`), an
  unguessable ``state``, and the tracing ids ``MedMij-Request-ID`` and ``X-Correlation-ID``
  as query parameters (a redirect cannot carry headers). PKCE (RFC 7636) with S256 on top:
  the DVA may require it.
* Token request (``core.tknint.200-208``, RFC 6749 4.1.3): form-encoded, over mutual TLS
  with the PGO node's certificate, ``client_id`` in the body and no secret (RFC 8705
  ``tls_client_auth``: the certificate authenticates), the code offered once
  (``core.tknint.203``), the tracing ids as headers.
* Refresh request (langdurige toestemming, RFC 6749 6): the same, with a new
  X-Correlation-ID (``core.tknint.208``).
* Revocation (RFC 7009) at the revocation endpoint the DVA names in its RFC 8414
  metadata: the ZAL names none (docs docs/protocol.md#langdurige-toestemming). The metadata
  is read from the token endpoint's origin, which is taken to be the issuer, and is checked
  to say so.

Before any back-channel call the DVA's host must be on the current Whitelist (UCI
Opvragen Whitelist: the client checks the server's host name before the handshake); the
connection itself is mutual TLS with the Private root only
(:mod:`medmij_stack.runtime.net`). Every call has a time limit.

authlib builds the authorization URL, the S256 challenge, the token and refresh request
bodies and the RFC 7009 request, and reads the token response (an OAuth error body
becomes its ``OAuthError``). One ``AsyncOAuth2Client`` is made per operation on the
PGO's shared transport, because the client object keeps per-flow state (the token); it
is never closed, since closing would close the shared transport.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.deprecate import AuthlibDeprecationWarning

from medmij_stack.protocol.headers import MEDMIJ_REQUEST_ID, X_CORRELATION_ID, new_id
from medmij_stack.protocol.ketenlog import ErrorInfo, EventType, RequestInfo, ResponseInfo
from medmij_stack.runtime.backchannel import (
    NotAsked,
    Whitelist,
    json_object,
    require_whitelisted,
)

from .eventlog import Trail

with warnings.catch_warnings():
    # authlib prefers the "httpx2" distribution and warns when it falls back to httpx,
    # which is the one this project uses; the client works the same on both.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.common.security import generate_token
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

__all__ = [
    "AuthorizationRequest",
    "OAuthClient",
    "Revocation",
    "Token",
    "TokenFailure",
]

METADATA_PATH = "/.well-known/oauth-authorization-server"  # RFC 8414 3
_BEARER = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750 2.1 b64token
_METADATA_TTL = 3600.0
_ERROR_CODE = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}")


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    code_verifier: str
    request_id: str


@dataclass(frozen=True)
class Token:
    access_token: str
    refresh_token: str | None
    expires_in: int | None
    scope: str | None


@dataclass(frozen=True)
class TokenFailure:
    """Why no token came: the OAuth error code (or ``other``), and whether it was an answer."""

    code: str
    description: str
    status: int | None  # None: no answer (timeout, no connection, not on the Whitelist)

    @property
    def answered(self) -> bool:
        return self.status is not None

    @property
    def consent_ended(self) -> bool:
        """A refused refresh token: the consent was revoked, lapsed or replayed."""
        return self.code == "invalid_grant"


@dataclass(frozen=True)
class Revocation:
    done: bool
    detail: str


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class OAuthClient:
    def __init__(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        client: httpx.AsyncClient,
        whitelist: Whitelist,
        timeout: float,
    ) -> None:
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self._http = client
        self._whitelist = whitelist
        self._timeout = timeout
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}

    def _oauth(self, scope: str | None = None) -> AsyncOAuth2Client:
        # httpx keeps the transport private; sharing it keeps one pool of mutual-TLS
        # connections for every flow.
        return AsyncOAuth2Client(
            client_id=self.client_id,
            redirect_uri=self.redirect_uri,
            scope=scope,
            code_challenge_method="S256",
            token_endpoint_auth_method="none",  # noqa: S106 - no secret: mutual TLS
            revocation_endpoint_auth_method="none",
            transport=self._http._transport,
            trust_env=False,
            follow_redirects=False,
        )

    def _check_whitelisted(self, url: str) -> None:
        require_whitelisted(url, self._whitelist)

    # --- the authorization request --------------------------------------------------------

    def authorization_request(
        self, authorize_endpoint: str, scope: str, correlation_id: str
    ) -> AuthorizationRequest:
        request_id = new_id()
        code_verifier = generate_token(64)  # RFC 7636 4.1: 43-128 unreserved characters
        url, state = self._oauth(scope).create_authorization_url(
            authorize_endpoint,
            state=generate_token(43),  # 256 bits
            code_verifier=code_verifier,
            **{MEDMIJ_REQUEST_ID: request_id, X_CORRELATION_ID: correlation_id},
        )
        return AuthorizationRequest(str(url), str(state), code_verifier, request_id)

    # --- the token endpoint ---------------------------------------------------------------

    async def exchange_code(
        self,
        token_endpoint: str,
        *,
        code: str,
        code_verifier: str | None,
        trail: Trail,
        initiated_by: str,
        provider_id: str,
    ) -> Token | TokenFailure:
        extra: dict[str, Any] = {"code": code, "grant_type": "authorization_code"}
        if code_verifier:
            extra["code_verifier"] = code_verifier
        return await self._token_call(
            token_endpoint,
            "authorization_code",
            trail=trail,
            initiated_by=initiated_by,
            provider_id=provider_id,
            call=lambda client, headers: client.fetch_token(
                token_endpoint, headers=headers, timeout=self._timeout, **extra
            ),
        )

    async def refresh(
        self,
        token_endpoint: str,
        *,
        refresh_token: str,
        trail: Trail,
        initiated_by: str,
        provider_id: str,
    ) -> Token | TokenFailure:
        return await self._token_call(
            token_endpoint,
            "refresh_token",
            trail=trail,
            initiated_by=initiated_by,
            provider_id=provider_id,
            call=lambda client, headers: client.refresh_token(
                token_endpoint, refresh_token=refresh_token, headers=headers, timeout=self._timeout
            ),
        )

    async def _token_call(
        self,
        token_endpoint: str,
        grant_type: str,
        *,
        trail: Trail,
        initiated_by: str,
        provider_id: str,
        call: Callable[[AsyncOAuth2Client, dict[str, str]], Any],
    ) -> Token | TokenFailure:
        try:
            self._check_whitelisted(token_endpoint)
        except NotAsked as refused:
            # Not sent, so nothing for the ketenlog: no request left the PGO.
            return TokenFailure("other", f"token endpoint not asked: {refused.reason}", None)
        request_id = new_id()
        headers = {
            "Accept": "application/json",
            MEDMIJ_REQUEST_ID: request_id,
            X_CORRELATION_ID: trail.trace_id,
        }
        trail.add(
            EventType.SEND_TOKEN_REQUEST,
            request=RequestInfo(
                id=request_id,
                method="POST",
                uri=_without_query(token_endpoint),
                client_id=self.client_id,
                server_id=_host(token_endpoint),
                grant_type=grant_type,
                initiated_by=initiated_by,
                provider_id=provider_id,
            ),
        )
        client = self._oauth()
        statuses: list[int] = []

        def remember_status(response: httpx.Response) -> httpx.Response:
            statuses.append(response.status_code)
            return response

        client.register_compliance_hook("access_token_response", remember_status)
        client.register_compliance_hook("refresh_token_response", remember_status)
        result = await self._token_answer(client, call, headers, statuses)
        if isinstance(result, TokenFailure):
            trail.add(
                EventType.RECEIVE_TOKEN_ERROR,
                error=ErrorInfo(
                    code=result.code,
                    description=result.description,
                    request_id=request_id,
                    status=result.status,
                ),
            )
        else:
            trail.add(
                EventType.RECEIVE_TOKEN_RESPONSE,
                response=ResponseInfo(id=request_id, status=statuses[-1] if statuses else 200),
            )
        return result

    async def _token_answer(
        self,
        client: AsyncOAuth2Client,
        call: Callable[[AsyncOAuth2Client, dict[str, str]], Any],
        headers: dict[str, str],
        statuses: list[int],
    ) -> Token | TokenFailure:
        def status() -> int | None:
            return statuses[-1] if statuses else None

        try:
            answer = await call(client, headers)
        except httpx.TimeoutException:
            return TokenFailure("temporarily_unavailable", "request timed out", None)
        except httpx.HTTPStatusError as exc:
            return TokenFailure(
                "other", f"HTTP {exc.response.status_code}", exc.response.status_code
            )
        except httpx.HTTPError as exc:
            return TokenFailure("other", f"no answer ({type(exc).__name__})", None)
        except OAuthError as exc:
            code = str(exc.error) if _ERROR_CODE.fullmatch(str(exc.error)) else "other"
            return TokenFailure(code, str(exc.description or "")[:300], status() or 400)
        except ValueError as exc:  # a body that is not a JSON object
            return TokenFailure("other", str(exc)[:300], status())
        except RecursionError:  # authlib parses the answer itself: a deeply nested body
            return TokenFailure("other", "the answer is nested too deeply", status())
        return _read_token(answer, status())

    # --- revocation (RFC 7009) ------------------------------------------------------------

    async def revocation_endpoint(self, token_endpoint: str) -> str | None:
        """The revocation endpoint in the DVA's RFC 8414 metadata, cached for an hour."""
        issuer = _origin(token_endpoint)
        cached = self._metadata.get(issuer)
        if cached is None or time.monotonic() - cached[0] > _METADATA_TTL:
            self._check_whitelisted(token_endpoint)
            response = await self._http.get(issuer + METADATA_PATH, timeout=self._timeout)
            response.raise_for_status()
            metadata = json_object(response.content)  # ValueError, never RecursionError
            if metadata.get("issuer") != issuer:
                # RFC 8414 3.3: metadata whose issuer differs must not be used.
                raise ValueError("the metadata names another issuer")
            cached = (time.monotonic(), metadata)
            self._metadata[issuer] = cached
        endpoint = cached[1].get("revocation_endpoint")
        if not isinstance(endpoint, str) or urlsplit(endpoint).scheme != "https":
            return None
        return endpoint

    async def revoke(self, token_endpoint: str, refresh_token: str) -> Revocation:
        """Revoke a refresh token, and with it the consent (RFC 7009 2.1)."""
        try:
            endpoint = await self.revocation_endpoint(token_endpoint)
        except NotAsked as refused:
            return Revocation(False, f"not asked: {refused.reason}")
        except (httpx.HTTPError, ValueError) as exc:
            return Revocation(False, f"no metadata ({type(exc).__name__})")
        if endpoint is None:
            return Revocation(False, "the DVA names no revocation endpoint")
        try:
            self._check_whitelisted(endpoint)
            response = await self._oauth().revoke_token(
                endpoint,
                token=refresh_token,
                token_type_hint="refresh_token",  # noqa: S106
                headers={MEDMIJ_REQUEST_ID: new_id(), X_CORRELATION_ID: new_id()},
                timeout=self._timeout,
            )
        except NotAsked as refused:
            return Revocation(False, f"not asked: {refused.reason}")
        except httpx.HTTPError as exc:
            return Revocation(False, f"no answer ({type(exc).__name__})")
        if response.status_code == 200:
            return Revocation(True, "revoked")
        return Revocation(False, f"HTTP {response.status_code}")


def _read_token(answer: Any, status: int | None) -> Token | TokenFailure:
    """The token response checked for what the PGO needs (RFC 6749 5.1, RFC 6750)."""
    access = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(access, str) or not _BEARER.fullmatch(access):
        return TokenFailure("other", "the token response has no usable access_token", status)
    token_type = answer.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        return TokenFailure("other", "the token response is not a Bearer token", status)
    refresh = answer.get("refresh_token")
    expires = answer.get("expires_in")
    scope = answer.get("scope")
    return Token(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_in=expires if isinstance(expires, int) and not isinstance(expires, bool) else None,
        scope=scope if isinstance(scope, str) else None,
    )
