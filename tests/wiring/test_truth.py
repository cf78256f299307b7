"""The independent ground truth of a simulated attempt (medmij_stack.wiring.truth), no stack."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from medmij_stack.pgo.settings import CALLBACK_PATH
from medmij_stack.pgo.situations import Situation
from medmij_stack.protocol.funnel import FailureReason
from medmij_stack.wiring.truth import (
    Basis,
    Fault,
    Observed,
    dva_answer,
    flow_of,
    judge,
    observe_unreachable,
    observed_disagrees,
    return_visit_disagrees,
)

OK = "succes"
RESOURCE = FailureReason.RESOURCE_ERROR.value
PAGE_SAYS_SUCCESS = Situation.GELUKT.message.title


def test_the_exception_table_on_the_redirect_uri() -> None:
    assert dva_answer("access_denied", "Authorization cancelled.") is FailureReason.DIGID_CANCELLED
    assert dva_answer("access_denied", "The request is not granted.") is (
        FailureReason.CONSENT_DENIED
    )
    assert dva_answer("access_denied", "No such resources.") is FailureReason.NO_DATA
    assert dva_answer("access_denied", None) is FailureReason.CONSENT_DENIED
    assert dva_answer("unauthorized_client", None) is FailureReason.DIGID_FAILED
    assert dva_answer("temporarily_unavailable", None) is FailureReason.INVALID_REQUEST


def test_one_ending_allowed_is_the_model_s_whatever_the_page_says() -> None:
    page_says_success = Observed(callback_code=True, page_title=PAGE_SAYS_SUCCESS)
    assert judge((RESOURCE,), page_says_success) == (RESOURCE, Basis.MODEL)


def test_a_random_failure_is_read_off_the_resource_server_not_the_page() -> None:
    # The PGO's page says it all worked, but the resource server answered 504 once.
    seen = Observed(
        callback_code=True, page_title=PAGE_SAYS_SUCCESS, resource_ok=27, resource_errors=(504,)
    )
    assert judge((OK, RESOURCE), seen) == (RESOURCE, Basis.RESOURCE_SERVER)
    clean = Observed(callback_code=True, resource_ok=28)
    assert judge((OK, RESOURCE), clean) == (OK, Basis.RESOURCE_SERVER)
    refused = Observed(callback_code=True, token_answer="refused")
    assert judge((OK, RESOURCE), refused) == (FailureReason.TOKEN_ERROR.value, Basis.AUTHSERVER)


def test_the_dva_s_answer_and_a_closed_tab_come_before_the_page() -> None:
    denied = Observed(
        callback_error="access_denied",
        callback_description="The request is not granted.",
        page_title=PAGE_SAYS_SUCCESS,
    )
    both = (FailureReason.CONSENT_DENIED.value, OK)
    assert judge(both, denied) == (FailureReason.CONSENT_DENIED.value, Basis.CALLBACK)
    closed = Observed(abandoned_at="consent")
    assert judge((), closed) == (FailureReason.DIGID_CANCELLED.value, Basis.BROWSER)
    assert judge((), Observed(abandoned_at="search"))[0] == (
        FailureReason.ABANDONED_AT_SEARCH.value
    )
    assert judge((), Observed()) == (None, Basis.NONE)


def test_during_a_fault_the_resource_server_s_log_is_no_witness() -> None:
    # A SIGKILL lost the queued records of the failing answers: only the page is left.
    seen = Observed(
        callback_code=True,
        resource_ok=3,
        page_title=Situation.OPHALEN_MISLUKT.message.title,
    )
    assert judge((OK,), seen, faulty=True) == (RESOURCE, Basis.PAGE)
    now = datetime.now(UTC)
    fault = Fault("zorgaanbieder:dva", now, now + timedelta(seconds=5))
    assert fault.overlaps(now - timedelta(seconds=9), now + timedelta(seconds=1))
    assert not fault.overlaps(now - timedelta(seconds=9), now - timedelta(seconds=1))
    assert not fault.overlaps(None, None)


def test_the_wire_against_a_model_that_allows_one_ending() -> None:
    failed = Observed(callback_code=True, resource_errors=(500,))
    assert observed_disagrees((OK,), failed) == (
        "the model allows only succes, but the resource-server showed resource-fout"
    )
    assert observed_disagrees((OK, RESOURCE), failed) is None
    assert observed_disagrees((RESOURCE,), failed) is None


def test_a_dva_page_that_would_not_load_during_a_fault_is_giving_up_there() -> None:
    stuck = Observed(stuck_at="digid")
    assert judge((OK,), stuck, faulty=True) == (
        FailureReason.DIGID_CANCELLED.value,
        Basis.BROWSER,
    )
    # Outside a fault a page that does not load is no ending: the run reports it as an error.
    assert judge((OK, RESOURCE), stuck) == (None, Basis.NONE)
    assert judge((OK, RESOURCE), Observed(stuck_at="search"), faulty=True) == (None, Basis.NONE)


def test_a_pgo_that_stopped_answering_ends_the_attempt_by_where_it_stood() -> None:
    # The PGO was killed: the person saw the browser's "cannot reach" page and left. The
    # restarted PGO ends the attempt by its stage, which the browser and the DVA tell.
    callback = f"https://pgo.localhost{CALLBACK_PATH}?code=x&state=y"
    authorize = "https://dva.localhost/oauth/authorize?X-Correlation-ID=flow-1"
    at_search = observe_unreachable("authorize", ["https://pgo.localhost/zorgaanbieders"])
    back = observe_unreachable("callback", [authorize, callback])
    assert flow_of([authorize, callback]) == "flow-1"
    assert back.callback_code
    assert back.dva_pages
    cases = {
        at_search: FailureReason.ABANDONED_AT_SEARCH,
        observe_unreachable("callback", [authorize]): FailureReason.DIGID_CANCELLED,
        back: FailureReason.DIGID_CANCELLED,  # the PGO never asked for the token
        replace(back, token_answer="refused"): FailureReason.TOKEN_ERROR,
        replace(back, token_answer="issued"): FailureReason.CLIENT_ERROR,  # cut off
    }
    for seen, reason in cases.items():
        assert judge((OK,), seen, faulty=True)[0] == reason.value
    # Not during a fault it is a page the script could not get past: no ending.
    assert judge((OK, RESOURCE), at_search) == (None, Basis.NONE)


def test_coming_back_to_the_attempt_s_page_decides_what_the_rules_cannot_tell() -> None:
    # The token was issued and the PGO's page never reached the browser: by the rules a
    # retrieval the kill cut off. The person comes back to the attempt's outcome page.
    authorize = "https://dva.localhost/oauth/authorize?X-Correlation-ID=flow-1"
    callback = f"https://pgo.localhost{CALLBACK_PATH}?code=x&state=y"
    lost = replace(observe_unreachable("callback", [authorize, callback]), token_answer="issued")
    finished = replace(lost, returned_title=PAGE_SAYS_SUCCESS, resource_ok=3)
    assert judge((OK,), finished, faulty=True) == (OK, Basis.RETURN_VISIT)
    assert return_visit_disagrees(finished) is None
    cut_off = replace(lost, returned_title=Situation.ONDERBROKEN.message.title)
    assert judge((OK,), cut_off, faulty=True) == (
        FailureReason.CLIENT_ERROR.value,
        Basis.RETURN_VISIT,
    )
    # A page that shows no ending yet (still at the DVA) tells nothing: the rules decide.
    waiting = replace(lost, returned_title="Je bent nog niet klaar bij de zorgaanbieder")
    assert waiting.returned_ending is None
    assert judge((OK,), waiting, faulty=True) == (
        FailureReason.CLIENT_ERROR.value,
        Basis.AUTHSERVER,
    )
    # A success the DVA's records do not bear out is reported, not believed.
    assert return_visit_disagrees(replace(finished, token_answer=None))
    assert return_visit_disagrees(replace(finished, resource_ok=0))
    assert return_visit_disagrees(replace(finished, resource_errors=(500,)))
    assert flow_of(["https://pgo.localhost/ophalen/flow-2"]) == "flow-2"
    assert finished.to_json()["return_visit"] == {
        "page_title": PAGE_SAYS_SUCCESS,
        "page_ending": OK,
        "stage": None,
    }


def test_an_ophalen_whose_answer_never_came_is_looked_up_by_the_attempt_its_form_named() -> None:
    # The person pressed "ophalen" and the PGO went away before answering: no DVA page, no
    # flow in any URL. The form named its attempt; after the restart the person opens it.
    posted = observe_unreachable("authorize", ["https://pgo.localhost/ophalen"])
    assert flow_of(posted.dva_pages) is None
    # The choice never reached the PGO: the page still shows the search; the rules decide.
    searching = replace(posted, returned_title="Je hebt nog geen zorgaanbieder gekozen",
                        returned_stage="zoeken")  # fmt: skip
    assert judge((OK,), searching, faulty=True) == (
        FailureReason.ABANDONED_AT_SEARCH.value,
        Basis.BROWSER,
    )
    # Recorded, never sent on: the restarted PGO ended it as interrupted, as the page says.
    recorded = replace(posted, returned_title=Situation.ONDERBROKEN.message.title,
                       returned_stage="klaar")  # fmt: skip
    assert judge((OK,), recorded, faulty=True) == (
        FailureReason.CLIENT_ERROR.value,
        Basis.RETURN_VISIT,
    )
    # Sent on to the DVA, the redirect lost: it waits there, and the person leaves it.
    sent = replace(posted, returned_title="Je bent nog niet klaar bij de zorgaanbieder",
                   returned_stage="bij-dva")  # fmt: skip
    assert judge((OK,), sent, faulty=True) == (
        FailureReason.DIGID_CANCELLED.value,
        Basis.RETURN_VISIT,
    )
    assert sent.to_json()["return_visit"]["stage"] == "bij-dva"
