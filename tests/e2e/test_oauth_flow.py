"""The MedMij flow against `medmij up`, as a PGO and a person take it.

Everything starts from `stack.json`: the ZAL names the authorization, token and resource
endpoints; the person drives the DVA's plain HTML forms (httpx and lxml, no JavaScript);
the PGO exchanges the code over mutual TLS with its own certificate. Then every way a
token must not be had is tried.
"""

from __future__ import annotations

import sqlite3
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from authlib.deprecate import AuthlibDeprecationWarning

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.headers import new_id
from medmij_stack.protocol.pki import issue_leaf
from medmij_stack.runtime.devpki import (
    LeafFiles,
    load_certificate,
    load_private_key,
    write_certificates,
    write_private_key,
)
from tests.authserver.browser import Browser, callback_params

from .conftest import RunningStack
from .flow import (
    Endpoints,
    Pgo,
    authorize_url,
    consent_code,
    exchange_code,
    post_token,
    stack_client,
)

with warnings.catch_warnings():
    # authlib prefers the "httpx2" distribution and warns when it falls back to httpx.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client

pytestmark = pytest.mark.e2e

ZORGAANBIEDER = "ziekenhuisdemo@medmij"


def _refused(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert "access_token" not in body


def _stack_leaf(tmp: Path, stack: RunningStack, hostname: str) -> LeafFiles:
    """A certificate for ``hostname`` from the stack's own intermediate CA."""
    ca = stack.certs_dir / "ca"
    issuer = load_certificate(ca / "intermediate.pem")
    now = datetime.now(UTC)
    cert, key = issue_leaf(
        issuer,
        load_private_key(ca / "intermediate.key"),
        hostname,
        not_before=now - timedelta(minutes=5),
        not_after=now + timedelta(days=1),
    )
    files = LeafFiles(cert=tmp / f"{hostname}.pem", key=tmp / f"{hostname}.key")
    write_certificates(files.cert, [cert, issuer])
    write_private_key(files.key, key)
    return files


# --- the flow ------------------------------------------------------------------------------


def test_the_whole_flow_from_the_zal_to_fhir_data(
    stack: RunningStack, endpoints: Endpoints, pgo: Pgo, bsn: str, browser: Browser
) -> None:
    landing = browser.open(authorize_url(endpoints, pgo))
    assert landing.response.status_code == 200
    assert "Demo PGO" in landing.response.text  # the OCL name
    digid = browser.choose(landing, "action", "login")
    consent = browser.choose(digid, "action", "login", bsn=bsn)
    assert "Toestemming geven" in consent.response.text
    assert "Ziekenhuis Demostad" in consent.response.text
    end = browser.choose(consent, "decision", "allow")
    params = callback_params(end.url)
    assert end.url.startswith(pgo.redirect_uri + "?")
    assert uuid.UUID(params["code"]).version == 4

    with stack_client(stack, pgo.leaf) as client:
        response = exchange_code(client, endpoints, pgo, params["code"])
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        token = response.json()
        assert token["token_type"] == "Bearer"
        assert token["expires_in"] == 900
        assert "refresh_token" not in token
        granted = token["scope"].split()
        assert set(granted) <= {"ziekenhuisdemo~48", "ziekenhuisdemo~63"}
        assert granted

        # The token opens the resource server named in the ZAL.
        dienst = "63" if "ziekenhuisdemo~63" in granted else "48"
        base = endpoints.resource_63 if dienst == "63" else endpoints.resource_48
        query = catalogue.get(dienst).queries[0].path
        resource = client.get(
            f"{base}/{query}",
            headers={
                "Authorization": f"Bearer {token['access_token']}",
                "Accept": catalogue.get(dienst).accept,
                "MedMij-Request-ID": new_id(),
                "X-Correlation-ID": new_id(),
            },
        )
    assert resource.status_code == 200, resource.text
    assert resource.json()["resourceType"] == "Bundle"


def test_a_standard_oauth_client_completes_the_flow_unchanged(
    stack: RunningStack, endpoints: Endpoints, pgo: Pgo, bsn: str, browser: Browser
) -> None:
    transport = stack_client(stack, pgo.leaf)._transport
    with OAuth2Client(
        client_id=pgo.hostname,
        redirect_uri=pgo.redirect_uri,
        scope="ziekenhuisdemo",
        transport=transport,
    ) as client:
        url, state = client.create_authorization_url(endpoints.authorize)
        end = browser.journey(url, bsn=bsn, langdurig=True)
        token = client.fetch_token(endpoints.token, authorization_response=end.url, state=state)
        assert token["token_type"] == "Bearer"
        refreshed = client.refresh_token(endpoints.token, refresh_token=token["refresh_token"])
        assert refreshed["access_token"] != token["access_token"]


# --- and every way a token must not be had ---------------------------------------------------


def test_an_unknown_client_gets_an_error_page_and_no_redirect(
    endpoints: Endpoints, pgo: Pgo, browser: Browser
) -> None:
    response = browser.client.get(authorize_url(endpoints, pgo, client_id="onbekend.pgo.localhost"))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "Er ging iets mis" in response.text


def test_a_foreign_redirect_host_gets_an_error_page_and_no_redirect(
    endpoints: Endpoints, pgo: Pgo, browser: Browser
) -> None:
    url = authorize_url(endpoints, pgo, redirect_uri="https://evil.localhost/terug")
    response = browser.client.get(url)
    assert response.status_code == 400
    assert "location" not in response.headers


def test_a_bad_scope_goes_back_with_invalid_request(
    endpoints: Endpoints, pgo: Pgo, browser: Browser
) -> None:
    response = browser.client.get(authorize_url(endpoints, pgo, scope="48", state="s1"))
    assert response.status_code == 302
    params = callback_params(response.headers["location"])
    assert response.headers["location"].startswith(pgo.redirect_uri + "?")
    assert params["error"] == "invalid_request"
    assert params["state"] == "s1"
    assert "code" not in params


def test_a_replayed_code_is_refused_and_revokes_its_token(
    stack: RunningStack, endpoints: Endpoints, pgo: Pgo, bsn: str, browser: Browser
) -> None:
    code = consent_code(browser, endpoints, pgo, bsn)
    with stack_client(stack, pgo.leaf) as client:
        first = exchange_code(client, endpoints, pgo, code)
        assert first.status_code == 200
        _refused(exchange_code(client, endpoints, pgo, code), 400, "invalid_grant")
        resource = client.get(
            f"{endpoints.resource_63}/Immunization",
            headers={
                "Authorization": f"Bearer {first.json()['access_token']}",
                "Accept": catalogue.get("63").accept,
            },
        )
    assert resource.status_code == 401


def test_a_code_presented_by_another_node_is_refused(
    stack: RunningStack,
    endpoints: Endpoints,
    pgo: Pgo,
    bsn: str,
    browser: Browser,
    tmp_path: Path,
) -> None:
    code = consent_code(browser, endpoints, pgo, bsn)
    # Whitelisted, but not the client: client_id must be a name in the certificate.
    resource_node = stack.certs_dir / "nodes" / urlsplit(endpoints.resource_48).hostname
    other = LeafFiles(cert=resource_node / "cert.pem", key=resource_node / "key.pem")
    with stack_client(stack, other) as client:
        _refused(exchange_code(client, endpoints, pgo, code), 400, "invalid_client")
    # On the OCL with a valid certificate, but not on the Whitelist.
    untrusted = _stack_leaf(tmp_path, stack, "niet-vertrouwd.pgo.localhost")
    with stack_client(stack, untrusted) as client:
        response = post_token(
            client,
            endpoints,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": pgo.redirect_uri,
                "client_id": "niet-vertrouwd.pgo.localhost",
            },
        )
    _refused(response, 403, "access_denied")


def test_an_expired_code_is_refused(
    stack: RunningStack, endpoints: Endpoints, pgo: Pgo, bsn: str, browser: Browser
) -> None:
    code = consent_code(browser, endpoints, pgo, bsn)
    # Age every unspent code of the DVA past its 900 s in the DVA's own store.
    database = stack.data_dir / "authserver-demo-dva" / "authserver.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute(
            "UPDATE authorization_codes SET expires_at = '2000-01-01 00:00:00' "
            "WHERE spent_at IS NULL"
        )
    with stack_client(stack, pgo.leaf) as client:
        _refused(exchange_code(client, endpoints, pgo, code), 400, "invalid_grant")


def test_no_or_a_non_whitelisted_client_certificate_gets_no_token(
    stack: RunningStack,
    endpoints: Endpoints,
    pgo: Pgo,
    bsn: str,
    browser: Browser,
    tmp_path: Path,
) -> None:
    code = consent_code(browser, endpoints, pgo, bsn)
    with stack_client(stack) as anonymous:
        _refused(exchange_code(anonymous, endpoints, pgo, code), 403, "access_denied")
    stranger = _stack_leaf(tmp_path, stack, "vreemde.localhost")
    with stack_client(stack, stranger) as client:
        _refused(exchange_code(client, endpoints, pgo, code), 403, "access_denied")


def test_a_refresh_after_revocation_is_refused(
    stack: RunningStack, endpoints: Endpoints, pgo: Pgo, bsn: str, browser: Browser
) -> None:
    code = consent_code(browser, endpoints, pgo, bsn, langdurig=True)
    with stack_client(stack) as anonymous:
        metadata = anonymous.get(
            endpoints.back_origin + "/.well-known/oauth-authorization-server"
        ).json()
    with stack_client(stack, pgo.leaf) as client:
        token = exchange_code(client, endpoints, pgo, code).json()
        revoked = client.post(
            metadata["revocation_endpoint"],
            data={
                "token": token["refresh_token"],
                "token_type_hint": "refresh_token",
                "client_id": pgo.hostname,
            },
        )
        assert revoked.status_code == 200
        refresh = post_token(
            client,
            endpoints,
            {
                "grant_type": "refresh_token",
                "refresh_token": token["refresh_token"],
                "client_id": pgo.hostname,
            },
        )
    _refused(refresh, 400, "invalid_grant")


def test_only_the_dva_itself_may_resolve_a_digid_artifact(
    stack: RunningStack, endpoints: Endpoints, pgo: Pgo
) -> None:
    url = endpoints.back_origin + "/digid/artifact-resolution"
    with stack_client(stack) as anonymous:
        _refused(anonymous.post(url, json={"artifact": "x"}), 403, "access_denied")
    with stack_client(stack, pgo.leaf) as client:
        _refused(client.post(url, json={"artifact": "x"}), 403, "access_denied")
    # The DVA's own back node is answered: there is no such artifact.
    own_node = stack.certs_dir / "nodes" / urlsplit(endpoints.token).hostname
    own = LeafFiles(cert=own_node / "cert.pem", key=own_node / "key.pem")
    with stack_client(stack, own) as client:
        unknown = client.post(url, json={"artifact": "x"})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "unknown_artifact"
