"""Where every endpoint of the authorisation server lives, in one place.

The ZAL publishes the authorization and token endpoints (the stack derives them from the
same paths), RFC 8414 metadata lists them all, and the handlers are mounted on them.
"""

from __future__ import annotations

from medmij_stack.protocol.dva_contract import INTROSPECTION_PATH

__all__ = [
    "ACS",
    "AUTHORIZE",
    "DIGID_ARTIFACT_RESOLUTION",
    "DIGID_LOGIN",
    "FLOW",
    "INTROSPECT",
    "METADATA",
    "REVOKE",
    "STYLESHEET",
    "TOKEN",
]

# Front channel (browser).
AUTHORIZE = "/oauth/authorize"
FLOW = "/oauth/flow"  # /oauth/flow/{flow_id}[/…]: the DVA screens of one authorization
ACS = "/oauth/digid/acs"  # where DigiD sends the person back with an artifact
DIGID_LOGIN = "/digid/inloggen"  # the DigiD simulator
STYLESHEET = "/static/dva.css"

# Back channel (mutual TLS).
TOKEN = "/oauth/token"  # noqa: S105 - a path, not a secret
REVOKE = "/oauth/revoke"
INTROSPECT = INTROSPECTION_PATH
METADATA = "/.well-known/oauth-authorization-server"  # RFC 8414 section 3
# The DigiD simulator's artifact-resolution service: a party of its own as far as the
# protocol goes, lodged on this node (authserver.digid.simulator).
DIGID_ARTIFACT_RESOLUTION = "/digid/artifact-resolution"
