"""Every situation an attempt can end in: one failure reason, Dutch words, no loose ends."""

from __future__ import annotations

import re

import pytest

from medmij_stack.pgo.situations import Situation, Tone, situation_for_error
from medmij_stack.protocol.funnel import FailureReason


@pytest.mark.parametrize("situation", list(Situation))
def test_every_situation_has_words_and_exactly_one_reason(situation: Situation) -> None:
    message = situation.message
    assert (situation is Situation.GELUKT) == (message.reason is None)
    for part in (message.title, message.what, message.next):
        assert part.strip()
        filled = part.format(zorgaanbieder="Ziekenhuis X", helpdesk="de helpdesk")
        assert not re.search(r"[{}]", filled)
    assert message.tone in Tone


def test_every_failure_reason_but_abandonment_at_search_has_a_situation_a_person_can_meet() -> None:
    reasons = {s.reason for s in Situation if s.reason is not None}
    assert reasons == set(FailureReason)


@pytest.mark.parametrize(
    ("error", "description", "situation"),
    [
        ("access_denied", "Authorization cancelled.", Situation.GEANNULEERD),
        ("access_denied", "No such resources.", Situation.GEEN_GEGEVENS),
        ("access_denied", "The request is not granted.", Situation.NIET_GEDEELD),
        ("access_denied", "Authorization denied.", Situation.GEWEIGERD),
        ("access_denied", "Authorization failed.", Situation.GEEN_TOEGANG),
        ("access_denied", None, Situation.GEEN_TOEGANG),
        ("unauthorized_client", "Authentication failed.", Situation.DIGID_MISLUKT),
        ("invalid_request", "Invalid request: scope", Situation.DVA_WEIGERT),
        ("invalid_scope", None, Situation.DVA_WEIGERT),
        ("unsupported_response_type", None, Situation.DVA_WEIGERT),
        ("server_error", None, Situation.DVA_STORING),
        ("onzin", None, Situation.DVA_WEIGERT),
    ],
)
def test_oauth_errors_on_the_redirect_uri(
    error: str, description: str | None, situation: Situation
) -> None:
    assert situation_for_error(error, description) is situation
