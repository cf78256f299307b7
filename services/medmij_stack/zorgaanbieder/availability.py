"""The beschikbaarheidstoets: does this zorgaanbieder hold data for this person?

The authorisation server asks before it shows the toestemmingsverklaring, and grants only
what is available (token interface: "met daaruit weggelaten de niet-beschikbare
zorgaanbieder-gegevensdienst-combinaties"; MEDMIJ.md §1.8 exception 3). The call is
``POST /_dva/beschikbaarheid`` as :mod:`medmij_stack.protocol.dva_contract` fixes it, over mutual
TLS.

Reading taken: the Whitelist admits every PGO too, and a PGO that could ask this would
learn at which zorgaanbieders a BSN of its choosing is a patient. Only this DVA's own
authorisation server (the host of its introspection endpoint) may ask; anyone else is
refused with ``403 access_denied``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from medmij_stack.protocol.dva_contract import AvailabilityAnswer, AvailabilityQuestion
from medmij_stack.protocol.oauth_errors import ACCESS_DENIED, INVALID_REQUEST
from medmij_stack.runtime.asgi_tls import admitted_hostnames
from medmij_stack.runtime.backchannel import UnreadableRequest, read_json_object
from medmij_stack.runtime.oauth_errors import oauth_error_response

from .endpoints import Endpoints
from .records import Records

__all__ = ["Availability"]

_MAX_BODY = 64 * 1024
_BSN = re.compile(r"[0-9]{9}")


class Availability:
    def __init__(
        self,
        endpoints: Endpoints,
        records: Callable[[], Records],
        *,
        askers: Collection[str],
    ) -> None:
        self._endpoints = endpoints
        self._records = records
        self._askers = frozenset(name.lower() for name in askers)

    async def answer(self, request: Request) -> JSONResponse:
        """The endpoint: a question in, the gegevensdiensten with data out."""
        if self._askers.isdisjoint(admitted_hostnames(request.scope)):
            return oauth_error_response(
                403, ACCESS_DENIED, "only this DVA's authorisation server may ask this"
            )
        try:
            # Content-Type is not checked: only our own authorisation server asks, with JSON.
            data = await read_json_object(request, max_bytes=_MAX_BODY, media_type=None)
            question = AvailabilityQuestion.from_json(data)
        except UnreadableRequest as unreadable:
            description = f"not a beschikbaarheidstoets question: {unreadable.description}"
            return oauth_error_response(unreadable.status, INVALID_REQUEST, description)
        except ValueError as exc:
            description = f"not a beschikbaarheidstoets question: {exc}"
            return oauth_error_response(400, INVALID_REQUEST, description)
        if not _BSN.fullmatch(question.bsn):
            return oauth_error_response(400, INVALID_REQUEST, "bsn must be nine digits")
        zorgaanbieder = self._endpoints.zorgaanbieder(question.zorgaanbieder)
        if zorgaanbieder is None:
            return oauth_error_response(
                404, INVALID_REQUEST, f"{question.zorgaanbieder[:60]} is not served here"
            )
        asked = tuple(g for g in question.gegevensdiensten if g in zorgaanbieder.gegevensdiensten)
        beschikbaar: tuple[str, ...] = ()
        if zorgaanbieder.deelt and asked:
            records = self._records()
            found = await run_in_threadpool(
                records.available, zorgaanbieder.naam, question.bsn, asked
            )
            beschikbaar = tuple(g for g in asked if g in found)
        return JSONResponse(
            AvailabilityAnswer(beschikbaar).to_json(), headers={"Cache-Control": "no-store"}
        )
