"""The PGO qualifies: Nictiz's PHR-Client scripts judge the requests of our retrieval engine.

As in Nictiz's qualification (docs/qualification.md#runner-semantics and #tokens), the PGO
is pointed at a FHIR base with the fixed token of each scenario's patient: ``medmij
qualify-client`` plays that base (the test simulator, serving the Nictiz fixtures and
recording every request), and ``medmij fetch`` runs the PGO's retrieval engine against it
once per scenario. Each scenario's token is read from its script, as a tester reads it from
the script. Every PHR-Client test of BgZ (Cert) and Vaccinaties (Cert and Test) must pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from lxml import etree
from typer.testing import CliRunner, Result

from medmij_stack.runtime.devpki import ensure_dev_pki
from medmij_stack.runtime.net import make_client
from medmij_stack.testscript import Role, TestScript, discover, read_testscript
from medmij_stack.testscript.model import Operation
from medmij_stack.wiring.cli import app
from tests.qualify_process import free_port, qualify_client, wait_until_up

PROJECT = Path(__file__).resolve().parents[2]


class ScriptSet(NamedTuple):
    folder: str
    gegevensdienst: str
    base_path: str
    """Where ``qualify-client`` serves the set's FHIR release."""


SETS = {
    "bgz-cert": ScriptSet("output/STU3/BgZ-3-0/MedMij/Cert/PHR-Client", "48", "/stu3"),
    "vaccinaties-cert": ScriptSet("output/R4/Immunization-2-0/MedMij/Cert/PHR-Client", "63", "/r4"),
    "vaccinaties-test": ScriptSet("output/R4/Immunization-2-0/MedMij/Test/PHR-Client", "63", "/r4"),
}


@pytest.fixture(scope="module")
def nictiz(shared_data: Path) -> Path:
    folder = shared_data / "nictiz-testscripts"
    if not (folder / "output").is_dir():
        pytest.skip(f"Nictiz TestScripts not found at {folder}")
    return folder


def scripts_of(folder: Path) -> list[TestScript]:
    return [read_testscript(path) for path in discover(folder, Role.CLIENT)]


def scenario_token(script: TestScript) -> str:
    """The one Authorization value the script's requests name: its patient's token."""
    values = {
        header.value
        for test in script.tests
        for action in test.actions
        if isinstance(action, Operation)
        for header in action.request_headers
        if header.field.lower() == "authorization"
    }
    [token] = values
    return token


def fetch(*args: str) -> Result:
    return CliRunner().invoke(app, ["fetch", *args], prog_name="medmij", env={"COLUMNS": "1000"})


def last_line(output: str) -> str:
    return output.rstrip("\n").splitlines()[-1]


def fetch_scenario(
    url: str, scripts: ScriptSet, script: TestScript, *extra: str
) -> dict[str, object]:
    """One scenario's retrieval through ``medmij fetch --json``; it must succeed."""
    result = fetch(
        "--server", f"{url}{scripts.base_path}", "--token", scenario_token(script),
        "--gegevensdienst", scripts.gegevensdienst, "--json", *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    assert report["failed"] == 0
    return report


@pytest.mark.parametrize("scripts", list(SETS), ids=list(SETS))
def test_every_phr_client_test_passes_on_the_engines_requests(
    nictiz: Path, scripts: str, tmp_path: Path
) -> None:
    chosen = SETS[scripts]
    folder = nictiz / chosen.folder
    loaded = scripts_of(folder)
    expected = sum(len(script.tests) for script in loaded)
    assert expected > 0
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (
        qualify_client(
            "--scripts", str(folder), "--listen", f"127.0.0.1:{port}", "--timeout", "120",
            "--report", str(tmp_path),
        ) as process,
        httpx.Client() as probe,
    ):  # fmt: skip
        wait_until_up(probe, url)
        for script in loaded:
            report = fetch_scenario(url, chosen, script)
            assert report["queries"]
        output, _ = process.communicate(timeout=180)
    assert process.returncode == 0, output[-4000:]
    assert "expected request(s) did not arrive" not in output
    assert last_line(output) == f"{expected} passed, 0 failed"
    junit = etree.parse(str(tmp_path / "junit.xml")).getroot()
    assert (junit.get("tests"), junit.get("failures")) == (str(expected), "0")


def test_a_scenario_the_pgo_never_fetched_fails(nictiz: Path) -> None:
    """The passes above come from the engine's requests: leave one scenario out, and its
    test fails with the request it lacked."""
    chosen = SETS["vaccinaties-cert"]
    folder = nictiz / chosen.folder
    first, second = scripts_of(folder)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (
        qualify_client(
            "--scripts", str(folder), "--listen", f"127.0.0.1:{port}", "--timeout", "5",
        ) as process,
        httpx.Client() as probe,
    ):  # fmt: skip
        wait_until_up(probe, url)
        fetch_scenario(url, chosen, first)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 1, output
    assert f"{second.label}: GET Immunization" in output
    assert "the client sent no request GET Immunization" in output
    assert last_line(output) == "1 passed, 1 failed"


def test_fetch_reaches_the_simulator_over_https_with_the_dev_pki(
    nictiz: Path, tmp_path: Path
) -> None:
    """--ca, --resolve, --cert and --key of ``medmij fetch``, on the Vaccinaties Test set."""
    pki = ensure_dev_pki(tmp_path / "pki", ["qualify.localhost", "pgo.qualify.localhost"])
    server, client = pki.leaf("qualify.localhost"), pki.leaf("pgo.qualify.localhost")
    chosen = SETS["vaccinaties-test"]
    folder = nictiz / chosen.folder
    loaded = scripts_of(folder)
    port = free_port()
    url = f"https://qualify.localhost:{port}"
    tls = [
        "--ca", str(pki.root_cert), "--resolve", "qualify.localhost=127.0.0.1",
        "--cert", str(client.cert), "--key", str(client.key),
    ]  # fmt: skip
    hosts = {"qualify.localhost": "127.0.0.1"}
    with (
        qualify_client(
            "--scripts", str(folder), "--listen", f"127.0.0.1:{port}", "--timeout", "120",
            "--tls-cert", str(server.cert), "--tls-key", str(server.key),
        ) as process,
        make_client(trust=[pki.root_cert], hosts=hosts) as probe,
    ):  # fmt: skip
        wait_until_up(probe, url)
        # Without the dev root the simulator's certificate is not trusted: no request counts.
        untrusted = fetch(
            "--server", f"{url}/r4", "--token", scenario_token(loaded[0]),
            "--gegevensdienst", "63", "--resolve", "qualify.localhost=127.0.0.1",
        )  # fmt: skip
        assert untrusted.exit_code == 2
        assert "--cert and --resolve need --ca" in untrusted.stderr
        for script in loaded:
            fetch_scenario(url, chosen, script, *tls)
        output, _ = process.communicate(timeout=180)
    assert process.returncode == 0, output[-4000:]
    assert last_line(output) == f"{sum(len(s.tests) for s in loaded)} passed, 0 failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gegevensdienst", "99"], "--gegevensdienst '99' has no queries to run (choose 48, 63)"),
        (["--gegevensdienst", "49"], "--gegevensdienst '49' has no queries to run (choose 48, 63)"),
        (["--server", "ftp://fhir.test/fhir"], "--server needs an http(s) URL"),
        (["--token", "Bearer a b"], "access_token is not an RFC 6750 bearer token"),
        (["--cert", "pgo.pem"], "--cert and --key go together"),
        (["--resolve", "fhir.test=127.0.0.1"], "--cert and --resolve need --ca"),
        (["--resolve", "fhir.test"], "--resolve needs HOST=ADDRESS"),
        (["--correlation-id", "flow-1"], "--correlation-id is not a UUID"),
        (["--timeout", "0"], "--timeout and --max-bytes must be positive"),
    ],
)
def test_fetch_refuses_wrong_usage_plainly(args: list[str], message: str) -> None:
    """Exit 2 and one line saying what is wrong, before any request is made."""
    defaults = {"--server": "http://127.0.0.1:9/fhir", "--token": "abc", "--gegevensdienst": "48"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    result = fetch(*(item for pair in (defaults | given).items() for item in pair))
    assert result.exit_code == 2, result.stdout
    said = " ".join(result.stderr.split())
    assert message in said
    assert "Traceback" not in result.stdout + result.stderr
