"""authlib's view of one HTTP request, built from a framework-free snapshot.

authlib's server is synchronous and knows no Starlette: the channel that receives a request
(:mod:`authserver.authorize`, :mod:`authserver.consent`, :mod:`authserver.backchannel`)
reads it (async), captures it in an :class:`Incoming`, and hands authlib a
:class:`MedMijRequest` made from it. Parameters come from exactly one place: the query
string of an authorization request (RFC 6749 4.1.1) or the form body of a back-channel
request (RFC 6749 4.1.3, RFC 7009, RFC 7662); never from both.

What the grants and endpoints learn about a request while authlib runs them (the checked
scope, the consent a code or token belongs to) travels on the request as typed
:class:`Findings`, for the code that runs after authlib: the front channel, which builds the
flow from the scope, and the back channel, which records the exchange in the person's
session.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request

if TYPE_CHECKING:
    from medmij_stack.authserver.grant_store import GrantInfo

    from .scopes import RequestedScope

__all__ = ["Findings", "Incoming", "MedMijPayload", "MedMijRequest"]


@dataclass(frozen=True)
class Incoming:
    """An HTTP request as the OAuth layer needs it."""

    method: str
    uri: str
    headers: Mapping[str, str]
    params: Sequence[tuple[str, str]]
    peer: frozenset[str] = frozenset()  # host names of the mTLS client, after the Whitelist gate
    # RFC 8705 3.1 x5t#S256 of the mTLS client's certificate: what its tokens are bound to.
    peer_thumbprint: str | None = None

    def repeated(self, names: Sequence[str] | None = None) -> str | None:
        """The first parameter given more than once (among ``names``, when given)."""
        seen: set[str] = set()
        for name, _ in self.params:
            if name in seen and (names is None or name in names):
                return name
            seen.add(name)
        return None


class MedMijPayload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, params: Sequence[tuple[str, str]]) -> None:
        first: dict[str, str] = {}
        every: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in params:
            first.setdefault(name, value)
            every[name].append(value)
        self._data = first
        self._datalist = every

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


@dataclass
class Findings:
    """What the grants and endpoints learnt about one request, on the way through authlib."""

    requested_scope: RequestedScope | None = None
    """Authorization request: the scope, checked against this DVA, the ZAL and the OCL."""
    refresh_scope: str | None = None
    """Refresh: the scope the new tokens get (the consent's, or narrower)."""
    grant: GrantInfo | None = None
    """Token, revocation, introspection: the consent the presented code or token is of."""


class MedMijRequest(OAuth2Request):  # type: ignore[misc]
    """An authlib request; ``findings`` carries what our grants learn on the way."""

    def __init__(self, incoming: Incoming) -> None:
        super().__init__(method=incoming.method, uri=incoming.uri, headers=incoming.headers)
        self.incoming = incoming
        self.payload = MedMijPayload(incoming.params)
        self.findings = Findings()

    @property
    def peer(self) -> frozenset[str]:
        return self.incoming.peer

    @property
    def authorization_request(self) -> bool:
        """A request to the authorization endpoint, the only one read from a GET (RFC 6749
        3.1); the token, revocation and introspection endpoints take POSTs only."""
        return bool(self.method == "GET")

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data if self.method == "GET" else {}

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data if self.method == "POST" else {}
