"""DigiD artifact resolution over the back channel: the simulator's service and the front's use.

The person comes back from the DigiD simulator with an artifact only; the front resolves
it by calling the simulator's artifact-resolution service on the back node, over mutual
TLS with the node's own certificate. The service answers this DVA's own node only, and
each artifact once.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from lxml import html

from medmij_stack.authserver.digid import ArtifactResolutionClient
from medmij_stack.protocol.headers import new_id
from medmij_stack.protocol.ketenlog import EventType
from medmij_stack.runtime.net import make_async_client

from .browser import Browser, Landing, callback_params
from .conftest import PGO, TELEFOON, TestWorld
from .flows import REDIRECT_URI, STATE, authorize_url

RESOLUTION_PATH = "/digid/artifact-resolution"
OWN_NODE = "api.dva.localhost"


@dataclass
class BackFromDigid:
    """A person whom the DigiD simulator is sending back, stopped just before the ACS."""

    browser: Browser
    artifact: str
    acs_url: str
    flow_id: str
    trace_id: str

    def arrive(self) -> Landing:
        return self.browser.open(self.acs_url)


@pytest.fixture
def person(tw: TestWorld) -> Iterator[Browser]:
    with tw.browser() as browser:
        yield browser


def _back_from_digid(
    browser: Browser, tw: TestWorld, *, action: str = "login", bsn: str | None = None
) -> BackFromDigid:
    trace_id = new_id()
    landing = browser.open(authorize_url(tw.front_url(), correlation_id=trace_id))
    digid = browser.choose(landing, "action", "login")
    form = browser.form_with(digid, "action", action)
    data = dict(form.fields) | ({"bsn": bsn} if bsn else {})
    response = browser.client.post(urljoin(digid.url, form.action), data=data)
    assert response.status_code == 303, response.text
    acs_url = urljoin(digid.url, response.headers["location"])
    query = parse_qs(urlsplit(acs_url).query)
    return BackFromDigid(
        browser, query["SAMLart"][0], acs_url, query["RelayState"][0], trace_id=trace_id
    )


def _resolve(client: httpx.Client, tw: TestWorld, artifact: str) -> httpx.Response:
    return client.post(tw.back_url() + RESOLUTION_PATH, json={"artifact": artifact})


def _text(landing: Landing) -> str:
    return str(html.fromstring(landing.response.text).text_content())


# --- the flow, over the back channel -------------------------------------------------------


def test_the_front_resolves_the_artifact_on_the_back_channel_and_records_it(
    tw: TestWorld, person: Browser
) -> None:
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    back = _back_from_digid(person, tw, bsn=bsn)
    consent = back.arrive()
    assert consent.response.status_code == 200
    assert "Toestemming geven" in _text(consent)
    records = tw.app_state().dva.ketenlog.records(trace_id=back.trace_id)
    (sent,) = [r for r in records if r.event.type is EventType.SEND_ARTIFACT_RESOLUTION_REQUEST]
    (answer,) = [r for r in records if r.event.type is EventType.RECEIVE_AUTHENTICATION_RESPONSE]
    assert sent.request is not None
    assert sent.request.method == "POST"
    assert sent.request.uri == tw.back_url() + RESOLUTION_PATH
    assert answer.response is not None
    assert answer.response.status == 200
    assert answer.response.id == sent.request.id
    # The BSN reached the flow through the back channel only: never in a URL or a page.
    assert bsn not in back.acs_url
    assert bsn not in consent.response.text


def test_the_service_answers_the_own_node_once_then_410_and_the_front_refuses_the_replay(
    tw: TestWorld, person: Browser
) -> None:
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    back = _back_from_digid(person, tw, bsn=bsn)
    with tw.client(OWN_NODE) as own:
        first = _resolve(own, tw, back.artifact)
        second = _resolve(own, tw, back.artifact)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    assert first.json() == {"outcome": "success", "bsn": bsn, "in_response_to": back.flow_id}
    assert second.status_code == 410
    assert second.json()["error"] == "artifact_gone"
    # The person arrives with the artifact someone else resolved first: no login.
    end = back.arrive()
    assert end.url.startswith(REDIRECT_URI + "?"), end.url
    params = callback_params(end.url)
    assert params["error"] == "unauthorized_client"
    assert params["error_description"] == "Authentication failed."
    assert params["state"] == STATE


def test_failure_and_cancellation_are_answered_without_a_bsn(
    tw: TestWorld, person: Browser
) -> None:
    failed = _back_from_digid(person, tw, action="fail")
    cancelled = _back_from_digid(person, tw, action="cancel")
    with tw.client(OWN_NODE) as own:
        assert _resolve(own, tw, failed.artifact).json() == {
            "outcome": "failure",
            "bsn": None,
            "in_response_to": failed.flow_id,
        }
        assert _resolve(own, tw, cancelled.artifact).json()["outcome"] == "cancelled"


def test_an_unknown_artifact_is_404(tw: TestWorld) -> None:
    with tw.client(OWN_NODE) as own:
        response = _resolve(own, tw, "AAQAAMFbLinKZvkKaW5ub3ZlbnRlZA")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_artifact"


@pytest.mark.parametrize(
    "caller",
    [
        None,  # no client certificate: the Whitelist gate
        PGO,  # whitelisted, but a PGO
        "api.strikt.localhost",  # whitelisted, the back node of another DVA
        "fhir.dva.localhost",  # whitelisted, this DVA's resource server, not its AS
    ],
)
def test_only_the_own_back_node_may_resolve_and_a_refusal_spends_nothing(
    tw: TestWorld, person: Browser, caller: str | None
) -> None:
    back = _back_from_digid(person, tw, bsn=tw.bsn_at("ziekenhuistest@medmij"))
    with tw.client(caller) as client:
        refused = _resolve(client, tw, back.artifact)
    assert refused.status_code == 403
    assert refused.json()["error"] == "access_denied"
    assert "bsn" not in refused.text
    consent = back.arrive()
    assert consent.response.status_code == 200
    assert "Toestemming geven" in _text(consent)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"SAMLart=abc", "application/x-www-form-urlencoded"),
        (b"{not json", "application/json"),
        (b'{"artefact": "abc"}', "application/json"),
        (b'{"artifact": ""}', "application/json"),
        (b'["abc"]', "application/json"),
    ],
)
def test_a_body_that_is_no_artifact_resolve_is_400(
    tw: TestWorld, body: bytes, content_type: str
) -> None:
    with tw.client(OWN_NODE) as own:
        response = own.post(
            tw.back_url() + RESOLUTION_PATH, content=body, headers={"content-type": content_type}
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# --- when there is no clear answer ---------------------------------------------------------


def _assert_storing(tw: TestWorld, back: BackFromDigid, storing: Landing) -> None:
    """The technische-storing page, with the ids to quote and the way back to the PGO."""
    assert storing.response.status_code == 503
    text = _text(storing)
    assert "Technische storing" in text
    assert "Traceback" not in text
    records = tw.app_state().dva.ketenlog.records(trace_id=back.trace_id)
    session_id = records[0].event.session_id
    assert session_id
    assert back.trace_id in text
    assert session_id in text
    assert TELEFOON in text
    (link,) = html.fromstring(storing.response.text).xpath("//a[@class='button']/@href")
    assert link.startswith(REDIRECT_URI + "?")
    assert callback_params(link)["error_description"] == "Authorization failed."
    assert records[-1].event.type is EventType.SHOW_TECHNICAL_ERROR_PAGE
    assert EventType.RECEIVE_AUTHENTICATION_RESPONSE not in {r.event.type for r in records}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_resolution_service_is_technische_storing(
    tw: TestWorld, person: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    dva = tw.app_state().dva
    settings = dva.settings
    client = make_async_client(trust=settings.trust, cert=settings.identity, hosts=settings.hosts)
    dead = ArtifactResolutionClient(f"https://{OWN_NODE}:{_free_port()}{RESOLUTION_PATH}", client)
    monkeypatch.setattr(dva, "authenticator", dead)
    try:
        back = _back_from_digid(person, tw, bsn=tw.bsn_at("ziekenhuistest@medmij"))
        storing = back.arrive()
    finally:
        asyncio.run(client.aclose())
    _assert_storing(tw, back, storing)
    # The flow ended there: coming back to it does not log in after all.
    again = back.arrive()
    assert again.response.status_code == 400


def test_a_failing_resolution_service_is_technische_storing(
    tw: TestWorld, person: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(artifact: str) -> None:
        raise RuntimeError("the simulator's database went away")

    monkeypatch.setattr(tw.app_state().dva.digid, "resolve_once", broken)
    back = _back_from_digid(person, tw, bsn=tw.bsn_at("ziekenhuistest@medmij"))
    with tw.client(OWN_NODE) as own:
        direct = _resolve(own, tw, back.artifact)
    assert direct.status_code == 500
    assert "went away" not in direct.text
    _assert_storing(tw, back, back.arrive())
