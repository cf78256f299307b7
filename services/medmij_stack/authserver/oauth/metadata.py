"""Authorization-server metadata (RFC 8414), from the same settings the handlers use.

Served at ``/.well-known/oauth-authorization-server`` on the back-channel node, whose URL
is the issuer (RFC 8414 3). MedMij itself publishes endpoints in the ZAL, not here; the
metadata is for developers and standard OAuth libraries. The revocation and
introspection endpoints, which the Afsprakenstelsel does not place
(docs/protocol.md#langdurige-toestemming), are found here. Client authentication everywhere
is mutual TLS (RFC 8705 ``tls_client_auth``: ``client_id`` in the body, the certificate proves it).
"""

from __future__ import annotations

from typing import Any

from medmij_stack.authserver import paths
from medmij_stack.authserver.settings import AuthserverSettings
from medmij_stack.protocol.scope import zorgaanbieder_from_naam

from .clients import TLS_CLIENT_AUTH

__all__ = ["authorization_server_metadata"]


def authorization_server_metadata(settings: AuthserverSettings) -> dict[str, Any]:
    issuer = settings.issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": settings.front_url + paths.AUTHORIZE,
        "token_endpoint": issuer + paths.TOKEN,
        "revocation_endpoint": issuer + paths.REVOKE,
        "introspection_endpoint": issuer + paths.INTROSPECT,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": [TLS_CLIENT_AUTH],
        "revocation_endpoint_auth_methods_supported": [TLS_CLIENT_AUTH],
        "introspection_endpoint_auth_methods_supported": [TLS_CLIENT_AUTH],
        "code_challenge_methods_supported": ["S256"],
        # AS 2.x Verzamelen: the bare zorgaanbiedernaam; combinations (naam~id) work too.
        "scopes_supported": sorted(zorgaanbieder_from_naam(n) for n in settings.zorgaanbieders),
        "ui_locales_supported": ["nl"],
        "tls_client_certificate_bound_access_tokens": False,
    }
