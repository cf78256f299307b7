"""The beschikbaarheidstoets: does this zorgaanbieder hold data for this person?

The authorisation server asks before it shows the toestemmingsverklaring, and grants only
what is available (token interface: "met daaruit weggelaten de niet-beschikbare
zorgaanbieder-gegevensdienst-combinaties"; docs/protocol.md#errors exception 3). The call is
``POST /_dva/beschikbaarheid`` as :mod:`medmij_stack.protocol.dva_contract` fixes it, over mutual
TLS.

The age rule (Verantwoordelijkheden, Zorg: the beschikbaarheidstoets checks "of een
behandelrelatie bestaat", "of de Aanbieder gegevens van een bepaalde Persoon beschikbaar
stelt" and "de Persoon aan de gestelde leeftijdseisen voldoet"): a zorgaanbieder may have
a ``minimumleeftijd`` (settings, from the world); a person younger than that on today's
date (Europe/Amsterdam) has nothing available there, answered exactly as "no data", so
that the authorisation server sends the PGO the one refusal it sends for both. The birth
date is the DigiD test person's (medmij_stack.protocol.persons, from the world's seed);
a person whose birth date is not known cannot be shown to meet a rule, and so does not.

Reading taken: the Whitelist admits every PGO too, and a PGO that could ask this would
learn at which zorgaanbieders a BSN of its choosing is a patient. Only this DVA's own
authorisation server (the host of its introspection endpoint) may ask; anyone else is
refused with ``403 access_denied``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Collection
from datetime import date
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from medmij_stack.protocol.dva_contract import AvailabilityAnswer, AvailabilityQuestion
from medmij_stack.protocol.funnel import Clock, system_clock
from medmij_stack.protocol.oauth_errors import ACCESS_DENIED, INVALID_REQUEST
from medmij_stack.protocol.persons import test_persons
from medmij_stack.runtime.asgi_tls import admitted_hostnames
from medmij_stack.runtime.backchannel import UnreadableRequest, read_json_object
from medmij_stack.runtime.oauth_errors import oauth_error_response

from .endpoints import Endpoints
from .records import Records
from .settings import ServedZorgaanbieder

__all__ = ["Availability", "BirthDates", "age_on", "meets_age_rule", "today_in_amsterdam"]

_AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def today_in_amsterdam(clock: Clock = system_clock) -> date:
    """The date in the Netherlands by ``clock`` (the virtual clock in a simulation world)."""
    return clock().astimezone(_AMSTERDAM).date()


_MAX_BODY = 64 * 1024
_BSN = re.compile(r"[0-9]{9}")


def age_on(birth_date: date, day: date) -> int:
    """Whole years of age on ``day``: one more on each birthday (29 February: on 1 March)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def meets_age_rule(zorgaanbieder: ServedZorgaanbieder, birth_date: date | None, day: date) -> bool:
    """True when the zorgaanbieder has no age rule, or the person meets it on ``day``."""
    if zorgaanbieder.minimumleeftijd is None:
        return True
    return birth_date is not None and age_on(birth_date, day) >= zorgaanbieder.minimumleeftijd


class BirthDates:
    """The DigiD test persons' birth dates by BSN, made once, when first asked for."""

    def __init__(self, seed: int, count: int) -> None:
        self._seed, self._count = seed, count
        self._by_bsn: dict[str, date] | None = None
        self._lock = threading.Lock()

    def __call__(self, bsn: str) -> date | None:
        with self._lock:
            if self._by_bsn is None:
                persons = test_persons(self._seed, self._count)
                self._by_bsn = {person.bsn: person.birth_date for person in persons}
        return self._by_bsn.get(bsn)


class Availability:
    def __init__(
        self,
        endpoints: Endpoints,
        records: Callable[[], Records],
        *,
        askers: Collection[str],
        birth_dates: Callable[[str], date | None] = lambda bsn: None,
        today: Callable[[], date] = today_in_amsterdam,
    ) -> None:
        self._endpoints = endpoints
        self._records = records
        self._askers = frozenset(name.lower() for name in askers)
        self._birth_dates = birth_dates
        self._today = today

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
        if asked and zorgaanbieder.minimumleeftijd is not None:
            # Read off the event loop: the first question builds the table of persons.
            birth_date = await run_in_threadpool(self._birth_dates, question.bsn)
            if not meets_age_rule(zorgaanbieder, birth_date, self._today()):
                asked = ()
        if zorgaanbieder.deelt and asked:
            records = self._records()
            found = await run_in_threadpool(
                records.available, zorgaanbieder.naam, question.bsn, asked
            )
            beschikbaar = tuple(g for g in asked if g in found)
        return JSONResponse(
            AvailabilityAnswer(beschikbaar).to_json(), headers={"Cache-Control": "no-store"}
        )
