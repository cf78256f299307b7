"""Step 4, the beschikbaarheidstoets: does this zorgaanbieder hold data for this person?

[SPEC-1.x] step 8: after DigiD the authorisation server checks, per gegevensdienst,
whether the zorgaanbieder has data for the person; only then does it show the
toestemmingsverklaring, and only the available gegevensdiensten are granted (token
interface: "met daaruit weggelaten de niet-beschikbare zorgaanbieder-gegevensdienst-
combinaties"). The question goes to the DVA's resource server over the back channel,
as medmij_stack.protocol.dva_contract describes.

The back-channel client rule applies as to any other call: the resource node's hostname
must be on the current Whitelist before a connection is made (UCI Opvragen Whitelist).
Any failure to get a clear answer is a :class:`TechnicalFault` (the person sees the
"technische storing" page), never a "no data": a fault must not pass for a fact.

:func:`check` is the step right after DigiD named the person
(:mod:`authserver.digid.assertion_consumer`):
with data, the person goes on to the toestemmingsverklaring for what is available
(:mod:`authserver.consent`); without, back to the PGO with ``access_denied`` exactly as
when consent is refused (:class:`authserver.errors.NotGranted`: the PGO may not learn of a
behandelrelatie it has no consent for; "No such resources." only in the ketenlog).
:class:`AvailabilityCheck` is the call, over
:func:`medmij_stack.runtime.backchannel.post`.
"""

from __future__ import annotations

import httpx
from fastapi.responses import RedirectResponse, Response

from medmij_stack.protocol.dva_contract import AvailabilityAnswer, AvailabilityQuestion
from medmij_stack.protocol.headers import Tracing
from medmij_stack.protocol.ketenlog import ErrorInfo, EventType, RequestInfo, ResponseInfo
from medmij_stack.runtime.backchannel import CallFailed, Whitelist, post

from . import paths
from .errors import NO_SUCH_RESOURCES, NotGranted, TechnicalFault
from .eventlog import Trail
from .frontchannel import FrontChannel
from .sessions import Step
from .tables import Flow

__all__ = ["AvailabilityCheck", "check"]


class AvailabilityCheck:
    def __init__(
        self,
        url: str,
        client: httpx.Client,
        whitelist: Whitelist,
    ) -> None:
        self.url = url
        self._client = client
        self._whitelist = whitelist

    def ask(self, question: AvailabilityQuestion, tracing: Tracing) -> tuple[str, ...]:
        """The asked gegevensdiensten the resource server has data for, in the asked order."""
        try:
            answer = post(
                self._client,
                self.url,
                json=question.to_json(),
                headers=tracing.headers(),
                whitelist=self._whitelist,
            ).read(AvailabilityAnswer.from_json)
        except CallFailed as failed:
            raise TechnicalFault(f"beschikbaarheidstoets {failed}") from failed
        available = set(answer.beschikbaar)
        return tuple(g for g in question.gegevensdiensten if g in available)

    def close(self) -> None:
        self._client.close()


def check(front: FrontChannel, flow: Flow, trail: Trail, bsn: str) -> Response:
    """Ask for the person DigiD named; on to the toestemmingsverklaring, or back to the PGO."""
    asked = tuple(flow.gegevensdiensten.split())
    tracing = Tracing.new(flow.trace_id)
    trail.add(
        EventType.SEND_AVAILABILITY_REQUEST,
        request=RequestInfo(
            id=tracing.request_id,
            method="POST",
            uri=front.dva.availability.url,
            server_id=front.dva.settings.hostname,
            provider_id=flow.zorgaanbieder,
        ),
    )
    try:
        available = front.dva.availability.ask(
            AvailabilityQuestion(flow.zorgaanbieder, bsn, asked), tracing
        )
    except TechnicalFault as fault:
        trail.add(
            EventType.RECEIVE_AVAILABILITY_ERROR,
            error=ErrorInfo(
                code="other", description=fault.description, request_id=tracing.request_id
            ),
        )
        front.advance(flow, (Step.DIGID,), Step.STORING)
        raise
    trail.add(
        EventType.RECEIVE_AVAILABILITY_RESPONSE,
        response=ResponseInfo(id=tracing.request_id, status=200),
    )
    if not available:
        front.advance(flow, (Step.DIGID,), Step.DONE)
        raise NotGranted(NO_SUCH_RESOURCES)
    front.advance(flow, (Step.DIGID,), Step.CONSENT, bsn=bsn, beschikbaar=available)
    url = f"{paths.FLOW}/{flow.id}/toestemming"
    return front.done(trail, RedirectResponse(url, status_code=303))
