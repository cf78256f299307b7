"""Every way a FHIR request to the resource server can fail, and how each is answered.

::

    FhirError                      an OperationOutcome with one error issue
    ├── InvalidRequest       400   issue "invalid"; WWW-Authenticate error="invalid_request"
    │   └── UnsupportedVersion 400 a fhirVersion in Accept or _format this endpoint does not speak
    ├── InvalidToken         401   issue "login"; WWW-Authenticate error="invalid_token"
    │   └── MissingToken     401   no token at all: WWW-Authenticate: Bearer, no error code
    ├── InsufficientScope    403   issue "forbidden"; WWW-Authenticate error="insufficient_scope"
    ├── NotFound             404   issue "not-found"
    ├── MethodNotAllowed     405   issue "not-supported"
    ├── NotAcceptable        406   issue "not-supported" (an explicit _format we cannot give)
    ├── ServerFailure        500   issue "exception": a simulated fault (gedrag.foutkans), or a bug
    ├── AuthServerUnavailable 503  issue "transient": introspection at the DVA's AS failed
    └── GatewayTimeout       504   issue "timeout": a simulated hang (gedrag.timeoutkans)

Resource interface (docs/protocol.md#resource-requests): errors are an HTTP status with a
FHIR OperationOutcome body, and for 400/401/403 a ``WWW-Authenticate: Bearer error="…",
error_description="…"`` header as RFC 6750 §3.1 defines it (the MGO proxy reads both for its
ketenlog).
"""

from __future__ import annotations

import re
from typing import ClassVar

from medmij_stack.protocol.persons import elfproef

__all__ = [
    "AuthServerUnavailable",
    "FhirError",
    "GatewayTimeout",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "MethodNotAllowed",
    "MissingToken",
    "NotAcceptable",
    "NotFound",
    "ServerFailure",
    "UnsupportedVersion",
    "redact_bsn",
    "www_authenticate",
]


_NINE_DIGITS = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")


def redact_bsn(text: str) -> str:
    """``text`` with anything that could be a BSN (nine digits passing the elfproef) masked.

    Diagnostics may echo what a client sent; a BSN must never come back out
    (docs/qualification.md#generic-asserts, assert 14), even one the client put in the
    request itself.
    """
    return _NINE_DIGITS.sub(lambda m: "*********" if elfproef(m[0]) else m[0], text)


def _quoted(value: str) -> str:
    # RFC 6750 §3: error_description is a quoted-string of printable ASCII without " or \.
    cleaned = "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in value)
    return f'"{cleaned}"'


def www_authenticate(error: str | None, description: str | None = None) -> str:
    """A ``WWW-Authenticate`` value for the Bearer scheme (RFC 6750 §3)."""
    if error is None:
        return "Bearer"
    parts = [f"error={_quoted(error)}"]
    if description:
        parts.append(f"error_description={_quoted(description)}")
    return "Bearer " + ", ".join(parts)


class FhirError(Exception):
    """A refusal rendered as an OperationOutcome; ``diagnostics`` is shown to the caller."""

    status: ClassVar[int] = 500
    issue_code: str = "exception"
    bearer_error: ClassVar[str | None] = None

    def __init__(self, diagnostics: str, *, issue_code: str | None = None) -> None:
        diagnostics = redact_bsn(diagnostics)
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        if issue_code is not None:
            self.issue_code = issue_code

    def headers(self) -> dict[str, str]:
        if self.bearer_error is None:
            return {}
        return {"WWW-Authenticate": www_authenticate(self.bearer_error, self.diagnostics)}


class InvalidRequest(FhirError):
    status = 400
    issue_code = "invalid"
    bearer_error = "invalid_request"


class UnsupportedVersion(InvalidRequest):
    """MGO's DVA answers a wrong ``fhirVersion`` with exactly this
    (docs/protocol.md#resource-requests)."""

    def __init__(self, diagnostics: str = "Requested FHIR version not supported") -> None:
        super().__init__(diagnostics)


class InvalidToken(FhirError):
    status = 401
    issue_code = "login"
    bearer_error: ClassVar[str | None] = "invalid_token"


class MissingToken(InvalidToken):
    """The request carries no token at all.

    RFC 6750 §3.1: "If the request lacks any authentication information (e.g., the client
    was unaware that authentication is necessary …), the resource server SHOULD NOT include
    an error code or other error information." The challenge is the bare scheme. The
    Resource interface (https://afsprakenstelsel.medmij.nl/asverplicht/mmverplicht/
    resource-interface, core.rscint.200: the token in the Authorization Request Header
    Field per RFC 6750 §2.1) says nothing otherwise.
    """

    bearer_error = None

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": www_authenticate(None)}


class InsufficientScope(FhirError):
    status = 403
    issue_code = "forbidden"
    bearer_error = "insufficient_scope"


class NotFound(FhirError):
    status = 404
    issue_code = "not-found"


class MethodNotAllowed(FhirError):
    status = 405
    issue_code = "not-supported"


class NotAcceptable(FhirError):
    status = 406
    issue_code = "not-supported"


class ServerFailure(FhirError):
    status = 500
    issue_code = "exception"


class AuthServerUnavailable(FhirError):
    """Introspection failed: the token may well be good, so this is no 401 but a retry later."""

    status = 503
    issue_code = "transient"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class GatewayTimeout(FhirError):
    status = 504
    issue_code = "timeout"
