"""The retrieval engine against a mocked resource endpoint (respx): every path it can take.

The fake DVA answers each resource path with what a test asks, and an empty searchset
otherwise; it records every request, so the tests see exactly what the PGO sent.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import respx

from medmij_stack.pgo import fhir_validation
from medmij_stack.pgo.follow_up_reads import PHARMACEUTICAL_PRODUCT
from medmij_stack.pgo.retrieval import QueryResult, ServiceResult, retrieve_service
from medmij_stack.protocol import catalogue
from medmij_stack.protocol.funnel import FailureReason
from medmij_stack.protocol.ketenlog import EventType, Record

HOST = "fhir.dva.test"
BASE_48 = f"https://{HOST}/ziekenhuis/48/fhir"
BASE_63 = f"https://{HOST}/ziekenhuis/63/fhir"
TOKEN = "d6f1c2a4-0a55-4b7e-9d2e-1f0c3b5a7e90"
FLOW = "5b0c7a52-3c1e-4f55-8a6e-0d9b1e2f3a4c"
PGO = "pgo.test"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

Handler = Callable[[httpx.Request], httpx.Response]


def clock() -> datetime:
    return NOW


def fhir(data: Any, status: int = 200, version: str = "3.0", **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(data).encode(),
        headers={"content-type": f"application/fhir+json; fhirVersion={version}", **headers},
    )


def searchset(*entries: tuple[dict[str, Any], str], next_url: str | None = None) -> dict[str, Any]:
    links = [{"relation": "self", "url": "https://example.invalid/self"}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": sum(1 for _, mode in entries if mode == "match"),
        "link": links,
        "entry": [
            {
                "fullUrl": f"{BASE_48}/{r['resourceType']}/{r.get('id', uuid.uuid4())}",
                "resource": r,
                "search": {"mode": mode},
            }
            for r, mode in entries
        ],
    }


def outcome(text: str, code: str = "processing") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }


PATIENT = {"resourceType": "Patient", "id": "pat-1", "gender": "female"}
GP = {"resourceType": "Practitioner", "id": "gp-1", "name": [{"family": "Huisarts"}]}
MEDICATION = {"resourceType": "Medication", "id": "med-1", "code": {"text": "Paracetamol"}}
SUBJECT = {"reference": "Patient/pat-1", "display": "P"}
MED_REF = {"reference": "Medication/med-1", "display": "Paracetamol"}


def condition(number: int) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": f"cond-{number}",
        "subject": SUBJECT,
        "code": {"text": f"Problem {number}"},
    }


class FakeDva:
    """A resource endpoint: answers by path below its base, records every request."""

    def __init__(self, base: str, version: str = "3.0") -> None:
        self.base = base
        self.version = version
        self.answers: dict[str, Handler] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix(urlsplit(self.base).path + "/")
        handler = self.answers.get(path)
        if handler is not None:
            return handler(request)
        return fhir(searchset(), version=self.version)

    def answer(self, path: str, data: Any, status: int = 200, **headers: str) -> None:
        self.answers[path] = lambda request: fhir(data, status, self.version, **headers)

    def to(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/" + path)]


@pytest.fixture
def dva() -> FakeDva:
    return FakeDva(BASE_48)


@pytest.fixture
def mock() -> Any:
    with respx.mock(assert_all_called=False) as router:
        yield router


async def run(
    router: Any,
    dva: FakeDva,
    dienst: str = "48",
    records: list[Record] | None = None,
    **options: Any,
) -> ServiceResult:
    router.route(host=HOST).mock(side_effect=dva)
    async with httpx.AsyncClient() as client:
        return await retrieve_service(
            client,
            dva.base,
            TOKEN,
            catalogue.get(dienst),
            correlation_id=FLOW,
            clock=clock,
            sink=None if records is None else records.append,
            session_id="sessie-1",
            client_id=PGO,
            **options,
        )


def only(result: ServiceResult, name: str) -> QueryResult:
    [found] = [q for q in result.queries if q.query.name == name]
    return found


# -- the requests -------------------------------------------------------------------------


async def test_every_bgz_query_is_asked_once_with_the_medmij_headers(
    mock: Any, dva: FakeDva
) -> None:
    records: list[Record] = []
    result = await run(mock, dva, records=records)

    bgz = catalogue.get("48").queries
    assert [q.query for q in result.queries] == list(bgz)
    assert all(q.failure is None and q.status == 200 for q in result.queries)
    assert result.failure is None
    assert len(dva.requests) == 28
    asked = sorted(
        (r.url.path.removeprefix("/ziekenhuis/48/fhir/"), parse_qsl(r.url.query.decode()))
        for r in dva.requests
    )
    assert asked == sorted((q.resource_path, list(q.params)) for q in bgz)
    request_ids = [r.headers["MedMij-Request-ID"] for r in dva.requests]
    assert len(set(request_ids)) == 28
    assert all(str(uuid.UUID(value)) == value for value in request_ids)
    assert sorted(q.request_id for q in result.queries) == sorted(request_ids)
    for request in dva.requests:
        assert request.method == "GET"
        assert request.headers["Accept"] == "application/fhir+json; fhirVersion=3.0"
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["X-Correlation-ID"] == FLOW
        assert "patient=" not in str(request.url)
        assert "subject=" not in str(request.url)
        assert TOKEN not in str(request.url)
    # As the Nictiz scripts send them: "|" and "," percent-encoded, ":" and "/" as they are.
    lastn = only(result, "FunctionalOrMentalStatus")
    [sent] = [r for r in dva.requests if r.headers["MedMij-Request-ID"] == lastn.request_id]
    assert str(sent.url) == (
        f"{BASE_48}/Observation/$lastn?category=http://snomed.info/sct%7C118228005"
        "%2Chttp://snomed.info/sct%7C384821006"
    )
    assert lastn.started == NOW
    assert lastn.elapsed_seconds >= 0

    # The ketenlog: a send and a receive per request, tied to the flow and the request.
    assert len(records) == 56
    for request_id in request_ids:
        pair = [r for r in records if r.request is not None and r.request.id == request_id]
        assert [r.event.type for r in pair] == [
            EventType.SEND_RESOURCE_REQUEST,
            EventType.RECEIVE_RESOURCE_RESPONSE,
        ]
        sent_record, received = pair
        assert sent_record.request is not None
        assert sent_record.request.method == "GET"
        assert sent_record.request.client_id == PGO
        assert sent_record.request.server_id == HOST
        assert sent_record.request.service_id == 48
        [request] = [r for r in dva.requests if r.headers["MedMij-Request-ID"] == request_id]
        assert sent_record.request.uri == str(request.url)
        assert received.response is not None
        assert (received.response.id, received.response.status) == (request_id, 200)
    for record in records:
        assert record.event.trace_id == FLOW
        assert record.event.session_id == "sessie-1"
        assert record.event.location == PGO
        assert record.event.datetime == NOW
        Record.from_json(record.to_json())  # every record has the ketenlog shape


async def test_vaccinaties_ask_with_fhir_version_4(mock: Any) -> None:
    dva = FakeDva(BASE_63, "4.0")
    result = await run(mock, dva, "63")
    [request] = dva.requests
    assert request.headers["Accept"] == "application/fhir+json; fhirVersion=4.0"
    assert str(request.url) == (
        f"{BASE_63}/Immunization?_include=Immunization:patient"
        "&_include=Immunization:performer&_include=Immunization:location"
    )
    assert [q.query.name for q in result.queries] == ["Vaccination"]


async def test_queries_run_at_most_concurrency_at_a_time(mock: Any, dva: FakeDva) -> None:
    in_flight = 0
    most = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return fhir(searchset())

    mock.route(host=HOST).mock(side_effect=slow)
    async with httpx.AsyncClient() as client:
        result = await retrieve_service(
            client, BASE_48, TOKEN, catalogue.get("48"), correlation_id=FLOW, clock=clock,
            concurrency=3,
        )  # fmt: skip
    assert result.failure is None
    assert most == 3


# -- what comes back ------------------------------------------------------------------------


async def test_a_search_returns_its_matches_and_includes_as_sent(mock: Any, dva: FakeDva) -> None:
    dva.answer("Patient", searchset((PATIENT, "match"), (GP, "include")))
    result = await run(mock, dva)
    patient = only(result, "Patient")
    assert patient.resources == (PATIENT, GP)
    assert patient.detail is None
    assert result.resources == (PATIENT, GP)


async def test_a_resource_included_by_two_queries_is_kept_once(mock: Any, dva: FakeDva) -> None:
    statement = {
        "resourceType": "MedicationStatement",
        "id": "ms-1",
        "status": "active",
        "taken": "y",
        "medicationReference": MED_REF,
        "subject": SUBJECT,
    }
    request = {
        "resourceType": "MedicationRequest",
        "id": "mr-1",
        "intent": "order",
        "medicationReference": MED_REF,
        "subject": SUBJECT,
    }
    dva.answer("MedicationStatement", searchset((statement, "match"), (MEDICATION, "include")))
    dva.answer("MedicationRequest", searchset((request, "match"), (MEDICATION, "include")))
    dva.answer("Patient", searchset((PATIENT, "match")))
    dva.answer("Coverage", searchset((PATIENT, "include")))  # Coverage:payor:Patient
    result = await run(mock, dva)
    assert only(result, "MedicationUse").resources == (statement, MEDICATION)
    assert only(result, "MedicationAgreement").resources == (request, MEDICATION)
    assert result.resources == (PATIENT, statement, MEDICATION, request)


async def test_an_operation_outcome_entry_is_no_data(mock: Any, dva: FakeDva) -> None:
    dva.answer("Condition", searchset((outcome("no conditions", "informational"), "outcome")))
    result = await run(mock, dva)
    problem = only(result, "Problem")
    assert (problem.failure, problem.resources) == (None, ())


# -- paging ---------------------------------------------------------------------------------


async def test_next_links_are_followed_each_with_a_fresh_request_id(
    mock: Any, dva: FakeDva
) -> None:
    def pages(request: httpx.Request) -> httpx.Response:
        page = dict(parse_qsl(request.url.query.decode())).get("_page")
        if page is None:  # relative next link, as many servers write it
            return fhir(searchset((condition(1), "match"), next_url="Condition?_page=2"))
        if page == "2":
            return fhir(searchset((condition(2), "match"), next_url=f"{BASE_48}/Condition?_page=3"))
        return fhir(searchset((condition(3), "match"), (condition(2), "match")))

    dva.answers["Condition"] = pages
    records: list[Record] = []
    result = await run(mock, dva, records=records)
    problem = only(result, "Problem")
    assert problem.failure is None
    assert [r["id"] for r in problem.resources] == ["cond-1", "cond-2", "cond-3"]
    sent = dva.to("Condition")
    assert [r.url.params.get("_page") for r in sent] == [None, "2", "3"]
    ids = [r.headers["MedMij-Request-ID"] for r in sent]
    assert len(set(ids)) == 3
    assert problem.request_id == ids[-1]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in sent)
    logged = {
        r.request.id
        for r in records
        if r.request is not None and r.event.type is EventType.SEND_RESOURCE_REQUEST
    }
    assert set(ids) <= logged


async def test_a_next_link_back_to_a_page_already_read_ends_the_search(
    mock: Any, dva: FakeDva
) -> None:
    loop = f"{BASE_48}/Condition?_page=2"
    dva.answer("Condition", searchset((condition(1), "match"), next_url=loop))
    result = await run(mock, dva)
    problem = only(result, "Problem")
    assert problem.failure is FailureReason.INVALID_CONTENT
    assert problem.detail == "the next link leads back to a page already read"
    assert problem.resources == ()
    assert len(dva.to("Condition")) == 2


async def test_paging_stops_at_max_pages(mock: Any, dva: FakeDva) -> None:
    def endless(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("_page", "1"))
        return fhir(searchset(next_url=f"{BASE_48}/Condition?_page={page + 1}"))

    dva.answers["Condition"] = endless
    result = await run(mock, dva, max_pages=3)
    problem = only(result, "Problem")
    assert problem.failure is FailureReason.INVALID_CONTENT
    assert problem.detail == "the searchset has more than 3 pages"
    assert len(dva.to("Condition")) == 3


@pytest.mark.parametrize(
    "elsewhere",
    [
        "https://evil.test/ziekenhuis/48/fhir/Condition?_page=2",
        "http://fhir.dva.test/ziekenhuis/48/fhir/Condition?_page=2",  # plain HTTP
        "https://fhir.dva.test/huisarts/48/fhir/Condition?_page=2",  # another endpoint
    ],
)
async def test_a_next_link_away_from_the_endpoint_is_not_followed(
    mock: Any, dva: FakeDva, elsewhere: str
) -> None:
    evil = mock.route(host="evil.test").mock(return_value=fhir(searchset()))
    dva.answer("Condition", searchset((condition(1), "match"), next_url=elsewhere))
    result = await run(mock, dva)
    problem = only(result, "Problem")
    assert problem.failure is FailureReason.INVALID_CONTENT
    assert problem.detail is not None
    assert problem.detail.startswith("the next link leads away from the resource endpoint")
    assert not evil.called
    assert len(dva.to("Condition")) == 1  # the token went nowhere else


# -- HTTP errors, timeouts, no connection -------------------------------------------------


@pytest.mark.parametrize(
    ("status", "www_authenticate", "detail", "code"),
    [
        (
            401,
            'Bearer error="invalid_token", error_description="The access token expired"',
            "HTTP 401 invalid_token: token expired or unknown",
            "invalid_token",
        ),
        (
            403,
            'Bearer error="insufficient_scope", error_description="Not this gegevensdienst"',
            "HTTP 403 insufficient_scope: token expired or unknown",
            "insufficient_scope",
        ),
        (404, None, "HTTP 404: token expired or unknown", "other"),
        (500, None, "HTTP 500: token expired or unknown", "other"),
    ],
)
async def test_an_error_status_is_a_resource_error_with_the_operation_outcome(
    mock: Any, dva: FakeDva, status: int, www_authenticate: str | None, detail: str, code: str
) -> None:
    headers = {} if www_authenticate is None else {"www-authenticate": www_authenticate}
    dva.answer("Patient", outcome("token expired or unknown"), status, **headers)
    records: list[Record] = []
    result = await run(mock, dva, records=records)
    patient = only(result, "Patient")
    assert patient.failure is FailureReason.RESOURCE_ERROR
    assert patient.status == status
    assert patient.detail == detail
    assert patient.resources == ()
    assert result.failure is patient
    assert sum(q.failure is None for q in result.queries) == 27  # the others went on
    [error] = [r for r in records if r.event.type is EventType.RECEIVE_RESOURCE_ERROR_RESPONSE]
    assert error.request is not None
    assert error.request.id == patient.request_id
    assert error.response is not None
    assert error.response.status == status
    assert error.error is not None
    assert (error.error.code, error.error.status) == (code, status)
    assert error.error.request_id == patient.request_id
    if www_authenticate is not None:
        assert error.error.description in ("The access token expired", "Not this gegevensdienst")
    else:
        assert error.error.description == "token expired or unknown"


async def test_a_redirect_is_not_followed(mock: Any, dva: FakeDva) -> None:
    evil = mock.route(host="evil.test").mock(return_value=fhir(searchset()))
    dva.answers["Patient"] = lambda request: httpx.Response(
        302, headers={"location": "https://evil.test/fhir/Patient"}
    )
    result = await run(mock, dva)
    patient = only(result, "Patient")
    assert patient.failure is FailureReason.RESOURCE_ERROR
    assert (patient.status, patient.detail) == (302, "HTTP 302 (redirects are not followed)")
    assert not evil.called


async def test_a_timeout_is_a_resource_error_without_status(mock: Any, dva: FakeDva) -> None:
    def stuck(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    dva.answers["Patient"] = stuck
    records: list[Record] = []
    result = await run(mock, dva, records=records)
    patient = only(result, "Patient")
    assert patient.failure is FailureReason.RESOURCE_ERROR
    assert (patient.status, patient.detail) == (None, "timeout after 30 s")
    [error] = [r for r in records if r.event.type is EventType.RECEIVE_RESOURCE_REQUEST_ERROR]
    assert error.request is not None
    assert error.request.id == patient.request_id
    assert error.response is None
    assert error.error is not None
    assert (error.error.code, error.error.description) == ("other", "timeout after 30 s")


class _Drip(httpx.AsyncByteStream):
    """A body that starts, then stalls: httpx's per-read timeouts alone would wait long."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"resourceType": "Bundle", '
        await asyncio.sleep(10)
        yield b'"type": "searchset"}'


async def test_the_deadline_covers_the_whole_answer(mock: Any, dva: FakeDva) -> None:
    dva.answers["Patient"] = lambda request: httpx.Response(
        200, headers={"content-type": "application/fhir+json"}, stream=_Drip()
    )
    began = time.monotonic()
    result = await run(mock, dva, timeout_seconds=0.3)
    assert time.monotonic() - began < 5
    patient = only(result, "Patient")
    assert patient.failure is FailureReason.RESOURCE_ERROR
    assert (patient.status, patient.detail) == (None, "timeout after 0.3 s")


async def test_no_connection_is_a_resource_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    records: list[Record] = []
    async with httpx.AsyncClient() as client:
        result = await retrieve_service(
            client, f"http://127.0.0.1:{port}/fhir", TOKEN, catalogue.get("63"),
            correlation_id=FLOW, clock=clock, sink=records.append, client_id=PGO,
        )  # fmt: skip
    [vaccination] = result.queries
    assert vaccination.failure is FailureReason.RESOURCE_ERROR
    assert vaccination.status is None
    assert vaccination.detail is not None
    assert vaccination.detail.startswith("no answer: ConnectError")
    assert [r.event.type for r in records] == [
        EventType.SEND_RESOURCE_REQUEST,
        EventType.RECEIVE_RESOURCE_REQUEST_ERROR,
    ]


# -- answers that are not what was asked -------------------------------------------------


class _Endless(httpx.AsyncByteStream):
    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(100_000):
            self.sent += 1
            yield b" " * 1024


async def test_an_oversized_answer_is_streamed_and_dropped(mock: Any, dva: FakeDva) -> None:
    body = _Endless()
    dva.answers["Patient"] = lambda request: httpx.Response(
        200, headers={"content-type": "application/fhir+json"}, stream=body
    )
    records: list[Record] = []
    result = await run(mock, dva, records=records, max_bytes=8 * 1024)
    patient = only(result, "Patient")
    assert patient.failure is FailureReason.INVALID_CONTENT
    assert (patient.status, patient.detail) == (200, "answer larger than 8192 bytes; not read")
    assert body.sent <= 10  # it stopped reading, rather than reading 100 MiB and refusing it
    received = [
        r
        for r in records
        if r.event.type is EventType.RECEIVE_RESOURCE_RESPONSE
        and r.request is not None
        and r.request.id == patient.request_id
    ]
    assert len(received) == 1


async def test_a_declared_length_above_the_limit_is_refused_unread(mock: Any, dva: FakeDva) -> None:
    body = _Endless()
    dva.answers["Patient"] = lambda request: httpx.Response(
        200,
        headers={"content-type": "application/fhir+json", "content-length": str(10**9)},
        stream=body,
    )
    result = await run(mock, dva, max_bytes=8 * 1024)
    assert only(result, "Patient").failure is FailureReason.INVALID_CONTENT
    assert body.sent == 0


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"resourceType": "Bundle", "type": ', "not valid JSON: Expecting value at line 1"),
        (b"", "empty answer"),
        (b"\xff\xfe{}", "not UTF-8 text (byte 0)"),
        (b'{"resourceType": "Bundle", "total": NaN}', "not valid JSON: NaN is not a JSON number"),
        (
            b'{"resourceType": "Bundle", "type": "searchset", "type": "batch"}',
            "not valid FHIR JSON: member 'type' appears twice",
        ),
        (b'[{"resourceType": "Bundle"}]', "not a FHIR resource: the JSON is a list"),
    ],
)
async def test_an_answer_that_is_not_json_is_invalid_content(
    mock: Any, dva: FakeDva, body: bytes, detail: str
) -> None:
    dva.answers["Patient"] = lambda request: httpx.Response(
        200, headers={"content-type": "application/fhir+json"}, content=body
    )
    result = await run(mock, dva)
    patient = only(result, "Patient")
    assert patient.failure is FailureReason.INVALID_CONTENT
    assert patient.status == 200
    assert patient.detail is not None
    assert patient.detail.startswith(detail)


async def test_valid_json_that_is_no_valid_fhir_is_invalid_content_without_its_values(
    mock: Any, dva: FakeDva
) -> None:
    broken = PATIENT | {"birthDate": "gisteren-middag", "favouriteColour": "blauw"}
    dva.answer("Patient", searchset((broken, "match")))
    result = await run(mock, dva)
    patient = only(result, "Patient")
    assert patient.failure is FailureReason.INVALID_CONTENT
    assert patient.detail is not None
    assert patient.detail.startswith("not valid FHIR STU3: Bundle.entry[0].resource.")
    assert "birthDate" in patient.detail
    assert "favouriteColour" in patient.detail
    # The values themselves (a person's data) stay out of logs and screens.
    assert "gisteren" not in patient.detail
    assert "blauw" not in patient.detail
    assert patient.resources == ()


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (
            {"resourceType": "Bundle", "type": "collection"},
            "the Bundle is of type 'collection', not 'searchset'",
        ),
        ({"resourceType": "Bundle"}, "the Bundle is of type None, not 'searchset'"),
        (PATIENT, "the answer is a Patient, not a Bundle"),
        (
            outcome("search failed"),
            "the answer is an OperationOutcome: search failed",
        ),
        (
            searchset(({"resourceType": "Observation", "id": "o", "status": "final",
                        "code": {"text": "x"}}, "match")),
            "Bundle.entry[0] is a Observation, which this search cannot match "
            "(expected Condition)",
        ),
        (
            searchset(({"resourceType": "Coding", "id": "c"}, "match")),
            "Bundle.entry[0].resource: 'Coding' is not a FHIR STU3 resource type",
        ),
        (
            searchset((condition(1), "match"), (PATIENT, "outcome")),
            "Bundle.entry[1] is an outcome entry, but a Patient",
        ),
    ],
)  # fmt: skip
async def test_an_answer_that_is_no_searchset_of_the_query_is_invalid_content(
    mock: Any, dva: FakeDva, data: dict[str, Any], detail: str
) -> None:
    dva.answer("Condition", data)
    result = await run(mock, dva)
    problem = only(result, "Problem")
    assert problem.failure is FailureReason.INVALID_CONTENT
    assert problem.detail == detail


async def test_an_r4_resource_in_a_bgz_answer_is_invalid_content(mock: Any, dva: FakeDva) -> None:
    # R4's Immunization.occurrenceDateTime is no STU3 element (STU3 has "date").
    immunization = {
        "resourceType": "Immunization",
        "id": "imm-1",
        "status": "completed",
        "notGiven": False,
        "primarySource": True,
        "vaccineCode": {"text": "BMR"},
        "patient": SUBJECT,
        "occurrenceDateTime": "2021-05-01",
    }
    dva.answer("Immunization", searchset((immunization, "match")))
    result = await run(mock, dva)
    vaccination = only(result, "Vaccination")
    assert vaccination.failure is FailureReason.INVALID_CONTENT
    assert vaccination.detail is not None
    assert vaccination.detail.startswith(
        "not valid FHIR STU3: Bundle.entry[0].resource.occurrenceDateTime"
    )


@pytest.mark.parametrize(
    ("content_type", "detail"),
    [
        (
            "application/fhir+json; fhirVersion=4.0",
            "the answer is FHIR version 4.0, the request asked 3.0",
        ),
        ("text/html; charset=utf-8", "content type 'text/html' is not FHIR JSON"),
        ("application/fhir+xml", "content type 'application/fhir+xml' is not FHIR JSON"),
    ],
)
async def test_an_answer_of_another_format_or_version_is_invalid_content(
    mock: Any, dva: FakeDva, content_type: str, detail: str
) -> None:
    dva.answers["Patient"] = lambda request: httpx.Response(
        200, headers={"content-type": content_type}, content=json.dumps(searchset()).encode()
    )
    result = await run(mock, dva)
    patient = only(result, "Patient")
    assert (patient.failure, patient.detail) == (FailureReason.INVALID_CONTENT, detail)


# -- answers read before ------------------------------------------------------------------


def _counting_validations(monkeypatch: pytest.MonkeyPatch, marker: str) -> list[str]:
    """The model validations of bodies that carry ``marker``, as they happen."""
    built: list[str] = []
    validate = fhir_validation._validate

    def counted(data: dict[str, Any], release: fhir_validation.FhirRelease) -> None:
        if marker in json.dumps(data):
            built.append(str(data.get("resourceType")))
        validate(data, release)

    monkeypatch.setattr(fhir_validation, "_validate", counted)
    return built


async def test_the_same_valid_answer_again_is_read_without_building_its_models(
    mock: Any, dva: FakeDva, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = str(uuid.uuid4())
    problem = condition(1) | {"code": {"text": marker}}
    dva.answer("Condition", searchset((problem, "match")))
    built = _counting_validations(monkeypatch, marker)

    first = await run(mock, dva)
    again = await run(mock, dva)

    assert built == ["Bundle"]  # the second, identical answer: no models built
    assert only(first, "Problem").resources == only(again, "Problem").resources == (problem,)
    assert first.failure is None
    assert again.failure is None


async def test_a_known_valid_answer_is_still_checked_against_its_query(
    mock: Any, dva: FakeDva
) -> None:
    # The same bytes to two searches: valid FHIR, but only the Condition search may
    # match a Condition, whichever of the two was read first.
    marker = str(uuid.uuid4())
    conditions = searchset((condition(1) | {"code": {"text": marker}}, "match"))
    dva.answer("Condition", conditions)
    dva.answer("Patient", conditions)
    for _ in range(2):
        result = await run(mock, dva)
        assert only(result, "Problem").failure is None
        patient = only(result, "Patient")
        assert (patient.failure, patient.detail) == (
            FailureReason.INVALID_CONTENT,
            "Bundle.entry[0] is a Condition, which this search cannot match (expected Patient)",
        )


async def test_an_invalid_answer_is_refused_again_with_the_same_reason(
    mock: Any, dva: FakeDva
) -> None:
    broken = PATIENT | {"birthDate": "gisteren-middag", "id": str(uuid.uuid4())}
    dva.answer("Patient", searchset((broken, "match")))
    details = []
    for _ in range(2):
        patient = only(await run(mock, dva), "Patient")
        assert patient.failure is FailureReason.INVALID_CONTENT
        details.append(patient.detail)
    assert details[0] == details[1]
    assert details[0] is not None
    assert "birthDate" in details[0]


def test_valid_bodies_keep_the_newest_and_tell_the_releases_apart() -> None:
    bodies = fhir_validation.ValidBodies(size=2)
    one, two, three = (fhir_validation.ValidBodies.key(b, "STU3") for b in (b"1", b"2", b"3"))
    bodies.add(one)
    bodies.add(two)
    assert bodies.known(one)  # now the newest
    bodies.add(three)
    assert bodies.known(one)
    assert bodies.known(three)
    assert not bodies.known(two)
    assert not bodies.known(fhir_validation.ValidBodies.key(b"1", "R4"))


# -- Vaccinaties: the product reads -------------------------------------------------------


def immunization(number: int, product: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": f"imm-{number}",
        "status": "completed",
        "vaccineCode": {"text": "COVID-19"},
        "patient": SUBJECT,
        "occurrenceDateTime": "2021-05-01",
    }
    if product is not None:
        resource["extension"] = [
            {
                "url": PHARMACEUTICAL_PRODUCT,
                "valueReference": {"reference": product, "display": "vaccin"},
            }
        ]
    return resource


def product(identifier: str) -> dict[str, Any]:
    return {"resourceType": "Medication", "id": identifier, "code": {"text": "vaccin"}}


async def test_vaccinaties_read_each_product_once_on_the_endpoint_only(mock: Any) -> None:
    dva = FakeDva(BASE_63, "4.0")
    evil = mock.route(host="elsewhere.test").mock(return_value=fhir(product("x"), version="4.0"))
    dva.answer(
        "Immunization",
        searchset(
            (immunization(1, "Medication/med-a"), "match"),
            (immunization(2, f"{BASE_63}/Medication/med-b"), "match"),
            (immunization(3, "Medication/med-a"), "match"),  # the same product: one read
            (immunization(4, "https://elsewhere.test/fhir/Medication/x"), "match"),
            (immunization(5, "#contained-product"), "match"),
            (immunization(6, None), "match"),
            (PATIENT, "include"),
        ),
    )
    dva.answer("Medication/med-a", product("med-a"))
    dva.answer("Medication/med-b", product("med-b"))
    records: list[Record] = []
    result = await run(mock, dva, "63", records=records)
    assert result.failure is None
    names = [q.query.name for q in result.queries]
    assert names == ["Vaccination", "Medication/med-a", "Medication/med-b"]
    read = result.queries[1]
    assert read.resources == (product("med-a"),)
    assert read.query.resource_type == "Medication"
    [sent] = dva.to("Medication/med-a")
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Accept"] == "application/fhir+json; fhirVersion=4.0"
    assert sent.headers["X-Correlation-ID"] == FLOW
    assert sent.headers["MedMij-Request-ID"] == read.request_id
    assert not evil.called  # the token never leaves the resource endpoint
    assert [r["id"] for r in result.resources] == [
        *(f"imm-{n}" for n in range(1, 7)),
        "pat-1",
        "med-a",
        "med-b",
    ]
    assert len(records) == 6  # three requests, each sent and received


@pytest.mark.parametrize(
    ("answer", "status", "failure", "detail"),
    [
        (outcome("no such Medication"), 404, FailureReason.RESOURCE_ERROR, "HTTP 404: no such "
         "Medication"),
        (PATIENT, 200, FailureReason.INVALID_CONTENT, "the answer is a Patient, not a Medication"),
        (product("med-z"), 200, FailureReason.INVALID_CONTENT,
         "the Medication answered has another id than the one read"),
    ],
)  # fmt: skip
async def test_a_product_read_that_fails_is_a_failed_query(
    mock: Any, answer: dict[str, Any], status: int, failure: FailureReason, detail: str
) -> None:
    dva = FakeDva(BASE_63, "4.0")
    dva.answer("Immunization", searchset((immunization(1, "Medication/med-a"), "match")))
    dva.answer("Medication/med-a", answer, status)
    result = await run(mock, dva, "63")
    search, read = result.queries
    assert search.failure is None
    assert (read.failure, read.status, read.detail) == (failure, status, detail)
    assert result.failure is read
    assert result.resources == search.resources


# -- wrong use ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"resource_base": "ftp://fhir.dva.test/fhir"}, "resource_base must be an http(s) URL"),
        ({"resource_base": f"{BASE_48}?x=1"}, "must not carry a query"),
        ({"access_token": "abc\r\nX-Evil: 1"}, "not an RFC 6750 bearer token"),
        ({"access_token": ""}, "not an RFC 6750 bearer token"),
        ({"correlation_id": "flow-1"}, "X-Correlation-ID is not a UUID"),
        ({"dienst": catalogue.get("49")}, "gegevensdienst 49 has no queries"),
        ({"timeout_seconds": 0}, "must be positive"),
        ({"concurrency": 0}, "must be positive"),
    ],
)
async def test_arguments_no_request_can_be_made_with_are_refused(
    changes: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {
        "resource_base": BASE_48,
        "access_token": TOKEN,
        "dienst": catalogue.get("48"),
        "correlation_id": FLOW,
        "clock": clock,
    } | changes
    async with httpx.AsyncClient() as client:
        with pytest.raises(ValueError, match=re.escape(message)):
            await retrieve_service(
                client,
                arguments.pop("resource_base"),
                arguments.pop("access_token"),
                arguments.pop("dienst"),
                **arguments,
            )


async def test_a_failing_sink_ends_the_retrieval_with_its_own_exception(
    mock: Any, dva: FakeDva
) -> None:
    def broken(record: Record) -> None:
        raise RuntimeError("ketenlog table is gone")

    mock.route(host=HOST).mock(side_effect=dva)
    async with httpx.AsyncClient() as client:
        with pytest.raises(RuntimeError, match="ketenlog table is gone"):
            await retrieve_service(
                client, BASE_48, TOKEN, catalogue.get("48"), correlation_id=FLOW, clock=clock,
                sink=broken,
            )  # fmt: skip
