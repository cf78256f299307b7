"""The authorisation server's settings refuse what the Afsprakenstelsel does not allow."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from medmij_stack.authserver.settings import AuthserverSettings

from .conftest import TestWorld


def _settings(tw: TestWorld, **changes: Any) -> AuthserverSettings:
    fields = tw.app_state().dva.settings.model_dump() | changes
    return AuthserverSettings(**fields)


def test_an_access_token_lives_at_most_fifteen_minutes(tw: TestWorld) -> None:
    assert _settings(tw, access_token_ttl_seconds=900).access_token_ttl_seconds == 900
    with pytest.raises(ValidationError, match="access_token_ttl_seconds"):
        _settings(tw, access_token_ttl_seconds=901)
    with pytest.raises(ValidationError, match="code_ttl_seconds"):
        _settings(tw, code_ttl_seconds=1800)


def test_the_dvas_phone_number_is_required(tw: TestWorld) -> None:
    # The technische-storing page must show it (Technische storing, Core).
    with pytest.raises(ValidationError, match="dva_telefoonnummer"):
        _settings(tw, dva_telefoonnummer="")
    fields = tw.app_state().dva.settings.model_dump()
    del fields["dva_telefoonnummer"]
    with pytest.raises(ValidationError, match="dva_telefoonnummer"):
        AuthserverSettings(**fields)
