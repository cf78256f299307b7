"""The DVA authorisation server on authlib: clients from the OCL, grants, endpoints, tokens.

authlib supplies the protocol machinery (RFC 6749 grants, RFC 7636, RFC 7009, RFC 7662);
this class supplies what authlib leaves to an integration: where clients come from (the
node's *current* OCL, every time), how tokens are generated and kept
(:mod:`authserver.grant_store`), and what a response is (:class:`OAuthResponse`, which the
channel that received the request renders). It also orders the checks of an authorization
request the MedMij way: a bad ``client_id`` or ``redirect_uri`` is an :class:`UntrustedRequest`
(error page, never a redirect); everything else is a :class:`FlowError` (redirect).

Every refusal leaves this class as an exception of :mod:`authserver.errors`: authlib hands
its own errors to :meth:`DvaAuthorizationServer.handle_error_response`, which raises them
converted (:func:`authserver.errors.from_authlib`) instead of rendering them, so that each
app renders every refusal in its one handler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AuthorizationServer, InvalidGrantError

from medmij_stack.authserver.errors import (
    PARAMETER_CHARACTERS,
    REFRESH_REPLAYED,
    RESPONSE_TYPE_MISSING,
    RESPONSE_TYPE_UNSUPPORTED,
    STATE_OR_PKCE_REQUIRED,
    DvaError,
    FlowError,
    InvalidRequest,
    PageReason,
    Redirect,
    UntrustedRequest,
    from_authlib,
)
from medmij_stack.authserver.grant_store import GrantStore
from medmij_stack.authserver.settings import AuthserverSettings
from medmij_stack.protocol.lists import OAuthclientlist
from medmij_stack.protocol.oauth_errors import (
    INVALID_REQUEST,
    UNSUPPORTED_RESPONSE_TYPE,
    ascii_description,
)
from medmij_stack.runtime.node import ListSubscription
from medmij_stack.runtime.tls import PeerRefused, check_hostnames

from .clients import (
    RESOURCE_SERVER_AUTH,
    TLS_CLIENT_AUTH,
    OclClient,
    authenticate_resource_server,
    authenticate_tls_client,
    redirect_uri_problem,
)
from .endpoints import Introspect, Revoke
from .grant_types import AuthorizationCode, IssuedCode, IssuedToken, Person, Pkce, RefreshToken
from .requests import MedMijRequest
from .scopes import RequestedScope

__all__ = ["CheckedRequest", "DvaAuthorizationServer", "OAuthResponse"]

log = logging.getLogger(__name__)

# authlib's OAuth2Error refuses, with a ValueError, a description outside RFC 6749's
# characters; some of its errors put a request value into theirs (UnsupportedResponseTypeError
# takes the response_type as its description), so a hostile value would turn a refusal into
# a crash. This is the start of that ValueError's message (authlib/oauth2/base.py).
_AUTHLIB_FORBIDDEN_CHARACTERS = "Error description contains forbidden characters"


@contextmanager
def _authlib_refusals(refusal: Callable[[], DvaError]) -> Iterator[None]:
    """Run authlib; a refusal it could not build for a request value's characters is ours."""
    try:
        yield
    except ValueError as error:
        if not str(error).startswith(_AUTHLIB_FORBIDDEN_CHARACTERS):
            raise
        raise refusal() from None


@dataclass(frozen=True)
class OAuthResponse:
    """What authlib answers, before any web framework renders it."""

    status: int
    body: dict[str, Any] | str
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def location(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "location"), None)


@dataclass(frozen=True)
class CheckedRequest:
    """An authorization request that passed every check against the current lists."""

    client: OclClient
    redirect_uri: str
    state: str | None
    scope: RequestedScope
    grant: AuthorizationCode


class DvaAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(
        self, settings: AuthserverSettings, lists: ListSubscription, store: GrantStore
    ) -> None:
        super().__init__()
        self.settings = settings
        for warning in settings.warnings:
            log.warning("%s: %s", settings.front_hostname, warning)
        self.lists = lists
        self.store = store
        self.register_token_generator("default", self._generate_token)
        self.register_client_auth_method(TLS_CLIENT_AUTH, authenticate_tls_client(self._ocl))
        self.register_client_auth_method(
            RESOURCE_SERVER_AUTH, authenticate_resource_server(settings.introspection_clients)
        )
        self.register_grant(AuthorizationCode, [Pkce(required=settings.pkce == "required")])
        self.register_grant(RefreshToken)
        self.register_endpoint(Revoke)
        self.register_endpoint(Introspect)

    # --- what authlib asks of an integration --------------------------------------------

    def _ocl(self) -> OAuthclientlist | None:
        return self.lists.lists.ocl.current

    def query_client(self, client_id: str) -> OclClient | None:
        ocl = self._ocl()
        entry = None if ocl is None or not client_id else ocl.get(client_id)
        return None if entry is None else OclClient(entry, self.settings.development)

    def create_oauth2_request(self, request: Any) -> MedMijRequest:
        if not isinstance(request, MedMijRequest):
            raise TypeError("the channels hand this server MedMijRequest objects only")
        return request

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("no endpoint of this server takes JSON")

    def handle_response(self, status: int, body: Any, headers: Any) -> OAuthResponse:
        return OAuthResponse(status, body, [(str(k), str(v)) for k, v in headers])

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None  # every step is recorded in the ketenlog by the channels instead

    def handle_error_response(self, request: MedMijRequest, error: OAuth2Error) -> NoReturn:
        # authlib renders its refusals here; ours are raised, and rendered by the app.
        payload = request.payload
        raise from_authlib(
            error,
            authorization=request.authorization_request,
            client_id=payload.client_id,
            state=payload.state,
        )

    def _generate_token(
        self,
        grant_type: str,
        client: OclClient,
        user: Person | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        # Langdurige toestemming is the person's choice, not the client's: a refresh token
        # only when they ticked it.
        with_refresh = include_refresh_token and user is not None and user.langdurig
        # Drawn here, checked for uniqueness as they are stored (save_token).
        access, refresh = self.store.new_token_values(with_refresh)
        token: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.store.access_ttl.total_seconds()),
            "scope": scope,
        }
        if refresh is not None:
            token["refresh_token"] = refresh
        return token

    def save_token(self, token: dict[str, Any], request: MedMijRequest) -> None:
        refresh = token.get("refresh_token")
        presented = request.refresh_token
        if isinstance(presented, IssuedToken):
            saved = self.store.rotate(
                presented.info.id,
                request.client.client_id,
                token["scope"],
                token["access_token"],
                refresh,
                thumbprint=request.incoming.peer_thumbprint,
            )
            if saved is None:  # a concurrent request used it first: a replay
                raise InvalidGrantError(REFRESH_REPLAYED)
        else:
            code: IssuedCode = request.authorization_code
            saved = self.store.save_tokens(
                code.info.grant.id,
                request.client.client_id,
                token["scope"],
                token["access_token"],
                refresh,
                thumbprint=request.incoming.peer_thumbprint,
            )
        # The values stored, drawn again by the store if a digest was taken: authlib answers
        # with this dict.
        token["access_token"] = saved.access_token
        if saved.refresh_token is not None:
            token["refresh_token"] = saved.refresh_token

    # --- the authorization request, the MedMij way ---------------------------------------

    def check_authorization_request(self, request: MedMijRequest) -> CheckedRequest:
        """Every check of core.authint.202/203 against the current lists."""
        incoming = request.incoming
        repeated = incoming.repeated(("client_id", "redirect_uri"))
        if repeated is not None:
            raise UntrustedRequest(
                PageReason.PARAMETER_REPEATED, f"Invalid request: parameter {repeated} is repeated."
            )
        payload = request.payload
        client_id = payload.client_id
        if not client_id:
            raise UntrustedRequest(
                PageReason.CLIENT_MISSING, "Invalid request: client_id is missing."
            )
        client = self.query_client(client_id)
        if client is None:
            raise UntrustedRequest(
                PageReason.CLIENT_UNKNOWN,
                ascii_description(f"Invalid client: {client_id} is not on the OAuth Client List."),
            )
        try:
            # A client whose back channel the DVA would refuse can never redeem its code:
            # refused now, before the person logs in and consents for nothing.
            check_hostnames(frozenset({client.client_id}), self.lists.whitelist())
        except PeerRefused:
            raise UntrustedRequest(
                PageReason.CLIENT_NOT_WHITELISTED,
                ascii_description(f"Invalid client: {client_id} is not on the Whitelist."),
            ) from None
        redirect_uri = payload.redirect_uri
        if not redirect_uri:
            raise UntrustedRequest(
                PageReason.REDIRECT_MISSING, "Invalid request: redirect_uri is missing."
            )
        problem = redirect_uri_problem(
            redirect_uri, client.client_id, development=self.settings.development
        )
        if problem is not None:
            raise UntrustedRequest(PageReason.REDIRECT_INVALID, f"Invalid request: {problem}.")
        # From here on client and redirect URI are trusted: faults go back by redirect.
        redirect = Redirect(client.client_id, redirect_uri, payload.state)
        if not payload.response_type:
            raise FlowError(INVALID_REQUEST, RESPONSE_TYPE_MISSING, redirect)
        if payload.response_type != "code":
            # Checked here, in our words: authlib's refusal repeats the value it was sent.
            raise FlowError(UNSUPPORTED_RESPONSE_TYPE, RESPONSE_TYPE_UNSUPPORTED, redirect)
        if not payload.state and not payload.data.get("code_challenge"):
            if not self.settings.allow_requests_without_state_or_pkce:
                raise FlowError(INVALID_REQUEST, STATE_OR_PKCE_REQUIRED, redirect)
            log.warning("an authorization request of %s without state or PKCE", client.client_id)
        try:
            with _authlib_refusals(
                lambda: FlowError(INVALID_REQUEST, PARAMETER_CHARACTERS, redirect)
            ):
                grant: AuthorizationCode = self.get_consent_grant(request, end_user=request.user)
        except OAuth2Error as error:
            self.handle_error_response(request, error)
        scope = request.findings.requested_scope
        assert scope is not None  # validate_requested_scope ran, or raised
        return CheckedRequest(
            client=client, redirect_uri=redirect_uri, state=payload.state, scope=scope, grant=grant
        )

    def issue_code(self, request: MedMijRequest, checked: CheckedRequest, person: Person) -> str:
        """The redirect URI with the new code and state (RFC 6749 4.1.2)."""
        response: OAuthResponse = self.create_authorization_response(
            request, grant_user=person, grant=checked.grant
        )
        location = response.location
        if response.status != 302 or location is None:
            raise RuntimeError(f"authlib answered {response.status} to a valid request")
        return location

    # --- back channel --------------------------------------------------------------------

    def token_response(self, request: MedMijRequest) -> OAuthResponse:
        if not request.payload.grant_type:
            # RFC 6749 5.2: a missing parameter is invalid_request; authlib would answer
            # unsupported_grant_type for "grant_type=None".
            raise InvalidRequest("Invalid request: grant_type is missing.")
        return _back_channel(self.create_token_response, request)

    def revocation_response(self, request: MedMijRequest) -> OAuthResponse:
        return _back_channel(
            lambda r: self.create_endpoint_response(Revoke.ENDPOINT_NAME, r), request
        )

    def introspection_response(self, request: MedMijRequest) -> OAuthResponse:
        return _back_channel(
            lambda r: self.create_endpoint_response(Introspect.ENDPOINT_NAME, r), request
        )


def _back_channel(
    endpoint: Callable[[MedMijRequest], Any], request: MedMijRequest
) -> OAuthResponse:
    with _authlib_refusals(lambda: InvalidRequest(PARAMETER_CHARACTERS)):
        response: OAuthResponse = endpoint(request)
    return response
