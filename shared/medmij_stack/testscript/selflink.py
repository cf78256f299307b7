"""The Touchstone rule ``assert-response-queryParamsInSelfLink``, ported from its groovy.

docs/qualification.md#generic-asserts, rule 18: the Nictiz scripts check, as a warning, that a
search Bundle's self link echoes every parameter of the request, which shows the server
handled them. The rule (``_reference/rules/assert_response_queryParamsInSelfLink.groovy``
in Nictiz-testscripts):

1. URL-decode the request URL and the self link (Java's ``URLDecoder``: ``+`` is a space).
2. For each ``name=value`` of the request's query, the pair must appear verbatim in the
   self link.
3. If it does not and the value looks like a reference (``Type/id`` or ``id``), the self
   link may carry it with the type added (``name=Type/id``) or removed (``name=id``).
4. Otherwise: "The requested parameter … was absent from the self link".

Two cases the groovy leaves to a Java exception are given an answer here: a request
without a query has nothing to echo (passes), and a Bundle without a self link fails
with that reason. All missing parameters are listed, not only the first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

__all__ = ["RULE_ID", "SelfLinkVerdict", "check_query_params_in_self_link"]

RULE_ID = "assert-response-queryParamsInSelfLink"

_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+/)?([A-Za-z0-9\-.]{1,64})$")


@dataclass(frozen=True)
class SelfLinkVerdict:
    ok: bool
    message: str
    missing: tuple[str, ...] = ()


def _self_link(bundle: dict[str, Any] | None) -> str | None:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return None
    for link in bundle.get("link", []) or []:
        if isinstance(link, dict) and link.get("relation") == "self" and link.get("url"):
            return str(link["url"])
    return None


def check_query_params_in_self_link(
    request_url: str, bundle: dict[str, Any] | None
) -> SelfLinkVerdict:
    """Judge one search response; ``request_url`` is the URL as sent."""
    decoded = unquote_plus(request_url)
    _, question, query = decoded.partition("?")
    if not question or not query:
        return SelfLinkVerdict(True, "the request has no query parameters to echo")
    link = _self_link(bundle)
    if link is None:
        return SelfLinkVerdict(False, "the response has no Bundle self link to compare with")
    self_link = unquote_plus(link)
    missing = []
    for full in query.split("&"):
        if not full or full in self_link:
            continue
        name, _, value = full.partition("=")
        reference = _REFERENCE.match(value)
        if reference is None:
            missing.append(full)
        elif reference.group(1) is None:
            typed = re.compile(
                re.escape(name) + r"=[A-Z][A-Za-z]+/" + re.escape(reference.group(2))
            )
            if typed.search(self_link) is None:
                missing.append(full)
        elif f"{name}={reference.group(2)}" not in self_link:
            missing.append(full)
    if missing:
        if len(missing) == 1:
            message = f"The requested parameter {missing[0]} was absent from the self link"
        else:
            listed = ", ".join(missing)
            message = f"The requested parameters {listed} were absent from the self link"
        return SelfLinkVerdict(False, message, tuple(missing))
    return SelfLinkVerdict(True, "every request parameter is in the self link")
