"""The retrieval engine against the real resource server, over HTTPS with the PGO's certificate.

The resource server is the one of tests/zorgaanbieder (its store, its Whitelist gate fed by a
Stelselnode), holding the small hand-written datasets of ``tests.zorgaanbieder.tiny`` and,
when the Nictiz material is present, the qualification patients. What the engine returns
per query must be exactly what the server serves for that query, and for the Nictiz
patients what docs/qualification.md#bgz-searches and #vaccinaties-searches say the scripts count.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from medmij_stack.pgo.retrieval import ServiceResult, retrieve_service
from medmij_stack.protocol import catalogue
from medmij_stack.protocol.funnel import FailureReason, system_clock
from medmij_stack.protocol.headers import new_id
from medmij_stack.protocol.ketenlog import EventType, Record
from medmij_stack.runtime.net import make_async_client
from medmij_stack.wiring.cli import app
from medmij_stack.zorgaanbieder.dataset import Dataset
from medmij_stack.zorgaanbieder.sources.nictiz import load_nictiz
from tests.zorgaanbieder import tiny

# The resource server's test world and its fixtures, as tests/zorgaanbieder uses them.
from tests.zorgaanbieder.conftest import (  # noqa: F401
    PGO,
    RESOURCE,
    Running,
    Start,
    nictiz_root,
    persons,
    pki,
    start_resource_server,
    stelselnode,
    tiny_datasets,
    world,
)
from tests.zorgaanbieder.nictiz_expected import (
    HELLEMAN,
    HELLEMAN_COUNTS,
    RIJN,
    RIJN_COUNTS,
    VACCINATION_SCENARIOS,
    VACCINATIONS,
    Expected,
    unmet,
)

ZIEKENHUIS = "ziekenhuis@medmij"
KWALIFICATIE = "kwalificatie@medmij"


# By name: the imported fixtures are not shadowed by parameters of the same name.


@pytest.fixture(scope="module")
def tiny_server(request: pytest.FixtureRequest) -> Iterator[Running]:
    start: Start = request.getfixturevalue("start_resource_server")
    datasets: list[Dataset] = request.getfixturevalue("tiny_datasets")
    with start(datasets=datasets, introspection_url=None) as server:
        yield server


@pytest.fixture(scope="module")
def nictiz_server(request: pytest.FixtureRequest) -> Iterator[Running]:
    start: Start = request.getfixturevalue("start_resource_server")
    root: Path = request.getfixturevalue("nictiz_root")
    with start(datasets=load_nictiz(root, KWALIFICATIE), introspection_url=None) as server:
        yield server


@pytest.fixture
async def pgo_client(tiny_server: Running) -> AsyncIterator[httpx.AsyncClient]:
    """The PGO's back-channel client: its own certificate, the dev root, nothing else."""
    running = tiny_server
    async with make_async_client(
        trust=[running.pki.root_cert],
        cert=running.pki.leaf(PGO),
        hosts={RESOURCE: "127.0.0.1"},
        timeout=30,
    ) as client:
        yield client


async def retrieve(
    client: httpx.AsyncClient,
    base: str,
    token: str,
    dienst: str,
    records: list[Record] | None = None,
) -> ServiceResult:
    return await retrieve_service(
        client,
        base,
        token,
        catalogue.get(dienst),
        correlation_id=new_id(),
        clock=system_clock,
        sink=None if records is None else records.append,
        client_id=PGO,
    )


def served(running: Running, url: str, token: str, accept: str) -> Counter[str]:
    """What the server itself answers at ``url``: resource types counted, outcomes left out."""
    with running.client() as client:
        response = client.get(url, headers={"Authorization": f"Bearer {token}", "Accept": accept})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    if body["resourceType"] != "Bundle":
        return Counter([body["resourceType"]])
    return Counter(
        entry["resource"]["resourceType"]
        for entry in body.get("entry", [])
        if entry["resource"]["resourceType"] != "OperationOutcome"
    )


def counted(resources: Any) -> Counter[str]:
    return Counter(resource["resourceType"] for resource in resources)


@pytest.mark.parametrize(
    ("dienst", "token"), [("48", tiny.TOKEN_A_48), ("63", tiny.TOKEN_A_63)], ids=["bgz", "vacc"]
)
async def test_every_query_returns_what_the_server_serves(
    tiny_server: Running, pgo_client: httpx.AsyncClient, dienst: str, token: str
) -> None:
    base = tiny_server.base(ZIEKENHUIS, dienst)
    records: list[Record] = []
    result = await retrieve(pgo_client, base, token, dienst, records)
    assert result.failure is None, result.failure
    accept = catalogue.get(dienst).accept
    assert len(result.queries) >= len(catalogue.get(dienst).queries)
    requests = 0
    for query_result in result.queries:
        sent = [
            r
            for r in records
            if r.request is not None
            and r.request.id == query_result.request_id
            and r.event.type is EventType.SEND_RESOURCE_REQUEST
        ]
        [record] = sent
        assert record.request is not None
        assert record.request.uri is not None
        on_server = served(tiny_server, record.request.uri, token, accept)
        assert counted(query_result.resources) == on_server, query_result.query.name
        requests += 1
    assert len(records) == 2 * requests
    # Person B's data never comes back with A's token.
    ids = {r["id"] for r in result.resources}
    assert not {i for i in ids if i.endswith("-b") or "-b-" in i}


async def test_bgz_holds_what_the_tiny_dataset_holds_for_a(
    tiny_server: Running, pgo_client: httpx.AsyncClient
) -> None:
    result = await retrieve(pgo_client, tiny_server.base(ZIEKENHUIS, "48"), tiny.TOKEN_A_48, "48")
    by_name = {q.query.name: counted(q.resources) for q in result.queries}
    assert by_name["Patient"] == Counter({"Patient": 1, "Practitioner": 1})
    assert by_name["Problem"] == Counter({"Condition": 1})
    assert by_name["BodyWeight"] == Counter({"Observation": 1})  # $lastn: the newer of two
    assert by_name["LaboratoryTestResult"] == Counter({"Observation": 1, "Specimen": 1})
    assert by_name["MedicationUse"] == Counter({"MedicationStatement": 1, "Medication": 1})
    assert by_name["Vaccination"] == Counter({"Immunization": 1})
    assert by_name["Contact"] == Counter({"Encounter": 1})
    assert by_name["TobaccoUse"] == Counter()


async def test_vaccinaties_read_only_the_products_of_a(
    tiny_server: Running, pgo_client: httpx.AsyncClient
) -> None:
    result = await retrieve(pgo_client, tiny_server.base(ZIEKENHUIS, "63"), tiny.TOKEN_A_63, "63")
    assert [q.query.name for q in result.queries] == ["Vaccination", "Medication/mmr-1"]
    assert counted(result.queries[0].resources) == Counter(
        {"Immunization": 2, "Patient": 1, "Organization": 1, "Location": 1}
    )
    assert "mmr-b" not in {r["id"] for r in result.resources}  # B's product is B's


@pytest.mark.parametrize(
    ("token", "dienst", "status", "detail"),
    [
        ("unknown-token-0001", "48", 401, "HTTP 401 invalid_token"),
        (tiny.TOKEN_A_48, "63", 403, "HTTP 403 insufficient_scope"),
    ],
)
async def test_a_token_the_server_refuses_fails_every_query(
    tiny_server: Running,
    pgo_client: httpx.AsyncClient,
    token: str,
    dienst: str,
    status: int,
    detail: str,
) -> None:
    records: list[Record] = []
    result = await retrieve(
        pgo_client, tiny_server.base(ZIEKENHUIS, dienst), token, dienst, records
    )
    assert result.queries
    for query_result in result.queries:
        assert query_result.failure is FailureReason.RESOURCE_ERROR
        assert query_result.status == status
        assert query_result.detail is not None
        assert query_result.detail.startswith(detail)
    errors = [r for r in records if r.event.type is EventType.RECEIVE_RESOURCE_ERROR_RESPONSE]
    assert len(errors) == len(result.queries)


async def test_without_the_pgo_certificate_nothing_is_served(tiny_server: Running) -> None:
    async with make_async_client(
        trust=[tiny_server.pki.root_cert], hosts={RESOURCE: "127.0.0.1"}
    ) as client:
        result = await retrieve(client, tiny_server.base(ZIEKENHUIS, "63"), tiny.TOKEN_A_63, "63")
    [query] = result.queries
    assert query.failure is FailureReason.RESOURCE_ERROR
    assert query.status == 403  # the Whitelist gate: no client certificate, access_denied


# -- the Nictiz qualification patients ------------------------------------------------------


@pytest.fixture
async def nictiz_client(nictiz_server: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with make_async_client(
        trust=[nictiz_server.pki.root_cert],
        cert=nictiz_server.pki.leaf(PGO),
        hosts={RESOURCE: "127.0.0.1"},
    ) as client:
        yield client


@pytest.mark.parametrize(
    ("token", "expected"),
    [(HELLEMAN, HELLEMAN_COUNTS), (RIJN, RIJN_COUNTS)],
    ids=["cert-helleman", "test-rijn"],
)
async def test_the_bgz_counts_of_the_nictiz_scripts(
    nictiz_server: Running,
    nictiz_client: httpx.AsyncClient,
    token: str,
    expected: dict[str, Expected],
) -> None:
    result = await retrieve(nictiz_client, nictiz_server.base(KWALIFICATIE, "48"), token, "48")
    assert result.failure is None, result.failure
    assert len(result.queries) == 28
    for query_result in result.queries:
        name = query_result.query.name
        if name in expected:
            assert unmet(counted(query_result.resources), expected[name]) == {}, name


@pytest.mark.parametrize("token", list(VACCINATIONS), ids=VACCINATION_SCENARIOS.get)
async def test_the_vaccinaties_counts_and_product_reads_of_the_nictiz_scripts(
    nictiz_server: Running, nictiz_client: httpx.AsyncClient, token: str
) -> None:
    expected, medications = VACCINATIONS[token]
    result = await retrieve(nictiz_client, nictiz_server.base(KWALIFICATIE, "63"), token, "63")
    assert result.failure is None, result.failure
    search, *reads = result.queries
    assert unmet(counted(search.resources), expected) == {}
    assert len(reads) == medications
    assert all(counted(read.resources) == Counter({"Medication": 1}) for read in reads)


# -- medmij fetch, the engine's command line, on the same server -----------------------------


def fetch_command(running: Running, dienst: str, token: str, *extra: str) -> Result:
    dev_pki = running.pki
    leaf = dev_pki.leaf(PGO)
    return CliRunner().invoke(
        app,
        [
            "fetch", "--server", running.base(ZIEKENHUIS, dienst), "--token", token,
            "--gegevensdienst", dienst, "--ca", str(dev_pki.root_cert), "--cert", str(leaf.cert),
            "--key", str(leaf.key), "--resolve", f"{RESOURCE}=127.0.0.1", *extra,
        ],
        prog_name="medmij",
        env={"COLUMNS": "200"},
    )  # fmt: skip


def test_medmij_fetch_shows_each_query_over_mutual_tls(tiny_server: Running) -> None:
    result = fetch_command(tiny_server, "48", f"Bearer {tiny.TOKEN_A_48}")
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    [patient] = [line for line in lines if line.startswith("│ Patient ")]
    assert "│  200 │ Patient 1, Practitioner 1" in patient
    assert patient.rstrip().endswith("│ ok     │")
    # A's eleven resources but the older body weight, which $lastn leaves out.
    assert lines[-1] == (
        "28 queries: 28 succeeded, 0 failed; 10 resources (Condition 1, Encounter 1, "
        "Immunization 1, Medication 1, MedicationStatement 1, Observation 2, Patient 1, "
        "Practitioner 1, Specimen 1)"
    )


def test_medmij_fetch_exits_1_naming_why_a_query_failed(tiny_server: Running) -> None:
    table = fetch_command(tiny_server, "63", tiny.TOKEN_A_48)  # a BgZ token at Vaccinaties
    assert table.exit_code == 1
    assert "resource-fout: HTTP 403 insufficient_scope" in table.stdout
    assert table.stdout.splitlines()[-1] == "1 queries: 0 succeeded, 1 failed; 0 resources (none)"
    as_json = fetch_command(tiny_server, "63", tiny.TOKEN_A_48, "--json")
    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)
    assert (report["gegevensdienst"], report["succeeded"], report["failed"]) == ("63", 0, 1)
    [query] = report["queries"]
    assert (query["name"], query["status"], query["failure"]) == (
        "Vaccination",
        403,
        "resource-fout",
    )
    assert query["detail"].startswith("HTTP 403 insufficient_scope")
