"""Telling the resource server which access tokens were revoked, before the revocation is answered.

The resource server caches introspection answers for a few seconds
(:mod:`medmij_stack.zorgaanbieder.introspection`). Without a word from here a revoked token
would open data for that long after RFC 7009's 200, after a replayed code or refresh token,
or after a consent ended. So the :class:`~authserver.grant_store.GrantStore` hands every
revocation's access-token digests, once committed, to :class:`RevocationNotice`, which
sends them to the resource server (contract 3 of :mod:`medmij_stack.protocol.dva_contract`)
over the back channel, with this node's certificate and the Whitelist checked first.

Tried twice. A resource server that cannot be told is logged as an error and the revocation
still stands and is answered: the store refuses the token from then on, and the resource
server's cache lets it through for at most its few seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx

from medmij_stack.protocol.dva_contract import REVOCATION_PATH
from medmij_stack.protocol.dva_contract import RevocationNotice as Notice
from medmij_stack.runtime.backchannel import CallFailed, Whitelist, post

__all__ = ["RevocationNotice", "notice_url"]

log = logging.getLogger(__name__)

_ATTEMPTS = 2
_CHUNK = 500  # digests per request, far below the resource server's body bound


def notice_url(availability_url: str) -> str:
    """The resource server's notice endpoint, beside its beschikbaarheidstoets."""
    parts = urlsplit(availability_url)
    return f"{parts.scheme}://{parts.netloc}{REVOCATION_PATH}"


class RevocationNotice:
    """Sends revoked access tokens' digests to the resource server (a blocking call)."""

    def __init__(self, url: str, client: httpx.Client, whitelist: Whitelist) -> None:
        self.url = url
        self._client = client
        self._whitelist = whitelist

    def __call__(self, access_hashes: Sequence[str]) -> None:
        for start in range(0, len(access_hashes), _CHUNK):
            self._send(Notice(tuple(access_hashes[start : start + _CHUNK])))

    def _send(self, notice: Notice) -> None:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                post(self._client, self.url, json=notice.to_json(), whitelist=self._whitelist)
                return
            except CallFailed as failed:
                if attempt == _ATTEMPTS:
                    log.error(
                        "revoked %d access tokens, but the resource server %s",
                        len(notice.access_token_sha256),
                        failed,
                    )
