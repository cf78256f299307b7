"""Fetching list documents over HTTP: the only I/O in `medmij_stack.protocol.lists`.

PGO Nodes and ZA Nodes fetch the lists from the MedMij Stelselnode, the Whitelist
at least every 900 seconds (Afsprakenstelsel 1.x, Whitelist; docs/protocol.md#the-lists).
Authenticity comes from the mutually authenticated TLS connection, which is the caller's
`httpx.AsyncClient` to configure. Redirects are not followed: a list must come from the
address configured for it, not from wherever a response points.
"""

from __future__ import annotations

import httpx

from medmij_stack.protocol.lists.hardened import DEFAULT_MAX_BYTES


class FetchError(Exception):
    """A list document could not be fetched; the message says why."""


async def fetch_document(
    client: httpx.AsyncClient, url: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> bytes:
    """GET `url` and return the body of a 200 response, at most `max_bytes` long.

    Raises `FetchError` for any other status (redirects included), a body over the
    limit, and transport errors.
    """
    try:
        async with client.stream("GET", url, follow_redirects=False) as response:
            if response.status_code != httpx.codes.OK:
                raise FetchError(f"HTTP {response.status_code} from {url}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"{url} announces {declared} bytes, over the {max_bytes} limit")
            body = bytearray()
            # Counting while reading stops an endless or lying body early.
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"{url} sent more than the {max_bytes} byte limit")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise FetchError(f"fetching {url} failed: {type(exc).__name__}: {exc}") from exc
