"""The refusal tree: authlib's errors become ours in one place, keyed by their OAuth code."""

from __future__ import annotations

import pytest
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    UnsupportedGrantTypeError,
    UnsupportedResponseTypeError,
    UnsupportedTokenTypeError,
)

from medmij_stack.authserver.errors import (
    BackChannelError,
    FlowError,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    PageReason,
    Redirect,
    UnsupportedGrantType,
    UntrustedRequest,
    from_authlib,
)
from medmij_stack.protocol.oauth_errors import OAuthError


def _back(error: Exception) -> BackChannelError:
    converted = from_authlib(error, authorization=False, client_id="pgo.localhost", state=None)  # type: ignore[arg-type]
    assert isinstance(converted, BackChannelError)
    return converted


@pytest.mark.parametrize(
    ("authlib_error", "kind", "status"),
    [
        (InvalidGrantError("Invalid grant: authorization code expired."), InvalidGrant, 400),
        (InvalidClientError(description="Invalid client: no."), InvalidClient, 400),
        (InvalidRequestError("Invalid request: code is missing."), InvalidRequest, 400),
    ],
)
def test_a_back_channel_refusal_is_the_class_of_its_code(
    authlib_error: Exception, kind: type[BackChannelError], status: int
) -> None:
    converted = _back(authlib_error)
    assert type(converted) is kind
    assert converted.status == status
    assert converted.oauth == OAuthError(kind.error, str(authlib_error.description))  # type: ignore[attr-defined]


def test_authlibs_body_without_description_stays_without_one() -> None:
    converted = _back(UnsupportedGrantTypeError("password"))
    assert type(converted) is UnsupportedGrantType
    assert converted.oauth.to_json() == {"error": "unsupported_grant_type"}


def test_a_code_without_a_class_of_its_own_keeps_its_code_and_status() -> None:
    converted = _back(UnsupportedTokenTypeError())
    assert type(converted) is BackChannelError
    assert (converted.error, converted.status) == ("unsupported_token_type", 401)


def test_at_the_authorization_endpoint_a_checked_redirect_uri_means_a_redirect() -> None:
    error = InvalidRequestError("Invalid request: scope is missing.")
    error.redirect_uri = "https://pgo.localhost/cb"
    converted = from_authlib(error, authorization=True, client_id="pgo.localhost", state="s")
    assert converted == FlowError(
        "invalid_request",
        "Invalid request: scope is missing.",
        Redirect("pgo.localhost", "https://pgo.localhost/cb", "s"),
    )


def test_at_the_authorization_endpoint_no_checked_redirect_uri_means_the_error_page() -> None:
    error = InvalidRequestError("Invalid request: redirect_uri is not valid.")
    converted = from_authlib(error, authorization=True, client_id="pgo.localhost", state="s")
    assert isinstance(converted, UntrustedRequest)
    assert converted.reason is PageReason.REDIRECT_INVALID


def test_authlibs_swapped_response_type_description_is_said_in_our_words() -> None:
    error = UnsupportedResponseTypeError("token")
    error.redirect_uri = "https://pgo.localhost/cb"
    converted = from_authlib(error, authorization=True, client_id="pgo.localhost", state=None)
    assert isinstance(converted, FlowError)
    assert converted.error == "unsupported_response_type"
    assert "authorization codes only" in converted.description


def test_descriptions_keep_to_oauths_characters() -> None:
    assert InvalidRequest('parameter "x" is repeated').description == "parameter ?x? is repeated"
    assert FlowError("access_denied", "Geen toegang: één").description == "Geen toegang: ??n"
