"""A standards-following OAuth client library completes the flow unchanged: authlib's httpx client.

Only what the MedMij flow needs from any client is configured: client_id (the OCL
hostname), redirect_uri and scope; the client certificate for mutual TLS; and the
``none`` client-authentication method, which puts ``client_id`` in the form body as RFC
6749 2.3/3.2.1 describes for clients without a secret (RFC 8705 ``tls_client_auth`` asks
the same of the body; the certificate does the authenticating).
"""

from __future__ import annotations

import warnings

from authlib.deprecate import AuthlibDeprecationWarning

from medmij_stack.runtime.net import make_client

with warnings.catch_warnings():
    # authlib prefers the "httpx2" distribution and warns when it falls back to httpx,
    # which is the one this project uses; the client works the same on both.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client

from .conftest import PGO, TestWorld
from .flows import REDIRECT_URI, introspect


def _oauth_client(tw: TestWorld, **kwargs: object) -> OAuth2Client:
    # medmij_stack.runtime.net builds the transport (mutual TLS, dev root, *.localhost host map).
    transport = make_client(
        trust=[tw.pki.root_cert], cert=tw.pki.leaf(PGO), hosts=tw.world.hosts()
    )._transport
    return OAuth2Client(
        client_id=PGO,
        redirect_uri=REDIRECT_URI,
        scope="ziekenhuistest",
        transport=transport,
        **kwargs,
    )


def test_authlib_oauth2client_runs_the_flow_with_pkce_refresh_and_revocation(
    tw: TestWorld,
) -> None:
    bsn = tw.bsn_at("ziekenhuistest@medmij")
    with _oauth_client(tw, code_challenge_method="S256") as client:
        verifier = "v" * 20 + "erifier-that-is-long-enough-for-rfc7636"
        url, state = client.create_authorization_url(
            tw.front_url() + "/oauth/authorize", code_verifier=verifier
        )
        with tw.browser() as browser:
            end = browser.journey(url, bsn=bsn, langdurig=True)
        token = client.fetch_token(
            tw.token_url(), authorization_response=end.url, code_verifier=verifier, state=state
        )
        assert token["token_type"] == "Bearer"
        assert token["scope"] == "ziekenhuistest~48 ziekenhuistest~63"
        assert introspect(tw, token["access_token"])["bsn"] == bsn

        refreshed = client.refresh_token(tw.token_url(), refresh_token=token["refresh_token"])
        assert refreshed["access_token"] != token["access_token"]
        assert introspect(tw, refreshed["access_token"])["active"] is True

        revoked = client.revoke_token(
            tw.back_url() + "/oauth/revoke",
            token=refreshed["refresh_token"],
            token_type_hint="refresh_token",
        )
        assert revoked.status_code == 200
        assert introspect(tw, refreshed["access_token"]) == {"active": False}
