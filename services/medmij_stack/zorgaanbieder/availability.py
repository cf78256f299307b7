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

import json
import re
from collections.abc import Callable, Collection

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from medmij_stack.protocol.dva_contract import AvailabilityAnswer, AvailabilityQuestion

from .endpoints import Endpoints
from .records import Records

__all__ = ["Availability"]

_MAX_BODY = 64 * 1024
_BSN = re.compile(r"[0-9]{9}")


def _refuse(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


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
        peer: frozenset[str] = request.scope.get("state", {}).get("medmij_peer", frozenset())
        if self._askers.isdisjoint(peer):
            return _refuse(
                403, "access_denied", "only this DVA's authorisation server may ask this"
            )
        body = await request.body()
        if len(body) > _MAX_BODY:
            return _refuse(413, "invalid_request", "the question is too large")
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            question = AvailabilityQuestion.from_json(data)
        except (ValueError, UnicodeDecodeError) as exc:
            return _refuse(400, "invalid_request", f"not a beschikbaarheidstoets question: {exc}")
        if not _BSN.fullmatch(question.bsn):
            return _refuse(400, "invalid_request", "bsn must be nine digits")
        zorgaanbieder = self._endpoints.zorgaanbieder(question.zorgaanbieder)
        if zorgaanbieder is None:
            return _refuse(
                404, "invalid_request", f"{question.zorgaanbieder[:60]} is not served here"
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
