"""Every error the authorisation server answers on purpose, and the texts it answers with.

The exception tree (one handler per branch renders it; nothing else reaches a person or
a peer)::

    DvaError
     ├── UntrustedRequest   client_id or redirect_uri missing or wrong: an error page,
     │                      never a redirect (core.authint.202/203; Logging interface:
     │                      authorization_request_error + show_authorization_request_error_page)
     ├── FlowError          any other fault once client and redirect URI are trusted: a
     │                      redirect to the PGO with error, error_description and state
     │                      (RFC 6749 4.1.2.1; send_authorization_request_error, or later in
     │                      the flow send_authorization_error / send_authorization_cancellation)
     ├── FlowUnavailable    the flow is unknown, expired, or not this browser's: a page
     └── TechnicalFault     the DVA's own machinery failed (beschikbaarheidstoets unreachable):
                            the "technische storing" page with trace id and session id

    authlib.oauth2.OAuth2Error   token, revocation and introspection endpoints: JSON per
                                 RFC 6749 5.2, with Cache-Control: no-store

The exception table of the Afsprakenstelsel (UCI ZA OAuth, docs/MEDMIJ.md 1.8) maps onto
OAuth error codes as follows; the ``error_description`` values are the constants below, so
that a PGO (and MedMij's central measurement) can tell which step failed, as AS 2.0.0
"Duiding van fouten" asks. The final list of fixed values of that change was not
recovered, so these are this stack's, kept in this one place:

    1  request invalid            invalid_request, the scope included: the exception
                                  table has one code for every invalid request, and the
                                  error_description (from medmij_stack.protocol.scope) says
                                  precisely what is wrong. RFC 6749's invalid_scope is used only at
                                  the token endpoint, when a refresh asks for more.
    2  identity not established   unauthorized_client   AUTHENTICATION_FAILED
    3  no data for this person    access_denied         NO_SUCH_RESOURCES
    4  consent refused            access_denied         AUTHORIZATION_DENIED
    5  authorization not settled  access_denied         AUTHORIZATION_FAILED
    6  code invalid at /token     invalid_grant         CODE_* / REFRESH_*
    -  person cancelled           access_denied         AUTHORIZATION_CANCELLED  [inferred:
                                  MEDMIJ.md 1.8 reads the "authorization cancellation" as
                                  access_denied on the redirect URI]

OAuth requires descriptions in printable ASCII without ``"`` and ``\\``; texts built from
request values pass through :func:`ascii_description` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ACCESS_DENIED",
    "AUTHENTICATION_FAILED",
    "AUTHORIZATION_CANCELLED",
    "AUTHORIZATION_DENIED",
    "AUTHORIZATION_FAILED",
    "CLIENT_CERTIFICATE_MISMATCH",
    "CODE_ANOTHER_CLIENT",
    "CODE_EXPIRED",
    "CODE_REDIRECT_URI_MISMATCH",
    "CODE_REPLAYED",
    "CODE_UNKNOWN",
    "CODE_VERIFIER_MISMATCH",
    "FORM_ENCODING_REQUIRED",
    "INVALID_REQUEST",
    "INVALID_SCOPE",
    "NO_SUCH_RESOURCES",
    "PKCE_METHOD_UNSUPPORTED",
    "PKCE_REQUIRED",
    "QUERY_PARAMETERS_REFUSED",
    "REFRESH_LAPSED",
    "REFRESH_REPLAYED",
    "REFRESH_UNKNOWN",
    "RESPONSE_TYPE_MISSING",
    "TOKEN_ANOTHER_CLIENT",
    "UNAUTHORIZED_CLIENT",
    "DvaError",
    "FlowError",
    "FlowUnavailable",
    "PageReason",
    "TechnicalFault",
    "Unavailability",
    "UntrustedRequest",
    "ascii_description",
]

# --- OAuth error codes (RFC 6749 4.1.2.1 and 5.2) -----------------------------------------
INVALID_REQUEST = "invalid_request"
INVALID_SCOPE = "invalid_scope"
UNAUTHORIZED_CLIENT = "unauthorized_client"
ACCESS_DENIED = "access_denied"

# --- error_description values on the redirect (exception table) --------------------------
AUTHENTICATION_FAILED = "Authentication failed."
NO_SUCH_RESOURCES = "No such resources."
AUTHORIZATION_DENIED = "Authorization denied."
AUTHORIZATION_FAILED = "Authorization failed."
AUTHORIZATION_CANCELLED = "Authorization cancelled."
RESPONSE_TYPE_MISSING = "Invalid request: response_type is missing."
PKCE_REQUIRED = "Invalid request: code_challenge is required (PKCE, method S256)."
PKCE_METHOD_UNSUPPORTED = "Invalid request: code_challenge_method must be S256."

# --- error_description values of the token endpoint (exception 6 and client checks) ------
CODE_UNKNOWN = "Invalid grant: authorization code unknown."
CODE_EXPIRED = "Invalid grant: authorization code expired."
CODE_REPLAYED = (
    "Invalid grant: authorization code already presented; tokens issued with it are revoked."
)
CODE_ANOTHER_CLIENT = "Invalid grant: authorization code was issued to another client."
CODE_REDIRECT_URI_MISMATCH = (
    "Invalid grant: redirect_uri differs from the one in the authorization request."
)
CODE_VERIFIER_MISMATCH = "Invalid grant: code_verifier does not match the code_challenge."
REFRESH_UNKNOWN = "Invalid grant: refresh token unknown, revoked or issued to another client."
REFRESH_LAPSED = "Invalid grant: the long-term consent lapsed after months without use."
REFRESH_REPLAYED = (
    "Invalid grant: refresh token already used; the consent and its tokens are revoked."
)
TOKEN_ANOTHER_CLIENT = "Invalid grant: the token was issued to another client."  # noqa: S105
CLIENT_CERTIFICATE_MISMATCH = "Invalid client: client_id is not a name in the client certificate."
FORM_ENCODING_REQUIRED = (
    "Invalid request: parameters must be sent as application/x-www-form-urlencoded."
)
QUERY_PARAMETERS_REFUSED = (
    "Invalid request: parameters belong in the request body, not in the query string."
)

_ALLOWED = frozenset(chr(c) for c in (0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)))
_MAX_DESCRIPTION = 300


def ascii_description(text: str) -> str:
    """``text`` made fit for error_description: RFC 6749 allows %x20-21 / %x23-5B / %x5D-7E."""
    cleaned = "".join(ch if ch in _ALLOWED else "?" for ch in text)
    if len(cleaned) > _MAX_DESCRIPTION:
        cleaned = cleaned[: _MAX_DESCRIPTION - 3] + "..."
    return cleaned


class PageReason(StrEnum):
    """Why the error page (no redirect) is shown; the template words each for the person."""

    CLIENT_MISSING = "client_missing"
    CLIENT_UNKNOWN = "client_unknown"
    REDIRECT_MISSING = "redirect_missing"
    REDIRECT_INVALID = "redirect_invalid"
    PARAMETER_REPEATED = "parameter_repeated"


class DvaError(Exception):
    """Root of every error this server answers on purpose."""


@dataclass
class UntrustedRequest(DvaError):
    """The request names no client on the OCL, or a redirect URI that client may not use."""

    reason: PageReason
    description: str

    def __post_init__(self) -> None:
        super().__init__(self.description)


@dataclass
class FlowError(DvaError):
    """A fault the PGO hears about by redirect; client and redirect URI were checked."""

    error: str
    description: str

    def __post_init__(self) -> None:
        self.description = ascii_description(self.description)
        super().__init__(f"{self.error}: {self.description}")


class Unavailability(StrEnum):
    """Why a flow cannot go on; the "expired" page words each for the person."""

    UNKNOWN = "unknown"  # no such flow, another browser's, or a form not from this flow
    EXPIRED = "expired"  # the person took longer than the flow may last
    DONE = "done"  # this step was taken already (a form sent twice, a back button)


@dataclass
class FlowUnavailable(DvaError):
    """The flow cannot go on: unknown, expired, or already past this step."""

    description: str
    reason: Unavailability = Unavailability.UNKNOWN

    def __post_init__(self) -> None:
        super().__init__(self.description)

    @classmethod
    def step_taken(cls, step: str) -> FlowUnavailable:
        return cls(f"this step was already taken (the flow is at {step})", Unavailability.DONE)


@dataclass
class TechnicalFault(DvaError):
    """The DVA itself failed; the person sees the "technische storing" page."""

    description: str

    def __post_init__(self) -> None:
        super().__init__(self.description)
