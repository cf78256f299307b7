"""Everything the resource server serves from the world's own data, read the way a PGO would.

The server starts as ``medmij up`` starts it (datasets from the settings: synthetic records
for the sharing zorgaanbieders, the Nictiz patients for the qualification zorgaanbieder when
the material is there). A crawl then asks every gegevensdienst query for every person, in
JSON and XML, and reads every resource the answers hold. On what came back:

* every Bundle passes the generic qualification asserts (docs/qualification.md#generic-asserts);
* the beschikbaarheidstoets agrees with the world on who has data where;
* and, as the last line of defence, no served body anywhere holds a BSN of any person.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle as BundleR4
from fhir.resources.STU3.bundle import Bundle as BundleSTU3
from lxml import etree

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.dva_contract import AVAILABILITY_PATH
from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.runtime.net import make_client
from medmij_stack.wiring.publication import publication
from medmij_stack.wiring.world import World
from medmij_stack.zorgaanbieder.dataset import Dataset, EndpointKey
from medmij_stack.zorgaanbieder.provisioning import datasets_for

from .authserver_fake import FakeAuthserver
from .conftest import AUTHSERVER, NICTIZ, RESOURCE, Running, Start, nictiz_unusable
from .qualification import generic_failures, params_missing_from_self_link


@dataclass
class Answer:
    url: str
    fmt: str
    status: int
    content: bytes
    endpoint: EndpointKey
    kind: str  # "search", "read" or "metadata"

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.content)
        return body


@dataclass
class Crawl:
    running: Running
    datasets: list[Dataset]
    answers: list[Answer] = field(default_factory=list)

    def bundles(self, endpoint: EndpointKey | None = None) -> Iterator[Answer]:
        for answer in self.answers:
            wanted = endpoint is None or answer.endpoint == endpoint
            if answer.kind == "search" and answer.fmt == "json" and wanted:
                yield answer


def _encoded(path: str) -> str:
    resource, _, query = path.partition("?")
    if not query:
        return resource
    pairs = (part.partition("=") for part in query.split("&"))
    return f"{resource}?" + "&".join(f"{n}={quote(v, safe=':/')}" for n, _, v in pairs)


def _crawl_one(crawl: Crawl, client: httpx.Client, endpoint: EndpointKey, token: str) -> None:
    base = crawl.running.base(endpoint.zorgaanbieder, endpoint.gegevensdienst)
    headers = {"Authorization": f"Bearer {token}"}
    urls: dict[str, None] = {}
    for query in catalogue.get(endpoint.gegevensdienst).queries:
        url = f"{base}/{_encoded(query.path)}"
        for fmt in ("json", "xml"):
            response = client.get(url, headers=headers | {"Accept": f"application/fhir+{fmt}"})
            crawl.answers.append(
                Answer(url, fmt, response.status_code, response.content, endpoint, "search")
            )
            if fmt == "json" and response.status_code == 200:
                urls.update(dict.fromkeys(e["fullUrl"] for e in response.json().get("entry", [])))
    for url in urls:
        for fmt in ("json", "xml"):
            response = client.get(url, headers=headers | {"Accept": f"application/fhir+{fmt}"})
            crawl.answers.append(
                Answer(url, fmt, response.status_code, response.content, endpoint, "read")
            )


@pytest.fixture(scope="module")
def crawl(
    start_resource_server: Start, fake_authserver: FakeAuthserver, world: World
) -> Iterator[Crawl]:
    nictiz = NICTIZ if nictiz_unusable() is None else None
    with (
        start_resource_server(introspection_url=fake_authserver.url, nictiz=nictiz) as running,
        running.client() as client,
    ):
        # What the server loaded, recomputed from its own settings (pure: same datasets).
        result = Crawl(running, datasets_for(running.settings))
        where = world.person_zorgaanbieders()
        for dataset in result.datasets:
            endpoint = dataset.endpoint
            base = running.base(endpoint.zorgaanbieder, endpoint.gegevensdienst)
            for fmt in ("json", "xml"):
                response = client.get(
                    f"{base}/metadata", headers={"Accept": f"application/fhir+{fmt}"}
                )
                result.answers.append(
                    Answer(
                        f"{base}/metadata",
                        fmt,
                        response.status_code,
                        response.content,
                        endpoint,
                        "metadata",
                    )
                )
            if dataset.tokens:
                for qualification in dataset.tokens:
                    _crawl_one(result, client, endpoint, qualification.token)
                continue
            for person in world.persons_list():
                if endpoint.zorgaanbieder not in where.get(person.bsn, ()):
                    continue
                token = f"crawl-{uuid.uuid4()}"
                fake_authserver.grant(
                    token, person.bsn, endpoint.zorgaanbieder, (endpoint.gegevensdienst,)
                )
                _crawl_one(result, client, endpoint, token)
        yield result


def _canonical(value: Any) -> Any:
    """JSON with every narrative ``div`` in canonical XML: a character written as a
    reference (``&#235;``) in one representation and as itself in the other is the same."""
    if isinstance(value, dict):
        return {
            key: etree.tostring(etree.fromstring(item), method="c14n")
            if key == "div" and isinstance(item, str)
            else _canonical(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def _version(endpoint: EndpointKey) -> FhirVersion:
    return FhirVersion.STU3 if endpoint.gegevensdienst == "48" else FhirVersion.R4


def test_the_crawl_covered_every_served_endpoint_and_got_only_200s(crawl: Crawl) -> None:
    served = {d.endpoint for d in crawl.datasets}
    assert {EndpointKey("ziekenhuis@medmij", "48"), EndpointKey("ggd@medmij", "63")} <= served
    assert {a.endpoint for a in crawl.answers} == served
    assert all(a.status == 200 for a in crawl.answers), [
        (a.url, a.status) for a in crawl.answers if a.status != 200
    ][:5]
    assert sum(a.kind == "read" for a in crawl.answers) > 100


def test_every_bundle_passes_the_generic_qualification_asserts(crawl: Crawl) -> None:
    failures = []
    for answer in crawl.bundles():
        bundle = answer.json()
        failed = generic_failures(bundle, _version(answer.endpoint))
        failed += params_missing_from_self_link(answer.url, bundle)
        matches = [e for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
        if bundle["total"] != len(matches):
            failed.append("total")
        if failed:
            failures.append((answer.url, failed))
    assert failures == []


def _nictiz_endpoints(crawl: Crawl) -> set[EndpointKey]:
    """The endpoints serving the Nictiz patients (datasets with qualification tokens)."""
    return {d.endpoint for d in crawl.datasets if d.tokens}


@pytest.mark.parametrize("source", ["synthetic", "nictiz"])
def test_the_xml_answers_say_what_the_json_answers_say(crawl: Crawl, source: str) -> None:
    if source == "nictiz" and (unusable := nictiz_unusable()) is not None:
        pytest.skip(unusable)
    nictiz = _nictiz_endpoints(crawl)
    endpoints = {
        d.endpoint for d in crawl.datasets if (d.endpoint in nictiz) == (source == "nictiz")
    }
    assert endpoints, f"no endpoint with {source} data was crawled"
    by_url = {
        (a.url, a.fmt): a for a in crawl.answers if a.kind == "search" and a.endpoint in endpoints
    }
    checked = 0
    for (url, fmt), answer in by_url.items():
        if fmt != "xml":
            continue
        model = BundleSTU3 if answer.endpoint.gegevensdienst == "48" else BundleR4
        from_xml = json.loads(model.model_validate_xml(answer.content).model_dump_json())
        assert _canonical(from_xml) == _canonical(by_url[(url, "json")].json()), url
        checked += 1
    # Every query of each endpoint's gegevensdienst (one URL each, whoever asked it) was
    # compared: 30 for the synthetic records of this world, 29 for the Nictiz patients.
    assert checked == sum(len(catalogue.get(e.gegevensdienst).queries) for e in endpoints)


def test_the_demo_person_has_every_bgz_section(crawl: Crawl, world: World) -> None:
    # The world's first person is known everywhere and gets every section: a demo login
    # that shows something for each of the 28 queries.
    endpoint = EndpointKey("ziekenhuis@medmij", "48")
    first = list(crawl.bundles(endpoint))[: len(catalogue.get("48").queries)]
    empty = [a.url for a in first if a.json()["total"] == 0]
    assert empty == []


def test_availability_agrees_with_the_world_on_who_has_data_where(
    crawl: Crawl, world: World
) -> None:
    where = world.person_zorgaanbieders()
    running = crawl.running
    with make_client(
        trust=[running.pki.root_cert],
        cert=running.pki.leaf(AUTHSERVER),
        hosts={RESOURCE: "127.0.0.1"},
    ) as client:
        for person in world.persons_list():
            for za in world.ours()[0].zorgaanbieder:
                answer = client.post(
                    f"{running.url}{AVAILABILITY_PATH}",
                    json={
                        "zorgaanbieder": za.naam,
                        "bsn": person.bsn,
                        "gegevensdiensten": list(za.gegevensdiensten),
                    },
                ).json()["beschikbaar"]
                if za.naam in where[person.bsn]:
                    assert answer, (person.bsn, za.naam)
                    assert set(answer) <= set(za.gegevensdiensten)
                else:
                    assert answer == [], (person.bsn, za.naam)


def test_no_served_body_holds_a_bsn(crawl: Crawl, world: World) -> None:
    bsns = {p.bsn for p in world.persons_list()}
    bsns |= {p.bsn for d in crawl.datasets for p in d.patients if p.bsn is not None}
    assert len(bsns) >= len(world.persons_list())
    leaks = [
        (answer.url, answer.fmt, bsn)
        for answer in crawl.answers
        for bsn in bsns
        if bsn.encode() in answer.content
    ]
    assert leaks == []


@pytest.mark.skipif(nictiz_unusable() is not None, reason=str(nictiz_unusable()))
def test_the_nictiz_patients_were_crawled_too(crawl: Crawl) -> None:
    nictiz = {d.endpoint for d in crawl.datasets if d.tokens}
    assert nictiz == {
        EndpointKey("kwalificatie@medmij", "48"),
        EndpointKey("kwalificatie@medmij", "63"),
    }
    assert any(p.bsn for d in crawl.datasets if d.tokens for p in d.patients)
    assert {a.endpoint for a in crawl.answers if a.kind == "read"} >= nictiz


def test_every_resource_endpoint_of_the_zal_is_answered_here(crawl: Crawl, world: World) -> None:
    # The ZAL the Stelselnode publishes for this world names the FHIR bases; the server,
    # listening elsewhere in this test, answers each of those paths.
    running = crawl.running
    zal = publication(world).zal
    ours = {za.naam for za in world.ours()[0].zorgaanbieder}
    paths = [
        urlsplit(rol.resource_endpoint).path
        for za in zal.zorgaanbieders
        if za.naam in ours
        for versie in za.interfaceversies
        for dienst in versie.gegevensdiensten
        for rol in dienst.systeemrollen
    ]
    assert len(paths) == sum(len(za.gegevensdiensten) for za in world.ours()[0].zorgaanbieder)
    with running.client() as client:
        for path in paths:
            response = client.get(f"{running.url}{path}/metadata")
            assert response.status_code == 200, path
            assert response.json()["implementation"]["url"] == f"{running.url}{path}"
