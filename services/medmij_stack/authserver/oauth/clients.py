"""The OAuth clients: PGO servers on the current OAuth Client List, and the resource server.

Spec rules (docs/protocol.md#authorization-request, #token-request and #tls-and-the-whitelist):

* ``client_id`` is the hostname of the PGO server as on the OCL ([SPEC] example,
  [SPEC-1.x] "client_id = PGO NODE Hostname"); a client exists only while it is on the
  *current* OCL, so every look-up reads the list the node holds now.
* The redirect URI must be "volledig (full)" and "verwijzen naar een HTTPS-beschermd
  endpoint"; the PGO uses "een hostname die voor die PGO Server voorkomt op de OAuth
  Clientlist". The OCL names a hostname only, so that hostname is all that can be
  compared; what is checked is :func:`redirect_uri_problem` (docs/protocol.md says the
  same): scheme https, host equal to the client's OCL hostname, no explicit port (outside
  a development world, whose nodes listen on free ports), no user information, no query
  or fragment, and a path that means what it says: no ``.``/``..`` segment (plain or
  percent-encoded), no encoded slash or backslash and no backslash, which a browser or
  the PGO's server could resolve to another path than the one the DVA checked. The OCL
  registers no URIs, so there is no default redirect URI.
* The client authenticates on the transport layer, not with a secret: mutual TLS with a
  certificate whose CN or SAN is on the Whitelist (the gate checks that) and — a reading of ours,
  docs/protocol.md#token-request — equal to ``client_id``. That is RFC 8705's
  ``tls_client_auth``, the name used in the metadata.
* Only the DVA's own resource servers may introspect (medmij_stack.protocol.dva_contract); they are
  not
  OAuth clients of the OCL and are recognised by their certificate host name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, InvalidClientError

from medmij_stack.authserver.errors import CLIENT_CERTIFICATE_MISMATCH
from medmij_stack.protocol.lists import OAuthclient, OAuthclientlist

from .requests import MedMijRequest

__all__ = [
    "RESOURCE_SERVER_AUTH",
    "TLS_CLIENT_AUTH",
    "OclClient",
    "ResourceServerCaller",
    "authenticate_resource_server",
    "authenticate_tls_client",
    "redirect_uri_problem",
]

TLS_CLIENT_AUTH = "tls_client_auth"  # RFC 8705 2.1.1
RESOURCE_SERVER_AUTH = "medmij_resource_server_tls"
GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})


def redirect_uri_problem(
    redirect_uri: str, hostname: str, *, development: bool = False
) -> str | None:
    """Why ``redirect_uri`` may not be used by the client at ``hostname``; None if it may.

    ``development``: a development world, whose PGOs listen on explicit ports.
    """
    try:
        parts = urlsplit(redirect_uri)
        port = parts.port  # raises on a malformed port
    except ValueError:
        return "redirect_uri is not a URI"
    if parts.scheme != "https":
        return "redirect_uri must use https"
    if "@" in parts.netloc:
        return "redirect_uri must not contain user information"
    if (parts.hostname or "").rstrip(".") != hostname.lower().rstrip("."):
        return "redirect_uri must be on the client's own OCL hostname"
    if not development and (port is not None or parts.netloc.endswith(":")):
        return "redirect_uri must not name a port"
    if "?" in redirect_uri:
        return "redirect_uri must not have a query"
    if "#" in redirect_uri:
        return "redirect_uri must not have a fragment"
    if any(ch.isspace() for ch in redirect_uri):
        return "redirect_uri must not contain white space"
    return _path_problem(parts.path)


def _path_problem(path: str) -> str | None:
    lowered = path.lower()
    if "\\" in path or "%5c" in lowered:
        return "redirect_uri must not contain a backslash"
    if "%2f" in lowered:
        return "redirect_uri must not contain an encoded slash"
    for segment in lowered.split("/"):
        if segment.replace("%2e", ".") in (".", ".."):
            return "redirect_uri must not contain a dot-segment"
    return None


@dataclass(frozen=True)
class OclClient(ClientMixin):  # type: ignore[misc]
    """A PGO server as authlib sees it, from one entry of the current OCL."""

    entry: OAuthclient
    development: bool = False  # a development world: redirect URIs may name a port

    @property
    def client_id(self) -> str:
        return self.entry.hostname.lower()

    @property
    def naam(self) -> str:
        """OAuthclientOrganisatienaam: the name the toestemmingsverklaring shows."""
        return self.entry.organisatienaam

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # the OCL registers no URIs: every request must name its own

    def get_allowed_scope(self, scope: str | None) -> str | None:
        # The scope itself is checked by the grant against ZAL and OCL (see .scopes).
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        problem = redirect_uri_problem(redirect_uri, self.client_id, development=self.development)
        return problem is None

    def check_client_secret(self, client_secret: str) -> bool:
        return False  # MedMij clients have no secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == TLS_CLIENT_AUTH

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


@dataclass(frozen=True)
class ResourceServerCaller(ClientMixin):  # type: ignore[misc]
    """One of this DVA's resource servers, calling the introspection endpoint."""

    hostname: str

    def get_client_id(self) -> str:
        return self.hostname

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == RESOURCE_SERVER_AUTH and endpoint == "introspection"

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return False

    def check_response_type(self, response_type: str) -> bool:
        return False


def authenticate_tls_client(
    ocl: Callable[[], OAuthclientlist | None],
) -> Callable[[object, MedMijRequest], OclClient]:
    """Client authentication ``tls_client_auth``: client_id on the OCL and in the certificate."""

    def authenticate(query_client: object, request: MedMijRequest) -> OclClient:
        client_id = request.payload.client_id
        if not client_id:
            raise InvalidClientError(description="Invalid client: client_id is missing.")
        current = ocl()
        entry = None if current is None else current.get(client_id)
        if entry is None:
            raise InvalidClientError(
                description="Invalid client: client_id is not on the OAuth Client List."
            )
        client = OclClient(entry)
        if client.client_id not in request.peer:
            raise InvalidClientError(description=CLIENT_CERTIFICATE_MISMATCH)
        return client

    return authenticate


def authenticate_resource_server(
    allowed: Collection[str],
) -> Callable[[object, MedMijRequest], ResourceServerCaller]:
    """Client-auth method for introspection: the caller's certificate names our resource server."""
    names = frozenset(name.lower() for name in allowed)

    def authenticate(query_client: object, request: MedMijRequest) -> ResourceServerCaller:
        caller = sorted(names & request.peer)
        if not caller:
            raise InvalidClientError(
                description="Invalid client: only this DVA's resource servers may introspect."
            )
        return ResourceServerCaller(caller[0])

    return authenticate
