"""Steps of the MedMij flow as a PGO takes them, for the authorisation-server tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from medmij_stack.protocol.headers import new_id

from .browser import callback_params
from .conftest import PGO, TestWorld

REDIRECT_URI = f"https://{PGO}/medmij/callback"
STATE = "s7ate-xcoivjuywkdkhvusuye3kch"


def authorize_url(
    front: str,
    *,
    client_id: str | None = PGO,
    redirect_uri: str | None = REDIRECT_URI,
    scope: str | None = "ziekenhuistest",
    state: str | None = STATE,
    response_type: str | None = "code",
    extra: Sequence[tuple[str, str]] = (),
    request_id: str | None = None,
    correlation_id: str | None = None,
) -> str:
    """An authorization request (core.authint.200); None leaves a parameter out."""
    pairs = [
        ("response_type", response_type),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", scope),
        ("state", state),
        ("MedMij-Request-ID", request_id or new_id()),
        ("X-Correlation-ID", correlation_id or new_id()),
    ]
    query = [(k, v) for k, v in pairs if v is not None] + list(extra)
    return f"{front}/oauth/authorize?{urlencode(query)}"


@dataclass
class Issued:
    code: str
    state: str | None
    correlation_id: str


def obtain_code(
    tw: TestWorld,
    *,
    scope: str = "ziekenhuistest",
    bsn: str | None = None,
    langdurig: bool = False,
    client_id: str = PGO,
    redirect_uri: str = REDIRECT_URI,
    dva_id: str = "test-dva",
    extra: Sequence[tuple[str, str]] = (),
) -> Issued:
    """Run the whole front-channel flow as a person and return the code the PGO receives."""
    bsn = bsn or tw.bsn_at(f"{scope.split('~')[0]}@medmij")
    correlation_id = new_id()
    url = authorize_url(
        tw.front_url(dva_id),
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        extra=extra,
        correlation_id=correlation_id,
    )
    with tw.browser(dva_id) as browser:
        end = browser.journey(url, bsn=bsn, langdurig=langdurig)
    assert end.url.startswith(redirect_uri + "?"), (end.url, end.response.text)
    params = callback_params(end.url)
    assert "code" in params, params
    return Issued(params["code"], params.get("state"), correlation_id)


def token_request(
    client: httpx.Client,
    tw: TestWorld,
    data: dict[str, str],
    *,
    dva_id: str = "test-dva",
    correlation_id: str | None = None,
) -> httpx.Response:
    """POST to the token endpoint as core.tknint.200 prescribes: form body, MedMij headers."""
    headers = {"MedMij-Request-ID": new_id(), "X-Correlation-ID": correlation_id or new_id()}
    return client.post(tw.token_url(dva_id), data=data, headers=headers)


def exchange(
    client: httpx.Client,
    tw: TestWorld,
    code: str,
    *,
    client_id: str = PGO,
    redirect_uri: str | None = REDIRECT_URI,
    dva_id: str = "test-dva",
    **extra: str,
) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "client_id": client_id, **extra}
    if redirect_uri is not None:
        data["redirect_uri"] = redirect_uri
    return token_request(client, tw, data, dva_id=dva_id)


def introspect(tw: TestWorld, token: str, *, dva_id: str = "test-dva") -> dict[str, object]:
    """Ask the introspection endpoint as this DVA's resource server does."""
    dva = tw.dva(dva_id)
    with tw.client(dva.resource.hostname) as client:
        response = client.post(tw.back_url(dva_id) + "/oauth/introspect", data={"token": token})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body
