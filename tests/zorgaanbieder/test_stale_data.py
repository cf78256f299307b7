"""A restarted resource server serves what the current world and options say, and nothing
an earlier run left in its database.

Each test starts a resource server twice on one SQLite file, as ``medmij up`` does with
one data folder: once with the Nictiz qualification material, once with another world or
without the material. Whatever the first run loaded and the second does not serve must
be gone over HTTP: the fixed tokens, the patients behind a DigiD-flow token, the
beschikbaarheidstoets.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.dva_contract import AVAILABILITY_PATH
from medmij_stack.runtime.net import make_client
from medmij_stack.zorgaanbieder.dataset import Dataset, EndpointKey
from medmij_stack.zorgaanbieder.sources.nictiz import load_nictiz

from .authserver_fake import FakeAuthserver
from .conftest import AUTHSERVER, RESOURCE, Running, Start

ZA = "kwalificatie@medmij"


@pytest.fixture(autouse=True)
def no_nictiz_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDMIJ_NICTIZ", raising=False)


@pytest.fixture(scope="module")
def nictiz(nictiz_root: Path) -> tuple[Dataset, ...]:
    """What the qualification zorgaanbieder serves: to know its tokens and BSNs."""
    return load_nictiz(nictiz_root, ZA)


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'zorgaanbieder.sqlite3'}"


@pytest.fixture
def flow_token(fake_authserver: FakeAuthserver, nictiz: tuple[Dataset, ...]) -> Iterator[str]:
    """A DigiD-flow token for a Nictiz BgZ patient (they have BSNs), at the qualification
    zorgaanbieder."""
    [bgz] = [d for d in nictiz if d.endpoint.gegevensdienst == "48"]
    bsn = next(p.bsn for p in bgz.patients if p.bsn is not None)
    token = f"flow-{uuid.uuid4()}"
    fake_authserver.grant(token, bsn, ZA, ("48",))
    yield token
    fake_authserver.tokens.pop(token, None)


def fixed_tokens(nictiz: tuple[Dataset, ...]) -> list[tuple[EndpointKey, str]]:
    return [(d.endpoint, t.token) for d in nictiz for t in d.tokens]


def patients(
    client: httpx.Client, running: Running, endpoint: EndpointKey, token: str
) -> httpx.Response:
    """The gegevensdienst's first catalogue query: its Bundle holds the patient."""
    query = catalogue.get(endpoint.gegevensdienst).queries[0].path
    return client.get(
        f"{running.base(endpoint.zorgaanbieder, endpoint.gegevensdienst)}/{query}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"},
    )


def patient_ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    entries = response.json().get("entry", [])
    return [e["resource"]["id"] for e in entries if e["resource"]["resourceType"] == "Patient"]


def beschikbaar(running: Running, zorgaanbieder: str, bsn: str) -> Any:
    with make_client(
        trust=[running.pki.root_cert],
        cert=running.pki.leaf(AUTHSERVER),
        hosts={RESOURCE: "127.0.0.1"},
    ) as client:
        response = client.post(
            f"{running.url}{AVAILABILITY_PATH}",
            json={"zorgaanbieder": zorgaanbieder, "bsn": bsn, "gegevensdiensten": ["48", "63"]},
        )
    assert response.status_code == 200, response.text
    return response.json()["beschikbaar"]


def test_a_restart_without_the_nictiz_material_serves_no_nictiz_patient(
    start_resource_server: Start,
    fake_authserver: FakeAuthserver,
    nictiz_root: Path,
    nictiz: tuple[Dataset, ...],
    database: str,
    flow_token: str,
) -> None:
    bsn = fake_authserver.tokens[flow_token].bsn
    assert bsn is not None
    tokens = fixed_tokens(nictiz)
    assert {endpoint.gegevensdienst for endpoint, _ in tokens} == {"48", "63"}
    options = {"database_url": database, "introspection_url": fake_authserver.url}

    with (
        start_resource_server(nictiz=nictiz_root, **options) as running,
        running.client() as client,
    ):
        for endpoint, token in tokens:
            assert len(patient_ids(patients(client, running, endpoint, token))) == 1
        assert len(patient_ids(patients(client, running, EndpointKey(ZA, "48"), flow_token))) == 1
        assert beschikbaar(running, ZA, bsn) == ["48"]

    with start_resource_server(**options) as running, running.client() as client:
        assert running.settings.nictiz is None
        for endpoint, token in tokens:
            response = patients(client, running, endpoint, token)
            assert response.status_code == 401, (endpoint, response.text)
            assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
            assert response.json()["resourceType"] == "OperationOutcome"
        # The DigiD flow still opens the zorgaanbieder, but no Nictiz patient is behind it.
        assert patient_ids(patients(client, running, EndpointKey(ZA, "48"), flow_token)) == []
        assert beschikbaar(running, ZA, bsn) == []
        # The world's own synthetic data is still served.
        served = running.server.records().endpoints()
        assert [e for e in served if e.zorgaanbieder == ZA] == []
        assert EndpointKey("ziekenhuis@medmij", "48") in served


def test_a_zorgaanbieder_left_out_of_the_world_leaves_no_data_behind(
    start_resource_server: Start,
    fake_authserver: FakeAuthserver,
    nictiz_root: Path,
    nictiz: tuple[Dataset, ...],
    database: str,
) -> None:
    options = {"database_url": database, "introspection_url": fake_authserver.url}
    with start_resource_server(nictiz=nictiz_root, **options) as running:
        settings = running.settings
        assert {e.zorgaanbieder for e in running.server.records().endpoints()} == {
            "ziekenhuis@medmij",
            "ggd@medmij",
            ZA,
        }

    # The next world has no GGD, and serves the Nictiz patients under another name. The
    # fixed tokens are bound to one endpoint only: they load at the new name only because
    # the old one is gone.
    renamed = "nictiz@medmij"
    zorgaanbieders = [
        za.model_copy(update={"naam": renamed}) if za.naam == ZA else za
        for za in settings.zorgaanbieders
        if za.naam != "ggd@medmij"
    ]
    sharing = tuple(n for n in settings.sharing_zorgaanbieders if n != "ggd@medmij")
    with (
        start_resource_server(
            nictiz=nictiz_root,
            zorgaanbieders=zorgaanbieders,
            sharing_zorgaanbieders=sharing,
            **options,
        ) as running,
        running.client() as client,
    ):
        served = running.server.records().endpoints()
        assert {e.zorgaanbieder for e in served} == {"ziekenhuis@medmij", renamed}
        for endpoint, token in fixed_tokens(nictiz):
            moved = EndpointKey(renamed, endpoint.gegevensdienst)
            assert len(patient_ids(patients(client, running, moved, token))) == 1
            # The old FHIR bases are not there any more.
            assert patients(client, running, endpoint, token).status_code == 404
        gone = client.get(f"{running.base('ggd@medmij', '63')}/metadata")
        assert gone.status_code == 404
