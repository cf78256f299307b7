"""`medmij demo` against a real `medmij up` (one per session, tests/wiring/conftest.py).

What the demo reports as fetched is compared with what the resource server hands out for
the same person, fetched independently: a token from the DVA (the person's consent in
the DVA's screens, the code exchanged with the PGO's certificate) and the PGO's
retrieval engine, ``medmij_stack.pgo.retrieval.retrieve_service``, on the resource
endpoint the ZAL names. The PGO's pages play no part in that second fetch.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from typer.testing import CliRunner, Result

from medmij_stack.pgo.retrieval import retrieve_service
from medmij_stack.protocol import catalogue
from medmij_stack.protocol.funnel import system_clock
from medmij_stack.protocol.headers import new_id
from medmij_stack.protocol.lists import Zorgaanbiederslijst
from medmij_stack.runtime.devpki import LeafFiles
from medmij_stack.runtime.net import make_async_client
from medmij_stack.wiring.cli import app
from tests.authserver.browser import Browser, callback_params
from tests.e2e.conftest import RunningStack, read_zal
from tests.e2e.flow import stack_client


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["demo", *args], prog_name="medmij", env={"COLUMNS": "200"})


def said(result: Result) -> str:
    return " ".join((result.stdout + result.stderr).split())


# --- without a running stack -------------------------------------------------------------------


def test_a_data_dir_without_a_stack_is_refused_with_exit_2(tmp_path: Path) -> None:
    result = run("--data-dir", str(tmp_path))
    assert result.exit_code == 2
    assert f"no running stack at {tmp_path.resolve()}" in said(result)
    assert "medmij up --data-dir" in said(result)


def test_an_unreadable_stack_json_is_refused_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "stack.json").write_text("{not json", "utf-8")
    result = run("--data-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "cannot be read" in said(result)


# --- against the running stack -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.e2e
def test_a_stack_json_left_behind_is_not_a_running_stack(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    stale = dict(running_stack.info)
    stale["pgo"] = f"https://pgo.localhost:{_free_port()}"
    (tmp_path / "stack.json").write_text(json.dumps(stale), "utf-8")
    result = run("--data-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "is not a running stack" in said(result)
    assert stale["pgo"] in said(result)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("option", "value", "complaint"),
    [
        ("--bsn", "000000000", "is not a DigiD test person of this stack"),
        ("--zorgaanbieder", "bestaat-niet@medmij", "found none, not one match"),
    ],
)
def test_a_person_or_zorgaanbieder_the_stack_does_not_know_is_refused(
    running_stack: RunningStack, option: str, value: str, complaint: str
) -> None:
    result = run("--data-dir", str(running_stack.data_dir), option, value)
    assert result.exit_code == 2
    assert complaint in said(result)


def _token(stack: RunningStack, zal: Zorgaanbiederslijst, naam: str, bsn: str) -> str:
    """An access token for all of ``naam`` that ``bsn`` consented to in the DVA's screens."""
    entry = zal.get(naam)
    assert entry is not None
    dienst = entry.gegevensdienst(min(entry.gegevensdienst_ids))
    assert dienst is not None
    assert dienst.authorization_endpoint is not None
    assert dienst.token_endpoint is not None
    pgo = stack.info["pgo_client_cert"]
    redirect_uri = stack.info["pgo"] + "/medmij/terug"
    query = {
        "response_type": "code",
        "client_id": pgo["hostname"],
        "redirect_uri": redirect_uri,
        "scope": naam.removesuffix("@medmij"),
        "state": "demo-test-" + new_id(),
        "MedMij-Request-ID": new_id(),
        "X-Correlation-ID": new_id(),
    }
    parts = urlsplit(dienst.authorization_endpoint)
    with Browser(stack_client(stack), f"{parts.scheme}://{parts.netloc}") as person:
        end = person.journey(f"{dienst.authorization_endpoint}?{urlencode(query)}", bsn=bsn)
    assert end.url.startswith(redirect_uri + "?"), end.response.text
    code = callback_params(end.url)["code"]
    leaf = LeafFiles(cert=Path(pgo["cert"]), key=Path(pgo["key"]))
    with stack_client(stack, leaf) as client:
        response = client.post(
            dienst.token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": pgo["hostname"],
            },
            headers={"MedMij-Request-ID": new_id(), "X-Correlation-ID": new_id()},
        )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _served(stack: RunningStack, naam: str, bsn: str) -> dict[str, dict[str, int]]:
    """Per gegevensdienst of ``naam``: resource type → count, as the resource server serves
    them to the retrieval engine with a token of the person's own."""
    zal = read_zal(stack)
    token = _token(stack, zal, naam, bsn)
    entry = zal.get(naam)
    assert entry is not None
    pgo = stack.info["pgo_client_cert"]
    leaf = LeafFiles(cert=Path(pgo["cert"]), key=Path(pgo["key"]))

    async def fetch_all() -> dict[str, dict[str, int]]:
        counts = {}
        async with make_async_client(trust=[stack.ca], cert=leaf, hosts=stack.hosts) as client:
            for identifier in sorted(entry.gegevensdienst_ids):
                dienst = entry.gegevensdienst(identifier)
                assert dienst is not None
                result = await retrieve_service(
                    client,
                    dienst.systeemrollen[0].resource_endpoint,
                    token,
                    catalogue.get(identifier),
                    correlation_id=new_id(),
                    clock=system_clock,
                )
                assert result.failure is None, result.failure
                counts[identifier] = dict(Counter(str(r["resourceType"]) for r in result.resources))
        return counts

    return asyncio.run(fetch_all())


@pytest.fixture(scope="module")
def default_demo(running_stack: RunningStack) -> dict[str, Any]:
    result = run("--data-dir", str(running_stack.data_dir), "--json")
    assert result.exit_code == 0, said(result)
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


@pytest.mark.e2e
def test_the_demo_fetches_what_the_resource_server_holds_for_the_first_person(
    running_stack: RunningStack, default_demo: dict[str, Any]
) -> None:
    person = running_stack.info["digid_test_persons"][0]
    assert default_demo["person"]["bsn"] == person["bsn"]
    assert default_demo["ok"] is True
    fetched = default_demo["zorgaanbieders"]
    assert [z["zorgaanbieder"] for z in fetched] == person["zorgaanbieders"]
    for found in fetched:
        assert found["expected"] == "gegevens"
        assert found["as_expected"] is True
        assert (found["outcome"], found["reason"]) == ("succes", None)
        assert found["message"]["title"] == "Je gegevens zijn opgehaald"
        assert set(found["seconds"]) >= {"search", "authorize", "digid", "consent", "callback"}
        served = _served(running_stack, found["zorgaanbieder"], person["bsn"])
        reported = {g["id"]: g["resources"] for g in found["gegevensdiensten"]}
        assert reported == served
        assert all(sum(counts.values()) > 0 for counts in reported.values())


@pytest.mark.e2e
def test_the_demo_table_shows_each_gegevensdienst_with_its_counts(
    running_stack: RunningStack, default_demo: dict[str, Any]
) -> None:
    # After the JSON run: the same person again, now as a table.
    result = run("--data-dir", str(running_stack.data_dir))
    assert result.exit_code == 0, said(result)
    text = said(result)
    person = running_stack.info["digid_test_persons"][0]
    assert person["name"] in text
    for found in default_demo["zorgaanbieders"]:
        assert found["naam"] in text
        assert found["gegevensdiensten"]
        for service in found["gegevensdiensten"]:
            first = next(iter(service["resources"]))
            assert f"{first} {service['resources'][first]}" in text
    assert f"{len(default_demo['zorgaanbieders'])} as expected, 0 not" in text


@pytest.mark.e2e
def test_the_huisarts_that_shares_nothing_is_an_expected_refusal(
    running_stack: RunningStack,
) -> None:
    result = run(
        "--data-dir",
        str(running_stack.data_dir),
        "--zorgaanbieder",
        "huisartsdemo@medmij",
        "--json",
    )
    assert result.exit_code == 0, said(result)
    (found,) = json.loads(result.stdout)["zorgaanbieders"]
    assert found["zorgaanbieder"] == "huisartsdemo@medmij"
    assert found["expected"] == "geen-gegevens"
    # An AS 2.x DVA answers "no data" exactly as a refused consent (the PGO may not tell
    # them apart), so the PGO records the one reason it can know.
    assert (found["outcome"], found["reason"]) == ("mislukt", "toestemming-geweigerd")
    assert found["message"]["title"] == "Er zijn geen gegevens gedeeld"
    assert found["as_expected"] is True


@pytest.mark.e2e
def test_a_zorgaanbieder_without_the_person_s_data_found_by_its_name(
    running_stack: RunningStack,
) -> None:
    # A person without data at the GGD asks it by the name people know: "geen gegevens"
    # is what should happen, so the demo succeeds.
    persons = running_stack.info["digid_test_persons"]
    outsider = next(p for p in persons if "ggddemo@medmij" not in p["zorgaanbieders"])
    result = run(
        "--data-dir",
        str(running_stack.data_dir),
        "--bsn",
        outsider["bsn"],
        "--zorgaanbieder",
        "GGD Demoregio",
        "--json",
    )
    assert result.exit_code == 0, said(result)
    (found,) = json.loads(result.stdout)["zorgaanbieders"]
    assert (found["zorgaanbieder"], found["expected"]) == ("ggddemo@medmij", "geen-gegevens")
    assert found["reason"] == "toestemming-geweigerd"


@pytest.mark.e2e
def test_a_retrieval_that_should_succeed_but_does_not_fails_the_demo(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    # The same running stack, but a stack.json that claims the first person has data at
    # the huisarts that shares nothing: the "geen gegevens" that follows is now a failure.
    claimed = json.loads(json.dumps(running_stack.info))
    claimed["digid_test_persons"][0]["zorgaanbieders"] = ["huisartsdemo@medmij"]
    (tmp_path / "stack.json").write_text(json.dumps(claimed), "utf-8")
    result = run("--data-dir", str(tmp_path), "--json")
    assert result.exit_code == 1, said(result)
    document = json.loads(result.stdout)
    (found,) = document["zorgaanbieders"]
    assert (found["expected"], found["reason"], found["as_expected"]) == (
        "gegevens",
        "toestemming-geweigerd",
        False,
    )
    assert document["ok"] is False
