"""Toestemmingen aanpassen: the person's long-term consents, and revoking one.

``GET /toestemmingen`` lists every langdurige toestemming per zorgaanbieder, active and
ended; ``POST /toestemmingen/intrekken`` (``zorgaanbieder``) revokes one at the DVA (RFC
7009) and then here. An ended consent is offered as "opnieuw toestemming geven" (a
``POST /ophalen`` that goes through the DVA again), never shown as an error.
"""

from __future__ import annotations

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from .consents import ConsentStatus
from .web import Web

__all__ = ["mount_consents"]

_NOTICES = {
    "ingetrokken": "Je toestemming is ingetrokken. We halen bij deze zorgaanbieder niets meer "
    "op zonder dat je opnieuw toestemming geeft.",
    "mislukt": "Intrekken is nu niet gelukt: we konden de zorgaanbieder niet bereiken. "
    "Je toestemming geldt nog. Probeer het later opnieuw.",
    "geen": "Er was geen toestemming om in te trekken.",
}


def mount_consents(app: FastAPI, web: Web) -> None:
    pgo = web.pgo

    @app.get("/toestemmingen", include_in_schema=False)
    async def consents_page(request: Request) -> Response:
        session = await web.logged_in(request)
        assert session.account_id is not None
        every = await anyio.to_thread.run_sync(pgo.consents.of_account, session.account_id)
        # Per zorgaanbieder the newest consent; older ones were replaced or ended.
        latest: dict[str, object] = {}
        for consent in every:
            latest.setdefault(consent.zorgaanbieder, consent)
        directory = pgo.directory()
        notice = _NOTICES.get(request.query_params.get("melding", ""))
        return web.render(
            "toestemmingen.html",
            session,
            csrf_token=session.csrf_token,
            consents=list(latest.values()),
            provider_name=directory.provider_name,
            service_name=directory.service_name,
            active=ConsentStatus.ACTIEF,
            notice=notice,
        )

    @app.post("/toestemmingen/intrekken", include_in_schema=False)
    async def revoke(request: Request) -> Response:
        session, form = await web.posted(request)
        zorgaanbieder = form.one("zorgaanbieder", 64)
        done = await pgo.verzamelen.revoke(session, zorgaanbieder)
        melding = "geen" if done is None else "ingetrokken" if done else "mislukt"
        return RedirectResponse(f"/toestemmingen?melding={melding}", status_code=303)
