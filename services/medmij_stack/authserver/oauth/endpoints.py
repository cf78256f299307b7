"""Token revocation (RFC 7009) and introspection (RFC 7662) on authlib's endpoints.

Revocation: RFC0054 chose "OAuth refresh_tokens, inclusief de mogelijkheid om
refresh_tokens in te trekken (token revocation)" so that a person can withdraw a
langdurige toestemming from their PGO. Readings taken (the spec leaves them open;
docs/protocol.md#langdurige-toestemming): the endpoint sits on the back-channel node beside
the token endpoint, the client authenticates as there (mutual TLS, ``tls_client_auth``);
revoking a refresh token ends the whole consent and every token under it (RFC 7009 2.1:
"SHOULD also invalidate all access tokens based on the same authorization grant"); revoking
an access token ends that token only. An unknown token is answered 200, as RFC 7009 2.2 requires.

Introspection: for this DVA's resource servers only (medmij_stack.protocol.dva_contract), answering
the contract's members. Only access tokens are ever active here: a refresh token must never
open a resource, so one presented for introspection answers ``{"active": false}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidGrantError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from medmij_stack.authserver.errors import TOKEN_ANOTHER_CLIENT
from medmij_stack.protocol.dva_contract import Introspection

from .clients import RESOURCE_SERVER_AUTH, TLS_CLIENT_AUTH
from .grant_types import IssuedToken
from .requests import MedMijRequest
from .scopes import scope_ids

if TYPE_CHECKING:
    from .server import DvaAuthorizationServer

__all__ = ["Introspect", "Revoke"]


class Revoke(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = [TLS_CLIENT_AUTH]  # noqa: RUF012 - authlib's interface

    @property
    def _server(self) -> DvaAuthorizationServer:
        server: DvaAuthorizationServer = self.server
        return server

    def authenticate_token(self, request: MedMijRequest, client: Any) -> IssuedToken | None:
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        if token is not None:
            request.findings.grant = token.info.grant
            if not token.check_client(client):
                raise InvalidGrantError(TOKEN_ANOTHER_CLIENT)
        return token

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        store = self._server.store
        # RFC 7009 2.1: a wrong hint only changes where to look first.
        order = ["refresh_token", "access_token"]
        if token_type_hint == "access_token":  # noqa: S105 - a hint name, not a secret
            order.reverse()
        for kind in order:
            found = (store.find_refresh if kind == "refresh_token" else store.find_access)(
                token_string
            )
            if found is not None:
                return IssuedToken(found, store.clock, kind=kind)
        return None

    def revoke_token(self, token: IssuedToken, request: MedMijRequest) -> None:
        store = self._server.store
        if token.kind == "refresh_token":
            store.revoke_grant(token.info.grant.id, "revoked by the client (RFC 7009)")
        else:
            store.revoke_access(token.info.id)


class Introspect(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = [RESOURCE_SERVER_AUTH]  # noqa: RUF012 - authlib's interface

    def check_params(self, request: MedMijRequest, client: Any) -> None:
        # Any hint is accepted and ignored: only access tokens are looked up (see above).
        if "token" not in request.form:
            super().check_params(request, client)

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        server: DvaAuthorizationServer = self.server
        found = server.store.find_access(token_string)
        return None if found is None else IssuedToken(found, server.store.clock)

    def check_permission(self, token: IssuedToken, client: Any, request: MedMijRequest) -> bool:
        request.findings.grant = token.info.grant
        return True  # the caller authenticated as one of our resource servers

    def introspect_token(self, token: IssuedToken) -> dict[str, Any]:
        info = token.info
        naam, _, gegevensdiensten = scope_ids(info.scope)
        return Introspection(
            active=True,
            client_id=info.client_id,
            scope=info.scope,
            exp=int(info.expires_at.timestamp()),
            iat=int(info.issued_at.timestamp()),
            zorgaanbieder=naam,
            gegevensdiensten=gegevensdiensten,
            bsn=info.grant.bsn,
            cnf_x5t_s256=info.cnf_x5t_s256,
        ).to_json()
