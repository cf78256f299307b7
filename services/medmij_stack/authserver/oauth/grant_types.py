"""The two grants of the MedMij flow on authlib: authorization code and refresh token; and PKCE.

Spec rules (docs/protocol.md#the-oauth-flow):

* Authorization code grant only, Bearer tokens ([SPEC-1.x]); ``response_type=code``.
* core.tknint.204: the code is spent the moment it is presented, before anything else is
  checked, so an exchange that fails still uses it up (:meth:`AuthorizationCode.
  validate_token_request`). A code presented again is refused and revokes the tokens it
  issued (RFC 6749 4.1.2).
* [SPEC-1.x] "alleen … aan diezelfde OAuth Client": the code must have been issued to the
  authenticated client; core.tknint.205: the token request must carry ``redirect_uri``
  (equal to the authorization request's) and ``client_id``.
* Langdurige toestemming (AS 2.0.0, RFC0054): a refresh token only when the person chose
  it; the ``refresh_token`` grant rotates it on every use (:mod:`authserver.grant_store`).
  A refresh request may narrow the scope, never widen it; a scope in any form
  medmij_stack.protocol.scope reads is accepted there, the bare name meaning "everything the
  consent covers".
* PKCE (RFC 7636) with S256 only: ``plain`` would add nothing over no PKCE. Required when
  the world says so (settings ``pkce``); a ``code_challenge`` without a method is refused
  rather than read as ``plain``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    TokenMixin,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749 import grants as authlib_grants
from authlib.oauth2.rfc7636 import CodeChallenge

from medmij_stack.authserver.errors import (
    CODE_ANOTHER_CLIENT,
    CODE_EXPIRED,
    CODE_REDIRECT_URI_MISMATCH,
    CODE_REPLAYED,
    CODE_UNKNOWN,
    CODE_VERIFIER_MISMATCH,
    PKCE_METHOD_UNSUPPORTED,
    PKCE_REQUIRED,
    REFRESH_LAPSED,
    REFRESH_REPLAYED,
    REFRESH_UNKNOWN,
)
from medmij_stack.authserver.grant_store import CodeInfo, GrantInfo, Spent, TokenInfo
from medmij_stack.protocol.funnel import Clock
from medmij_stack.protocol.oauth_errors import ascii_description
from medmij_stack.protocol.scope import ScopeError, parse_scope

from .clients import TLS_CLIENT_AUTH, OclClient
from .requests import MedMijRequest
from .scopes import ScopeRefused, resolve_scope, scope_ids

if TYPE_CHECKING:
    from .server import DvaAuthorizationServer

__all__ = ["AuthorizationCode", "IssuedCode", "IssuedToken", "Person", "Pkce", "RefreshToken"]

# Parameters of the authorization request that must not be repeated (RFC 6749 3.1), besides
# client_id and redirect_uri, whose repetition check_authorization_request answers with the
# error page (oauth.server).
_SINGLE = ("response_type", "scope", "state", "code_challenge", "code_challenge_method")


@dataclass(frozen=True)
class Person:
    """authlib's "user": the person and what they consented to."""

    bsn: str
    zorgaanbiedernaam: str
    gegevensdiensten: tuple[str, ...]
    scope: str  # granted, as the token response states it
    langdurig: bool
    flow_id: str | None
    session_id: str | None
    trace_id: str

    @classmethod
    def of(cls, grant: GrantInfo) -> Person:
        return cls(
            bsn=grant.bsn,
            zorgaanbiedernaam=grant.zorgaanbieder,
            gegevensdiensten=grant.gegevensdiensten,
            scope=grant.scope,
            langdurig=grant.langdurig,
            flow_id=None,
            session_id=grant.session_id,
            trace_id=grant.trace_id,
        )


@dataclass(frozen=True)
class IssuedCode(AuthorizationCodeMixin):  # type: ignore[misc]
    info: CodeInfo

    @property
    def code_challenge(self) -> str | None:
        return self.info.code_challenge

    @property
    def code_challenge_method(self) -> str | None:
        return self.info.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.info.redirect_uri

    def get_scope(self) -> str:
        return self.info.grant.scope


@dataclass(frozen=True)
class IssuedToken(TokenMixin):  # type: ignore[misc]
    info: TokenInfo
    # The store's clock (virtual in a simulation world): expiry is judged on the time the
    # token's issued_at and expires_at were set by.
    clock: Clock
    kind: str = "access_token"  # or "refresh_token": which of the pair was presented

    def check_client(self, client: Any) -> bool:
        return bool(self.info.client_id == client.get_client_id())

    def get_scope(self) -> str:
        return self.info.scope

    def get_expires_in(self) -> int:
        return int((self.info.expires_at - self.info.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.info.expires_at <= self.clock()

    def is_revoked(self) -> bool:
        return self.info.access_revoked or self.info.grant.revoked

    def get_user(self) -> Person:
        return Person.of(self.info.grant)

    def get_client(self) -> Any:
        return None


def _server(grant: Any) -> DvaAuthorizationServer:
    server: DvaAuthorizationServer = grant.server
    return server


class AuthorizationCode(authlib_grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = [TLS_CLIENT_AUTH]  # noqa: RUF012 - authlib's interface

    @staticmethod
    def validate_no_multiple_request_parameter(request: MedMijRequest) -> None:
        # Repeated client_id / redirect_uri are refused before authlib runs (oauth.server)
        # (error page); the others are refused in validate_requested_scope, by redirect.
        return None

    def validate_requested_scope(self) -> None:
        """Runs once client and redirect URI are trusted: faults here redirect to the PGO."""
        request: MedMijRequest = self.request
        repeated = request.incoming.repeated(_SINGLE)
        if repeated is not None:
            raise InvalidRequestError(f"Invalid request: parameter {repeated} is repeated.")
        raw = request.payload.scope
        if not raw:
            raise InvalidRequestError("Invalid request: scope is missing.")
        server = _server(self)
        zal = server.lists.lists.zal.current
        if zal is None:  # authserver.authorize checks readiness first; this is the last guard
            raise InvalidRequestError("Invalid request: the Zorgaanbiederslijst is not loaded.")
        client: OclClient = request.client
        try:
            request.findings.requested_scope = resolve_scope(
                raw, served=server.settings.zorgaanbieders, zal=zal, client=client
            )
        except ScopeRefused as refused:
            # The Afsprakenstelsel's exception table (UCI ZA OAuth, exception 1) answers
            # every invalid authorization request with invalid_request and the cause in
            # error_description; RFC 6749's invalid_scope is kept for the token endpoint.
            raise InvalidRequestError(ascii_description(str(refused))) from None

    def generate_authorization_code(self) -> str:
        return _server(self).store.unique_code()

    def save_authorization_code(self, code: str, request: MedMijRequest) -> None:
        person: Person = request.user
        data = request.payload.data
        _server(self).store.create_code(
            code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri,
            bsn=person.bsn,
            zorgaanbieder=person.zorgaanbiedernaam,
            gegevensdiensten=person.gegevensdiensten,
            scope=person.scope,
            langdurig=person.langdurig,
            flow_id=person.flow_id,
            session_id=person.session_id,
            trace_id=person.trace_id,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: OclClient) -> IssuedCode:
        # authlib calls this once the client has authenticated (certificate, Whitelist,
        # client_id) and a code is present. core.tknint.204: a code presented by an OAuth
        # client is spent, whatever happens next; a node that is no client cannot burn one.
        request: MedMijRequest = self.request
        spent = _server(self).store.spend_code(code)
        if spent.code is not None:
            request.findings.grant = spent.code.grant
        if spent.status is Spent.UNKNOWN or spent.code is None:
            raise InvalidGrantError(CODE_UNKNOWN)
        if spent.status is Spent.REPLAYED:
            raise InvalidGrantError(CODE_REPLAYED)
        if spent.code.client_id != client.client_id:
            raise InvalidGrantError(CODE_ANOTHER_CLIENT)
        if spent.status is Spent.EXPIRED:
            raise InvalidGrantError(CODE_EXPIRED)
        redirect_uri = request.payload.redirect_uri
        if not redirect_uri:
            raise InvalidRequestError("Invalid request: redirect_uri is missing.")
        if redirect_uri != spent.code.redirect_uri:
            raise InvalidGrantError(CODE_REDIRECT_URI_MISMATCH)
        if spent.code.grant.revoked:
            raise InvalidGrantError(CODE_UNKNOWN)
        return IssuedCode(spent.code)

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        return None  # spent when presented (query_authorization_code)

    def authenticate_user(self, authorization_code: IssuedCode) -> Person:
        return Person.of(authorization_code.info.grant)


class RefreshToken(authlib_grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = [TLS_CLIENT_AUTH]  # noqa: RUF012 - authlib's interface
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation

    def validate_token_request(self) -> None:
        request: MedMijRequest = self.request
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("Unauthorized client: refresh_token not allowed.")
        request.client = client
        value = request.form.get("refresh_token")
        if not value:
            raise InvalidRequestError("Invalid request: refresh_token is missing.")
        token = self.authenticate_refresh_token(value)
        request.findings.refresh_scope = self._narrowed_scope(token.info)
        request.refresh_token = token

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken:
        request: MedMijRequest = self.request
        store = _server(self).store
        info = store.find_refresh(refresh_token)
        if info is None:
            raise InvalidGrantError(REFRESH_UNKNOWN)
        request.findings.grant = info.grant
        if info.client_id != request.client.client_id:
            # Another client holds this client's refresh token: it has leaked. End it.
            store.revoke_grant(info.grant.id, "refresh token presented by another client")
            raise InvalidGrantError(REFRESH_UNKNOWN)
        if info.refresh_used:
            store.revoke_grant(info.grant.id, "refresh token replayed")
            raise InvalidGrantError(REFRESH_REPLAYED)
        if info.refresh_revoked or info.grant.revoked:
            raise InvalidGrantError(REFRESH_UNKNOWN)
        if info.refresh_expires_at is None or info.refresh_expires_at <= store.clock():
            raise InvalidGrantError(REFRESH_LAPSED)
        return IssuedToken(info, store.clock, kind="refresh_token")

    def _narrowed_scope(self, info: TokenInfo) -> str:
        raw = self.request.payload.scope
        if not raw:
            return info.scope
        naam, bare, granted = scope_ids(info.grant.scope)
        try:
            asked = parse_scope(raw)
        except ScopeError as error:
            raise InvalidScopeError(
                description=ascii_description(f"Invalid scope: {error}")
            ) from None
        if asked.zorgaanbiedernaam != naam:
            raise InvalidScopeError(description="Invalid scope: another zorgaanbieder.")
        wanted = asked.gegevensdienst_ids or granted
        if not set(wanted) <= set(granted):
            raise InvalidScopeError(
                description="Invalid scope: more than the consent covers was asked for."
            )
        if raw.startswith("subscribe~"):
            return info.grant.scope
        return " ".join(f"{bare}~{g}" for g in granted if g in wanted)

    def issue_token(self, user: Person, refresh_token: IssuedToken) -> dict[str, Any]:
        token: dict[str, Any] = self.generate_token(
            user=user, scope=self.request.findings.refresh_scope, include_refresh_token=True
        )
        return token

    def authenticate_user(self, refresh_token: IssuedToken) -> Person:
        return Person.of(refresh_token.info.grant)

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        return None  # rotated atomically with the save (DvaAuthorizationServer.save_token)


class Pkce(CodeChallenge):  # type: ignore[misc]
    """RFC 7636 with S256 only; required or optional per the world."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - authlib's interface

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if not challenge and not method:
            if self.required:
                raise InvalidRequestError(PKCE_REQUIRED)
            return
        if method != "S256":
            raise InvalidRequestError(PKCE_METHOD_UNSUPPORTED)
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        try:
            super().validate_code_verifier(grant, result)
        except InvalidGrantError:
            raise InvalidGrantError(CODE_VERIFIER_MISMATCH) from None
