"""The OAuth error as an HTTP answer: the one way every service renders it.

The body and its character rules are :class:`medmij_stack.protocol.oauth_errors.OAuthError`;
this adds the HTTP side of RFC 6749 5.2: a JSON response with the status the refusal
calls for and ``Cache-Control: no-store`` / ``Pragma: no-cache``. The authorisation
server's back channel, the DigiD simulator's artifact resolution, the resource server's
beschikbaarheidstoets and the Whitelist gate's default refusal
(:mod:`medmij_stack.runtime.asgi_tls`) all answer through :func:`oauth_error_response`.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

from medmij_stack.protocol.oauth_errors import NO_STORE, OAuthError

__all__ = ["oauth_error_response"]


def oauth_error_response(
    status: int,
    error: str | OAuthError,
    description: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An RFC 6749 5.2 error answer: ``error`` (a code, or a whole :class:`OAuthError`)."""
    body = error if isinstance(error, OAuthError) else OAuthError(error, description)
    return JSONResponse(body.to_json(), status_code=status, headers={**NO_STORE, **(headers or {})})
