"""Bearer tokens in reports: enough of each to tell them apart, never the whole token.

Report files are mailed and attached to CI runs, and console output ends up in CI logs;
a real token given with ``--var`` would otherwise stand in them in full, in the request
headers and in the messages of asserts on the ``Authorization`` header. Only what is
shown is masked: the run itself compares the real values.
"""

from __future__ import annotations

import re

__all__ = ["KEPT_CHARS", "mask_tokens"]

KEPT_CHARS = 8
"""Characters of a token that stay visible."""

# RFC 6750 b64token after the scheme; the scheme is case-insensitive.
_BEARER = re.compile(r"\b(Bearer)(\s+)([A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)


def _masked(match: re.Match[str]) -> str:
    token = match.group(3)
    # A token no longer than KEPT_CHARS would otherwise be shown whole; keep half of it.
    kept = min(KEPT_CHARS, len(token) // 2)
    return f"{match.group(1)}{match.group(2)}{token[:kept]}…"


def mask_tokens(text: str) -> str:
    """``text`` with every ``Bearer <token>`` cut to the token's first characters and ``…``."""
    return _BEARER.sub(_masked, text)
