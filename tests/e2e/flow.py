"""The PGO's side of the MedMij flow against `medmij up`, for the end-to-end tests.

Everything starts from `stack.json`: the ZAL names the authorization, token and resource
endpoints; the person drives the DVA's plain HTML forms (httpx and lxml, no JavaScript);
the PGO exchanges the code over mutual TLS with its own certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

import httpx

from medmij_stack.protocol.headers import new_id
from medmij_stack.runtime.devpki import LeafFiles
from medmij_stack.runtime.net import make_client
from tests.authserver.browser import Browser, callback_params

if TYPE_CHECKING:
    from .conftest import RunningStack

ZORGAANBIEDER = "ziekenhuisdemo@medmij"


@dataclass(frozen=True)
class Endpoints:
    """What the ZAL says about one zorgaanbieder's gegevensdienst 48."""

    authorize: str
    token: str
    resource_48: str
    resource_63: str

    @property
    def back_origin(self) -> str:
        parts = urlsplit(self.token)
        return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Pgo:
    hostname: str
    leaf: LeafFiles
    redirect_uri: str


def stack_client(stack: RunningStack, cert: LeafFiles | None = None) -> httpx.Client:
    return make_client(trust=[stack.ca], cert=cert, hosts=stack.hosts, timeout=15)


def authorize_url(
    endpoints: Endpoints, pgo: Pgo, *, scope: str = "ziekenhuisdemo", **overrides: str
) -> str:
    params = {
        "response_type": "code",
        "client_id": pgo.hostname,
        "redirect_uri": pgo.redirect_uri,
        "scope": scope,
        "state": "e2e-" + new_id(),
        "MedMij-Request-ID": new_id(),
        "X-Correlation-ID": new_id(),
    } | overrides
    return f"{endpoints.authorize}?{urlencode(params)}"


def consent_code(
    browser: Browser, endpoints: Endpoints, pgo: Pgo, bsn: str, *, langdurig: bool = False
) -> str:
    end = browser.journey(authorize_url(endpoints, pgo), bsn=bsn, langdurig=langdurig)
    assert end.url.startswith(pgo.redirect_uri + "?"), (end.url, end.response.text)
    return callback_params(end.url)["code"]


def post_token(client: httpx.Client, endpoints: Endpoints, data: dict[str, str]) -> httpx.Response:
    headers = {"MedMij-Request-ID": new_id(), "X-Correlation-ID": new_id()}
    return client.post(endpoints.token, data=data, headers=headers)


def exchange_code(
    client: httpx.Client, endpoints: Endpoints, pgo: Pgo, code: str
) -> httpx.Response:
    return post_token(
        client,
        endpoints,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pgo.redirect_uri,
            "client_id": pgo.hostname,
        },
    )
