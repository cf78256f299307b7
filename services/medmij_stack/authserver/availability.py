"""The beschikbaarheidstoets: does this zorgaanbieder hold data for this person?

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
"""

from __future__ import annotations

import httpx

from medmij_stack.protocol.dva_contract import AvailabilityAnswer, AvailabilityQuestion
from medmij_stack.protocol.headers import Tracing
from medmij_stack.runtime.backchannel import CallFailed, Whitelist, post

from .errors import TechnicalFault

__all__ = ["AvailabilityCheck"]


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
