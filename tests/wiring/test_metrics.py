"""/metrics of the running stack (tests/wiring/conftest.py): a `medmij demo` shows in the
PGO's, the authorisation server's and the resource server's counters, and no scrape names
the person."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from medmij_stack.authserver import paths
from medmij_stack.runtime.devpki import LeafFiles
from medmij_stack.wiring.cli import app
from medmij_stack.wiring.runner import WORKERS_HEADER
from tests.e2e.conftest import RunningStack, read_zal
from tests.e2e.flow import ZORGAANBIEDER, stack_client

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    found: Samples = {}
    for line in text.splitlines():
        matched = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if line.startswith("#") or matched is None:
            continue
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', matched.group(2) or ""))
        found[(matched.group(1), labels)] = float(matched.group(3))
    return found


def scrape_all(stack: RunningStack) -> dict[str, str]:
    """Every service's /metrics, without a client certificate, by role."""
    services = stack.info["services"]
    urls = {
        "pgo": next(u[0] for label, u in services.items() if label.startswith("pgo:")),
        "authserver": next(
            u[1] for label, u in services.items() if label.startswith("authserver:")
        ),
        "zorgaanbieder": next(
            u[0] for label, u in services.items() if label.startswith("zorgaanbieder:")
        ),
    }
    texts = {}
    with stack_client(stack) as client:
        for role, url in urls.items():
            response = client.get(f"{url}/metrics")
            assert response.status_code == 200, (role, response.text)
            assert response.headers["content-type"].startswith("text/plain")
            texts[role] = response.text
    return texts


def grown(before: str, after: str, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return samples(after).get(key, 0.0) - samples(before).get(key, 0.0)


def test_a_demo_shows_in_every_service_s_counters(running_stack: RunningStack) -> None:
    before = scrape_all(running_stack)
    result = CliRunner().invoke(
        app, ["demo", "--data-dir", str(running_stack.data_dir), "--json"], prog_name="medmij"
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    demo = json.loads(result.stdout)
    after = scrape_all(running_stack)
    succeeded = [z for z in demo["zorgaanbieders"] if z["outcome"] == "succes"]
    assert succeeded
    pgo_before, pgo_after = before["pgo"], after["pgo"]
    assert grown(pgo_before, pgo_after, "medmij_pgo_attempts_total", initiator="person") == len(
        demo["zorgaanbieders"]
    )
    for found in succeeded:
        for dienst in found["gegevensdiensten"]:
            assert (
                grown(
                    pgo_before,
                    pgo_after,
                    "medmij_pgo_attempt_outcomes_total",
                    outcome="succes",
                    step="geen",
                    reason="geen",
                    zorgaanbieder=found["zorgaanbieder"],
                    gegevensdienst=dienst["id"],
                )
                == 1
            )
    tokens = grown(
        before["authserver"],
        after["authserver"],
        "medmij_authserver_requests_total",
        endpoint="token",
        status="200",
    )
    assert tokens == len(succeeded)
    assert (
        grown(
            before["authserver"],
            after["authserver"],
            "medmij_authserver_request_duration_seconds_count",
            endpoint="token",
        )
        >= tokens
    )
    for found in succeeded:
        for dienst in found["gegevensdiensten"]:
            assert (
                grown(
                    before["zorgaanbieder"],
                    after["zorgaanbieder"],
                    "medmij_resource_requests_total",
                    zorgaanbieder=found["zorgaanbieder"],
                    gegevensdienst=dienst["id"],
                    status="200",
                )
                >= 1
            )
    for text in after.values():
        assert demo["person"]["bsn"] not in text
        assert demo["person"]["gebruikersnaam"] not in text
        for found in demo["zorgaanbieders"]:
            assert found["flow_id"] not in text


def _all_workers_serve(client: httpx.Client, url: str) -> int:
    """Wait (bounded) until /health says every worker of the role serves; how many."""
    for _ in range(300):
        served, _, asked = client.get(f"{url}/health").headers[WORKERS_HEADER].partition("/")
        if served == asked:
            return int(asked)
        time.sleep(0.2)
    pytest.fail(f"not every worker of {url} serves")


def _counted(text: str, name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples that carry ``labels`` (whatever else they carry)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples(text).items() if n == name and wanted <= ls)


def test_every_worker_answers_the_role_s_totals(running_stack: RunningStack) -> None:
    """The authorisation server runs two workers by default: requests over fresh connections
    land on both, and a scrape over a fresh connection, whichever worker answers it, counts
    all of them."""
    front, back = next(
        u[:2]
        for label, u in running_stack.info["services"].items()
        if label.startswith("authserver:")
    )
    with stack_client(running_stack) as client:
        assert _all_workers_serve(client, back) > 1
        before = client.get(f"{back}/metrics").text
    requests = 24
    for _ in range(requests):  # a client per request: a fresh connection, a worker each
        with stack_client(running_stack) as client:
            # No parameters: refused by the endpoint, and counted as a refusal.
            assert client.get(f"{front}{paths.AUTHORIZE}").status_code >= 400
    name = "medmij_authserver_requests_total"
    for _ in range(6):
        with stack_client(running_stack) as client:
            after = client.get(f"{back}/metrics").text
        assert (
            _counted(after, name, endpoint="authorize")
            - _counted(before, name, endpoint="authorize")
            == requests
        )


def _resource_endpoint(stack: RunningStack, dienst: str) -> str:
    """The hospital's FHIR base for ``dienst``, as the ZAL publishes it."""
    entry = read_zal(stack).get(ZORGAANBIEDER)
    assert entry is not None
    found = entry.gegevensdienst(dienst)
    assert found is not None
    return found.systeemrollen[0].resource_endpoint


def test_every_resource_server_worker_answers_the_role_s_totals(
    running_stack: RunningStack,
) -> None:
    """The resource server runs two workers by default too: requests over fresh connections
    land on both, and a scrape of either counts every one of them, by its labels."""
    (resource,) = next(
        u
        for label, u in running_stack.info["services"].items()
        if label.startswith("zorgaanbieder:")
    )
    endpoint = _resource_endpoint(running_stack, "63")
    info = running_stack.info["pgo_client_cert"]
    pgo = LeafFiles(cert=Path(info["cert"]), key=Path(info["key"]))
    with stack_client(running_stack) as client:
        assert _all_workers_serve(client, resource) > 1
        before = client.get(f"{resource}/metrics").text
    requests = 24
    for _ in range(requests):  # a client per request: a fresh connection, a worker each
        with stack_client(running_stack, pgo) as client:
            # The PGO's certificate without a bearer token: refused, and counted as such.
            assert client.get(f"{endpoint}/Immunization").status_code == 401
    name = "medmij_resource_requests_total"
    labels = {"zorgaanbieder": ZORGAANBIEDER, "gegevensdienst": "63", "status": "401"}
    for _ in range(6):  # fresh connections: scrapes answered by either worker
        with stack_client(running_stack) as client:
            after = client.get(f"{resource}/metrics").text
        assert _counted(after, name, **labels) - _counted(before, name, **labels) == requests
