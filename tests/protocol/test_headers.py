"""MedMij-Request-ID and X-Correlation-ID (core.authint.208, core.tknint.208, core.rscint.201)."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, urlencode

import pytest

from medmij_stack.protocol.headers import (
    MEDMIJ_REQUEST_ID,
    X_CORRELATION_ID,
    HeaderError,
    Tracing,
    lenient_from,
    new_id,
    parse_id,
)

# From the core.authint.200 example request.
REQUEST_ID = "57510be1-73e6-4a75-9db8-ee005cced48f"
CORRELATION_ID = "c0e7b545-9606-4eef-bea7-75d8addaa54b"


def test_header_names() -> None:
    assert MEDMIJ_REQUEST_ID == "MedMij-Request-ID"
    assert X_CORRELATION_ID == "X-Correlation-ID"


def test_new_id_is_a_fresh_lower_case_uuid4() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    for value in ids:
        assert value == value.lower()
        assert uuid.UUID(value).version == 4
        assert parse_id(value, name=MEDMIJ_REQUEST_ID) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (REQUEST_ID, REQUEST_ID),
        (REQUEST_ID.upper(), REQUEST_ID),
        ("57510BE1-73e6-4A75-9db8-EE005cced48f", REQUEST_ID),
        # Any version: a time-based v1 and a v7 are UUIDs too.
        ("c232ab00-9414-11ec-b3c8-9f6bdeced846", "c232ab00-9414-11ec-b3c8-9f6bdeced846"),
        ("01890a5d-ac96-774b-bcce-b302099a8057", "01890a5d-ac96-774b-bcce-b302099a8057"),
    ],
)
def test_good_ids_come_back_canonical(value: str, expected: str) -> None:
    assert parse_id(value, name=X_CORRELATION_ID) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "is missing"),
        ("", "is empty"),
        ("not-a-uuid", "is not a UUID"),
        (REQUEST_ID.replace("-", ""), "is not a UUID"),
        ("{" + REQUEST_ID + "}", "is not a UUID"),
        ("urn:uuid:" + REQUEST_ID, "is not a UUID"),
        (" " + REQUEST_ID, "is not a UUID"),
        (REQUEST_ID + "\n", "is not a UUID"),
        (REQUEST_ID[:-1], "is not a UUID"),
        (REQUEST_ID[:-1] + "g", "is not a UUID"),
        ("57510be1-73e6-4a75-9db8ee005cced48f0", "is not a UUID"),
        ("00000000-0000-0000-0000-000000000000", "nil UUID"),
    ],
)
def test_bad_ids_name_the_header(value: str | None, message: str) -> None:
    with pytest.raises(HeaderError, match=message) as info:
        parse_id(value, name=X_CORRELATION_ID)
    assert str(info.value).startswith(X_CORRELATION_ID)
    assert info.value.header == X_CORRELATION_ID
    assert isinstance(info.value, ValueError)


def test_long_bad_values_are_cut_short_in_messages() -> None:
    with pytest.raises(HeaderError) as info:
        parse_id("x" * 5_000, name=MEDMIJ_REQUEST_ID)
    assert len(str(info.value)) < 200


def test_tracing_headers_and_query_params() -> None:
    tracing = Tracing(REQUEST_ID, CORRELATION_ID)
    expected = {"MedMij-Request-ID": REQUEST_ID, "X-Correlation-ID": CORRELATION_ID}
    assert tracing.headers() == expected
    assert tracing.query_params() == expected
    # The authorization request of core.authint.200 carries them in the query string.
    query = urlencode({"response_type": "code", **tracing.query_params()})
    assert Tracing.from_query(dict(parse_qsl(query))) == tracing


def test_tracing_stores_canonical_ids_and_refuses_bad_ones() -> None:
    assert Tracing(REQUEST_ID.upper(), CORRELATION_ID.upper()) == Tracing(
        REQUEST_ID, CORRELATION_ID
    )
    with pytest.raises(HeaderError, match=r"^MedMij-Request-ID is not a UUID"):
        Tracing("nope", CORRELATION_ID)
    with pytest.raises(HeaderError, match=r"^X-Correlation-ID is not a UUID"):
        Tracing(REQUEST_ID, "nope")


def test_new_starts_or_joins_a_flow() -> None:
    first = Tracing.new()
    assert first.request_id != first.correlation_id
    joined = Tracing.new(CORRELATION_ID.upper())
    assert joined.correlation_id == CORRELATION_ID
    with pytest.raises(HeaderError, match="X-Correlation-ID"):
        Tracing.new("nope")


def test_next_request_keeps_the_correlation_and_renews_the_request_id() -> None:
    # Authorization, token and resource requests of one flow (core.tknint.208, core.rscint.201).
    authorize = Tracing.new()
    token = authorize.next_request()
    resource = token.next_request()
    assert authorize.correlation_id == token.correlation_id == resource.correlation_id
    assert len({authorize.request_id, token.request_id, resource.request_id}) == 3


def test_from_headers_ignores_case() -> None:
    tracing = Tracing.from_headers(
        {"medmij-request-id": REQUEST_ID, "X-correlation-ID": CORRELATION_ID.upper()}
    )
    assert tracing == Tracing(REQUEST_ID, CORRELATION_ID)


def test_from_headers_refuses_missing_and_conflicting_fields() -> None:
    with pytest.raises(HeaderError, match=r"^X-Correlation-ID is missing") as info:
        Tracing.from_headers({"MedMij-Request-ID": REQUEST_ID})
    assert info.value.header == X_CORRELATION_ID
    with pytest.raises(HeaderError, match=r"^MedMij-Request-ID is missing"):
        Tracing.from_query({"X-Correlation-ID": CORRELATION_ID})
    with pytest.raises(HeaderError, match="more than once"):
        Tracing.from_headers(
            {
                "medmij-request-id": REQUEST_ID,
                "MEDMIJ-REQUEST-ID": new_id(),
                "X-Correlation-ID": CORRELATION_ID,
            }
        )


def test_lenient_takes_headers_without_complaint() -> None:
    tracing, problems = lenient_from(
        {"MedMij-Request-ID": REQUEST_ID, "X-Correlation-ID": CORRELATION_ID}, {}
    )
    assert tracing == Tracing(REQUEST_ID, CORRELATION_ID)
    assert problems == []


def test_lenient_takes_query_params_without_complaint() -> None:
    tracing, problems = lenient_from(
        {}, {"MedMij-Request-ID": REQUEST_ID, "X-Correlation-ID": CORRELATION_ID}
    )
    assert tracing == Tracing(REQUEST_ID, CORRELATION_ID)
    assert problems == []


def test_lenient_mixes_sources() -> None:
    tracing, problems = lenient_from(
        {"x-correlation-id": CORRELATION_ID}, {"MedMij-Request-ID": REQUEST_ID}
    )
    assert tracing == Tracing(REQUEST_ID, CORRELATION_ID)
    assert problems == []


def test_lenient_generates_missing_ids_and_reports_them() -> None:
    tracing, problems = lenient_from({}, {})
    assert tracing.request_id != tracing.correlation_id
    assert len(problems) == 2
    assert problems[0].startswith("no MedMij-Request-ID")
    assert tracing.request_id in problems[0]
    assert problems[1].startswith("no X-Correlation-ID")
    assert tracing.correlation_id in problems[1]


def test_lenient_replaces_invalid_ids_and_reports_why() -> None:
    tracing, problems = lenient_from(
        {"MedMij-Request-ID": "garbage"},
        {"X-Correlation-ID": "00000000-0000-0000-0000-000000000000"},
    )
    assert parse_id(tracing.request_id, name=MEDMIJ_REQUEST_ID) == tracing.request_id
    assert (
        problems[0]
        == "header MedMij-Request-ID is not a UUID (8-4-4-4-12 hexadecimal digits): 'garbage'"
    )
    assert problems[1].startswith("no valid MedMij-Request-ID")
    assert "query parameter X-Correlation-ID is the nil UUID" in problems[2]
    assert problems[3].startswith("no valid X-Correlation-ID")


def test_lenient_falls_back_to_the_query_when_the_header_is_bad() -> None:
    tracing, problems = lenient_from(
        {"MedMij-Request-ID": "garbage", "X-Correlation-ID": CORRELATION_ID},
        {"MedMij-Request-ID": REQUEST_ID},
    )
    assert tracing == Tracing(REQUEST_ID, CORRELATION_ID)
    assert len(problems) == 1
    assert "header MedMij-Request-ID is not a UUID" in problems[0]


def test_lenient_prefers_the_header_when_sources_disagree() -> None:
    other = new_id()
    tracing, problems = lenient_from(
        {"MedMij-Request-ID": REQUEST_ID, "X-Correlation-ID": CORRELATION_ID},
        {"MedMij-Request-ID": other, "X-Correlation-ID": CORRELATION_ID.upper()},
    )
    assert tracing == Tracing(REQUEST_ID, CORRELATION_ID)
    assert problems == [
        f"MedMij-Request-ID differs between header ({REQUEST_ID}) and query parameter "
        f"({other}); the header is used"
    ]
