"""Every refusal of the authorisation server, as one tree, and the texts it answers with.

Nothing else reaches a person or a peer: a step raises, and one handler per app renders
(the front channel's in :mod:`authserver.frontchannel`, the back channel's in
:mod:`authserver.backchannel`), writing the ketenlog event that belongs to the refusal::

    DvaError
     ├── FrontChannelError      to a person's browser
     │    ├── UntrustedRequest  client_id or redirect_uri missing or wrong, or a client
     │    │                     not on the Whitelist (it could never redeem a code): an error page,
     │    │                     never a redirect (core.authint.202/203); ketenlog
     │    │                     authorization_request_error (invalid_client or invalid_request)
     │    │                     and show_authorization_request_error_page
     │    ├── FlowError         any other refusal once client and redirect URI are trusted: a
     │    │    │                redirect to the PGO with error, error_description and state
     │    │    │                (RFC 6749 4.1.2.1); send_authorization_request_error (302) at
     │    │    │                the authorization request, send_authorization_error (303) later
     │    │    ├── NotGranted   no data for the person (beschikbaarheidstoets, age rule
     │    │    │                included) or consent refused: one answer on the wire for both,
     │    │    │                the reason only in the DVA's own ketenlog
     │    │    └── Cancelled    the person stopped: send_authorization_cancellation
     │    ├── FlowUnavailable   the flow is unknown, expired, or not this browser's: the
     │    │                     "verlopen" page; nothing is recorded
     │    └── TechnicalFault    the DVA's own machinery failed (beschikbaarheidstoets or
     │                          artifact resolution without a clear answer, or a bug): the
     │                          "technische storing" page; show_technical_error_page
     └── BackChannelError       to a peer: JSON per RFC 6749 5.2 with Cache-Control: no-store;
          │                     send_token_error / send_revocation_error /
          │                     send_introspection_error with the code and the status
          ├── InvalidRequest        400 invalid_request (413 for a body too large)
          ├── InvalidClient         400 invalid_client
          ├── InvalidGrant          400 invalid_grant
          ├── InvalidScope          400 invalid_scope
          ├── UnauthorizedClient    400 unauthorized_client
          ├── UnsupportedGrantType  400 unsupported_grant_type
          ├── AccessDenied          403 access_denied (the Whitelist gate; the artifact
          │                         resolution for a node that is not this DVA's)
          ├── UnknownArtifact       404 unknown_artifact (the DigiD simulator)
          ├── ArtifactGone          410 artifact_gone (the DigiD simulator)
          └── ServerError           500 server_error: a fault of our own, never recorded

authlib raises its own ``OAuth2Error``; :func:`from_authlib` is the one place that turns
it into this tree (the OAuth server calls it for every authlib refusal).

The exception table of the Afsprakenstelsel (UCI ZA OAuth) maps onto OAuth error codes as
follows; the ``error_description`` values are the constants below, so that a PGO (and
MedMij's central measurement) can tell which step failed, as AS 2.0.0 "Duiding van fouten"
asks. The final list of fixed values of that change was not recovered, so these are this
stack's, kept in this one place:

    1  request invalid            invalid_request, the scope included: the exception
                                  table has one code for every invalid request, and the
                                  error_description (from medmij_stack.protocol.scope) says
                                  precisely what is wrong. RFC 6749's invalid_scope is used
                                  only at the token endpoint, when a refresh asks for more.
    2  identity not established   unauthorized_client   AUTHENTICATION_FAILED
    3  no data for this person    access_denied         NOT_GRANTED (ketenlog: NO_SUCH_RESOURCES)
    4  consent refused            access_denied         NOT_GRANTED (ketenlog: AUTHORIZATION_DENIED)
    5  authorization not settled  access_denied         AUTHORIZATION_FAILED
    6  code invalid at /token     invalid_grant         CODE_* / REFRESH_*
    -  person cancelled           access_denied         AUTHORIZATION_CANCELLED  [inferred:
                                  the "authorization cancellation" read as access_denied on
                                  the redirect URI]

Exceptions 3 and 4 once had descriptions of their own ("No such resources." and
"Authorization denied.", UCI ZA OAuth 1.x). The 2.x text of *Autoriseren* (uitzonderingen
autoriseren 1 and 2) asks that the Dienstverlener persoon cannot tell them apart, lest it
learn of a behandelrelatie without consent: both are :class:`NotGranted`, which sends the
same code, description and status by the same handler, and keeps which of the two it was
for the DVA's own ketenlog (``error.description`` of send_authorization_error) and the
reports computed from it.

OAuth allows descriptions in printable ASCII without ``"`` and ``\\`` only; every refusal
passes its description through :func:`medmij_stack.protocol.oauth_errors.ascii_description`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import UnsupportedResponseTypeError

from medmij_stack.protocol.ketenlog import EventType
from medmij_stack.protocol.oauth_errors import (
    ACCESS_DENIED,
    INVALID_CLIENT,
    INVALID_GRANT,
    INVALID_REQUEST,
    INVALID_SCOPE,
    SERVER_ERROR,
    UNAUTHORIZED_CLIENT,
    UNSUPPORTED_GRANT_TYPE,
    OAuthError,
    ascii_description,
)

__all__ = [
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
    "NOT_GRANTED",
    "NO_SUCH_RESOURCES",
    "PARAMETER_CHARACTERS",
    "PKCE_METHOD_UNSUPPORTED",
    "PKCE_REQUIRED",
    "QUERY_PARAMETERS_REFUSED",
    "REFRESH_LAPSED",
    "REFRESH_REPLAYED",
    "REFRESH_UNKNOWN",
    "RESPONSE_TYPE_MISSING",
    "RESPONSE_TYPE_UNSUPPORTED",
    "STATE_OR_PKCE_REQUIRED",
    "TOKEN_ANOTHER_CLIENT",
    "AccessDenied",
    "ArtifactGone",
    "BackChannelError",
    "Cancelled",
    "DvaError",
    "FlowError",
    "FlowUnavailable",
    "FrontChannelError",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "NotGranted",
    "PageReason",
    "Redirect",
    "ServerError",
    "TechnicalFault",
    "UnauthorizedClient",
    "Unavailability",
    "UnknownArtifact",
    "UnsupportedGrantType",
    "UntrustedRequest",
    "from_authlib",
]

# --- error_description values on the redirect (exception table) --------------------------
AUTHENTICATION_FAILED = "Authentication failed."
# Autoriseren, uitzonderingen 1 and 2: "informeert Dienstverlener persoon dat verzoek niet
# wordt ingewilligd"; one text for both on the wire, the two below only in the ketenlog.
NOT_GRANTED = "The request is not granted."
NO_SUCH_RESOURCES = "No such resources."
AUTHORIZATION_DENIED = "Authorization denied."
AUTHORIZATION_FAILED = "Authorization failed."
AUTHORIZATION_CANCELLED = "Authorization cancelled."
RESPONSE_TYPE_MISSING = "Invalid request: response_type is missing."
RESPONSE_TYPE_UNSUPPORTED = (
    "Unsupported response_type: this server issues authorization codes only (code)."
)
PARAMETER_CHARACTERS = (
    "Invalid request: a parameter holds characters outside printable ASCII, a quote or a backslash."
)
STATE_OR_PKCE_REQUIRED = (
    "Invalid request: state or code_challenge (PKCE) is required, against cross-site request"
    " forgery."
)
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


class DvaError(Exception):
    """Root of every refusal this server answers on purpose."""


# --- the front channel ----------------------------------------------------------------------


class FrontChannelError(DvaError):
    """A refusal a person meets in the browser: a page, or a redirect to the PGO."""


class PageReason(StrEnum):
    """Why the error page (no redirect) is shown; the template words each for the person."""

    CLIENT_MISSING = "client_missing"
    CLIENT_UNKNOWN = "client_unknown"
    CLIENT_NOT_WHITELISTED = "client_not_whitelisted"  # on the OCL, its node not admitted
    REDIRECT_MISSING = "redirect_missing"
    REDIRECT_INVALID = "redirect_invalid"
    PARAMETER_REPEATED = "parameter_repeated"


@dataclass(frozen=True)
class Redirect:
    """A redirect URI checked for its client: where the PGO hears of a refusal."""

    client_id: str
    redirect_uri: str
    state: str | None

    def with_error(self, error: OAuthError) -> str:
        return error.redirect(self.redirect_uri, self.state)


@dataclass
class UntrustedRequest(FrontChannelError):
    """The request names no client on the OCL, or a redirect URI that client may not use."""

    reason: PageReason
    description: str

    def __post_init__(self) -> None:
        self.description = ascii_description(self.description)
        super().__init__(self.description)

    @property
    def error(self) -> str:
        """The OAuth code the ketenlog records (the PGO hears nothing: there is no redirect)."""
        unknown = (PageReason.CLIENT_UNKNOWN, PageReason.CLIENT_NOT_WHITELISTED)
        return INVALID_CLIENT if self.reason in unknown else INVALID_REQUEST


@dataclass
class FlowError(FrontChannelError):
    """A refusal the PGO hears about by redirect; client and redirect URI were checked.

    ``redirect`` is where to, when the refusal knows it (the OAuth layer, at the
    authorization request); otherwise the flow the request belongs to says.
    """

    error: str
    description: str
    redirect: Redirect | None = None
    event: ClassVar[EventType] = EventType.SEND_AUTHORIZATION_ERROR

    def __post_init__(self) -> None:
        self.description = ascii_description(self.description)
        super().__init__(f"{self.error}: {self.description}")

    @property
    def oauth(self) -> OAuthError:
        return OAuthError(self.error, self.description)

    @property
    def logged_description(self) -> str:
        """What the DVA's own ketenlog records; the PGO hears :attr:`description`."""
        return self.description


class NotGranted(FlowError):
    """No data for the person, or consent refused: the PGO may not tell which.

    ``reason`` (NO_SUCH_RESOURCES or AUTHORIZATION_DENIED) is recorded in the DVA's own
    ketenlog; the redirect carries NOT_GRANTED either way.
    """

    def __init__(self, reason: str) -> None:
        self.reason = ascii_description(reason)
        super().__init__(ACCESS_DENIED, NOT_GRANTED)

    @property
    def logged_description(self) -> str:
        return self.reason


@dataclass
class Cancelled(FlowError):
    """The person stopped, at the landing page or at DigiD, and goes back to the PGO."""

    error: str = ACCESS_DENIED
    description: str = AUTHORIZATION_CANCELLED
    event: ClassVar[EventType] = EventType.SEND_AUTHORIZATION_CANCELLATION


class Unavailability(StrEnum):
    """Why a flow cannot go on; the "expired" page words each for the person."""

    UNKNOWN = "unknown"  # no such flow, another browser's, or a form not from this flow
    EXPIRED = "expired"  # the person took longer than the flow may last
    DONE = "done"  # this step was taken already (a form sent twice, a back button)


@dataclass
class FlowUnavailable(FrontChannelError):
    """The flow cannot go on: unknown, expired, or already past this step.

    ``flow_id`` is the flow the request named, so that the page can still offer the way
    back to the PGO of a flow that merely expired.
    """

    description: str
    reason: Unavailability = Unavailability.UNKNOWN
    flow_id: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.description)

    @classmethod
    def step_taken(cls, step: str, flow_id: str = "") -> FlowUnavailable:
        return cls(
            f"this step was already taken (the flow is at {step})", Unavailability.DONE, flow_id
        )


@dataclass
class TechnicalFault(FrontChannelError):
    """The DVA itself failed; the person sees the "technische storing" page."""

    description: str

    def __post_init__(self) -> None:
        super().__init__(self.description)


# --- the back channel -----------------------------------------------------------------------


class BackChannelError(DvaError):
    """A refusal a peer reads as an RFC 6749 5.2 error body.

    The subclasses are keyed by their OAuth ``error`` code; authlib's refusals with a code
    no subclass has (RFC 7009's ``unsupported_token_type``) keep theirs.
    """

    error: str = SERVER_ERROR
    status: int = 500

    def __init__(
        self, description: str | None = None, *, status: int | None = None, error: str | None = None
    ) -> None:
        self.description = None if description is None else ascii_description(description)
        if status is not None:
            self.status = status
        if error is not None:
            self.error = error
        super().__init__(f"{self.error}: {self.description}")

    @property
    def oauth(self) -> OAuthError:
        return OAuthError(self.error, self.description)


class InvalidRequest(BackChannelError):
    error = INVALID_REQUEST
    status = 400


class InvalidClient(BackChannelError):
    # RFC 6749 5.2 allows 401 only with a WWW-Authenticate challenge; mutual TLS has none.
    error = INVALID_CLIENT
    status = 400


class InvalidGrant(BackChannelError):
    error = INVALID_GRANT
    status = 400


class InvalidScope(BackChannelError):
    error = INVALID_SCOPE
    status = 400


class UnauthorizedClient(BackChannelError):
    error = UNAUTHORIZED_CLIENT
    status = 400


class UnsupportedGrantType(BackChannelError):
    error = UNSUPPORTED_GRANT_TYPE
    status = 400


class AccessDenied(BackChannelError):
    error = ACCESS_DENIED
    status = 403


class UnknownArtifact(BackChannelError):
    error = "unknown_artifact"
    status = 404


class ArtifactGone(BackChannelError):
    error = "artifact_gone"
    status = 410


class ServerError(BackChannelError):
    error = SERVER_ERROR
    status = 500


_BY_CODE: dict[str, type[BackChannelError]] = {
    kind.error: kind
    for kind in (
        InvalidRequest,
        InvalidClient,
        InvalidGrant,
        InvalidScope,
        UnauthorizedClient,
        UnsupportedGrantType,
        AccessDenied,
        ServerError,
    )
}


def _front_description(error: OAuth2Error) -> str:
    if isinstance(error, UnsupportedResponseTypeError):
        # authlib builds this one with its arguments swapped: say it in our own words.
        return RESPONSE_TYPE_UNSUPPORTED
    return str(error.get_error_description() or error.error)


def from_authlib(
    error: OAuth2Error, *, authorization: bool, client_id: str | None, state: str | None
) -> DvaError:
    """authlib's refusal as one of this tree: the one place where the two meet.

    At the authorization endpoint (``authorization``) it goes back to the PGO as a
    :class:`FlowError` once authlib has checked the redirect URI (it then names it), and
    is an :class:`UntrustedRequest` before. On the back channel it is the
    :class:`BackChannelError` of its code, with authlib's status and description (which
    authlib leaves out of the body when it has none).
    """
    if authorization:
        redirect_uri = error.redirect_uri
        if redirect_uri is None or client_id is None:
            return UntrustedRequest(PageReason.REDIRECT_INVALID, str(error.description))
        redirect = Redirect(client_id, str(redirect_uri), state)
        return FlowError(str(error.error), _front_description(error), redirect)
    kind = _BY_CODE.get(str(error.error), BackChannelError)
    description = str(error.description) if error.description else None
    return kind(description, status=int(error.status_code), error=str(error.error))
