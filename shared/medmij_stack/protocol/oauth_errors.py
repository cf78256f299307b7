"""The OAuth 2.0 error, in the two forms it travels in: a JSON body and a redirect.

RFC 6749 answers a refused request with an ``error`` code and an optional human-readable
``error_description``:

* on the back channel (token endpoint, section 5.2; revocation, RFC 7009 section 2.2.1;
  introspection, RFC 7662 section 2.3) as a JSON object, sent with ``Cache-Control:
  no-store`` and ``Pragma: no-cache`` (section 5.1);
* from the authorization endpoint (section 4.1.2.1) as query parameters on the client's
  redirect URI, with the request's ``state``.

Both characters sets are narrow: ``error`` and ``error_description`` may hold only
%x20-21 / %x23-5B / %x5D-7E (printable ASCII without ``"`` and ``\\``). Every body and
redirect made here passes its description through :func:`ascii_description`, so a text
built from request values can never break that rule. Servers render these with
:mod:`medmij_stack.runtime.oauth_errors`; an OAuth client (the PGO) reads them back with
:meth:`OAuthError.from_json` and :meth:`OAuthError.from_query`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

__all__ = [
    "ACCESS_DENIED",
    "INVALID_CLIENT",
    "INVALID_GRANT",
    "INVALID_REQUEST",
    "INVALID_SCOPE",
    "NO_STORE",
    "SERVER_ERROR",
    "UNAUTHORIZED_CLIENT",
    "UNSUPPORTED_GRANT_TYPE",
    "UNSUPPORTED_RESPONSE_TYPE",
    "OAuthError",
    "ascii_description",
]

# --- error codes (RFC 6749 4.1.2.1 and 5.2) ---------------------------------------------------
INVALID_REQUEST = "invalid_request"
INVALID_CLIENT = "invalid_client"
INVALID_GRANT = "invalid_grant"
INVALID_SCOPE = "invalid_scope"
UNAUTHORIZED_CLIENT = "unauthorized_client"
UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
UNSUPPORTED_RESPONSE_TYPE = "unsupported_response_type"
ACCESS_DENIED = "access_denied"
SERVER_ERROR = "server_error"

NO_STORE: Mapping[str, str] = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""The headers of every answer that carries a token or an error about one (RFC 6749 5.1)."""

_ALLOWED = frozenset(chr(c) for c in (0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)))
_MAX_DESCRIPTION = 300


def ascii_description(text: str) -> str:
    """``text`` made fit for error_description: RFC 6749 allows %x20-21 / %x23-5B / %x5D-7E.

    Anything else becomes ``?``; a text longer than 300 characters is cut, ending in ``...``.
    """
    cleaned = "".join(ch if ch in _ALLOWED else "?" for ch in text)
    if len(cleaned) > _MAX_DESCRIPTION:
        cleaned = cleaned[: _MAX_DESCRIPTION - 3] + "..."
    return cleaned


@dataclass(frozen=True)
class OAuthError:
    """One OAuth error: its code and, when there is one, its description."""

    error: str
    description: str | None = None

    def __post_init__(self) -> None:
        if not self.error or any(ch not in _ALLOWED for ch in self.error):
            raise ValueError(f"not an OAuth error code: {self.error!r}")
        if self.description is not None:
            object.__setattr__(self, "description", ascii_description(self.description))

    def to_json(self) -> dict[str, str]:
        """The JSON body of RFC 6749 5.2; ``error_description`` only when there is one."""
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body

    def redirect(self, redirect_uri: str, state: str | None) -> str:
        """The redirect URI with this error and the request's state (RFC 6749 4.1.2.1)."""
        params = [("error", self.error)]
        if self.description:
            params.append(("error_description", self.description))
        if state is not None:
            params.append(("state", state))
        separator = "&" if "?" in redirect_uri else "?"
        return f"{redirect_uri}{separator}{urlencode(params)}"

    @classmethod
    def from_json(cls, data: Any) -> OAuthError:
        """Read an error body; ValueError when ``data`` is not one."""
        if not isinstance(data, Mapping):
            raise ValueError("an OAuth error body is a JSON object")
        return cls._read(data.get("error"), data.get("error_description"))

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> OAuthError | None:
        """The error on a redirect's query parameters; None when they carry none."""
        if "error" not in params:
            return None
        return cls._read(params["error"], params.get("error_description"))

    @classmethod
    def _read(cls, error: object, description: object) -> OAuthError:
        if not isinstance(error, str):
            raise ValueError("an OAuth error names its code in 'error'")
        if description is not None and not isinstance(description, str):
            raise ValueError("error_description must be a string")
        return cls(error, description)
