"""`medmij qualify` and `medmij qualify-client` end to end, over real HTTP(S) on 127.0.0.1.

The FHIR server under test is a small Starlette app around the fixture simulator that can
be told to misbehave (drop an entry, lose the self link, show a BSN, answer 500); the
right asserts must then fail. The client side runs `qualify-client` as its own process
and plays a PGO against it.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typer.testing import CliRunner, Result

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.runtime.asgi_tls import uvicorn_config
from medmij_stack.runtime.devpki import ensure_dev_pki
from medmij_stack.runtime.net import make_client
from medmij_stack.runtime.threaded_server import listening_socket, serving_in_thread
from medmij_stack.runtime.tls import server_context
from medmij_stack.testscript.simulator import FixtureStore, Simulator, TokenRegistry
from medmij_stack.wiring.cli import app
from tests.qualify_process import free_port, qualify_client, wait_until_up

ROOT = Path(__file__).resolve().parents[1] / "testscript" / "scripts"
ENGINE = ROOT / "R4" / "Engine"
BASICS = ENGINE / "XIS-Server" / "engine-basics.xml"
PROJECT = Path(__file__).resolve().parents[2]


class FhirServer:
    """A FHIR-ish server over the simulator, with a switch to misbehave."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.mode = "ok"
        self.app = Starlette(
            routes=[Route("/{prefix}/{path:path}", self.endpoint, methods=["GET", "PUT"])]
        )

    async def endpoint(self, request: Request) -> Response:
        prefix = request.path_params["prefix"]
        version = FhirVersion.STU3 if prefix == "stu3" else FhirVersion.R4
        reply = self.simulator.handle(
            version,
            request.method,
            str(request.base_url).rstrip("/") + "/" + prefix,
            request.path_params["path"],
            list(request.query_params.multi_items()),
            list(request.headers.items()),
            str(request.url),
        )
        status, body = reply.status, reply.body
        if reply.content_type.endswith("json"):
            status, data = self.misbehave(request.path_params["path"], status, json.loads(body))
            body = json.dumps(data).encode()
        return Response(body, status_code=status, media_type=reply.content_type)

    def misbehave(self, path: str, status: int, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        bundle = data.get("resourceType") == "Bundle"
        if self.mode == "status-500" and path.startswith("Immunization"):
            return 500, {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "fatal", "code": "exception"}],
            }
        if self.mode == "drop-immunization" and bundle:
            entries = data.get("entry", [])
            first = next(
                (e for e in entries if e["resource"]["resourceType"] == "Immunization"), None
            )
            if first is not None:
                entries.remove(first)
        if self.mode == "no-self-link" and bundle:
            data.pop("link", None)
        if self.mode == "unofficial-name" and bundle:
            for entry in data.get("entry", []):
                if entry["resource"]["resourceType"] == "Patient":
                    entry["resource"]["name"][0]["use"] = "usual"
        if self.mode == "self-link-drops-include" and bundle:
            link = data["link"][0]
            link["url"] = link["url"].replace("&_include=Immunization:performer", "")
        if self.mode == "bsn" and bundle:
            for entry in data.get("entry", []):
                for identifier in entry["resource"].get("identifier", []):
                    if identifier.get("system") == "http://fhir.nl/fhir/NamingSystem/bsn":
                        identifier.pop("_value", None)
                        identifier["value"] = "999911120"
        return status, data


@contextmanager
def serving(asgi: Starlette, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    sock = listening_socket()
    port = sock.getsockname()[1]
    options: dict[str, Any] = {"lifespan": "off", "log_config": None}
    if tls is None:
        config = uvicorn.Config(asgi, host="127.0.0.1", port=port, **options)
    else:
        config = uvicorn_config(asgi, host="127.0.0.1", port=port, ssl_context=tls, **options)
    with serving_in_thread(config, sock):
        yield f"{'http' if tls is None else 'https'}://127.0.0.1:{port}"


def engine_server() -> FhirServer:
    stores = {
        FhirVersion.R4: [FixtureStore.load([ENGINE / "_reference" / "resources"], FhirVersion.R4)],
    }
    return FhirServer(
        Simulator(stores, TokenRegistry.read(ROOT / "Configuration" / "QualificationTokens.json"))
    )


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="medmij", env={"COLUMNS": "1000"})


def last_line(result: Result) -> str:
    return result.stdout.rstrip("\n").splitlines()[-1]


def test_a_correct_server_passes_and_gets_both_reports(tmp_path: Path) -> None:
    server = engine_server()
    with serving(server.app) as url:
        result = run(
            "qualify", "--server", f"{url}/r4", "--scripts", str(BASICS), "--report", str(tmp_path),
            "--var", "patient-token=Bearer engine-token-anna",
        )  # fmt: skip
    assert result.exit_code == 0, result.stdout
    assert last_line(result) == "4 passed, 0 failed"
    lines = result.stdout.splitlines()
    # Two tests passed with a profile only partly validated: PASS*, with the check under it,
    # and counted apart on the line before the last (which CI tools read, so it stays alone).
    assert (
        "PASS* engine-basics › Search immunizations  (1 check(s) not or only partly done)" in lines
    )
    assert (
        "PASS* engine-basics › Read the patient as XML  (1 check(s) not or only partly done)"
        in lines
    )
    assert "PASS  engine-basics › Content of the last response" in lines
    assert "PASS  engine-basics › Read the medication of the first immunization" in lines
    assert lines[-2] == "(2 of the passed only partly checked: marked * above)"
    starred = lines.index(
        "PASS* engine-basics › Read the patient as XML  (1 check(s) not or only partly done)"
    )
    assert lines[starred + 1].startswith(
        "      ~ Confirm that the patient conforms to the base Patient.: no errors in what was "
        "checked"
    )
    assert "not checked: 3 item(s)" in lines[starred + 1]
    junit = etree.parse(str(tmp_path / "junit.xml")).getroot()
    assert (junit.get("tests"), junit.get("failures"), junit.get("errors")) == ("4", "0", "0")
    partly = [
        case.get("name")
        for case in junit.iter("testcase")
        if case.find("properties/property[@name='checked'][@value='partly']") is not None
    ]
    assert partly == ["Search immunizations", "Read the patient as XML"]
    suite = junit.find("testsuite")
    assert suite is not None
    assert suite.find("properties/property[@name='partlyChecked']").get("value") == "2"  # type: ignore[union-attr]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"GET {url}/r4/Immunization?vaccine-code=" in page
    assert "HTTP 200" in page
    assert "geslaagd" in page
    assert page.count("geslaagd*, deels gecontroleerd</span>") == 2
    # The token given with --var is in neither report, only its first characters.
    assert "authorization: Bearer engine-t…" in page
    for text in (page, (tmp_path / "junit.xml").read_text(encoding="utf-8"), result.stdout):
        assert "engine-token-anna" not in text


@pytest.mark.parametrize(
    ("mode", "failing", "summary"),
    [
        (
            "drop-immunization",
            "✗ Confirm that the response Bundle contains 2 Immunization resource(s).: "
            "Bundle.entry.where(resource.is(Immunization)).count() = 2 → [false]",
            "2 passed, 2 failed",
        ),
        (
            "no-self-link",
            "✗ Confirm that the returned Bundle contains a self link.",
            "2 passed, 2 failed",
        ),
        (
            "bsn",
            "✗ Confirm that Bundle does not use Burgerservicenummer (BSN) anywhere.",
            "3 passed, 1 failed",
        ),
        (
            "status-500",
            "✗ Confirm that the operation was successful: HTTP status 500 (in 200,201)",
            # The last test also looks back at the search response by its id.
            "0 passed, 4 failed",
        ),
    ],
)
def test_a_misbehaving_server_fails_the_right_asserts(
    mode: str, failing: str, summary: str
) -> None:
    server = engine_server()
    server.mode = mode
    with serving(server.app) as url:
        result = run("qualify", "--server", f"{url}/r4", "--scripts", str(BASICS))
    assert result.exit_code == 1
    assert failing in result.stdout
    assert f"request: GET {url}/r4/Immunization?" in result.stdout
    assert last_line(result) == summary


def test_a_self_link_without_a_parameter_is_a_warning_naming_it() -> None:
    server = engine_server()
    server.mode = "self-link-drops-include"
    with serving(server.app) as url:
        result = run("qualify", "--server", f"{url}/r4", "--scripts", str(BASICS))
    assert result.exit_code == 0
    assert "WARN* engine-basics › Search immunizations  (1 warning(s)" in result.stdout
    assert (
        "! Confirm that the parameters in the request URL are all handled by the server, by "
        "inspecting the self link.: The requested parameter _include=Immunization:performer "
        "was absent from the self link" in result.stdout
    )
    assert last_line(result) == "4 passed, 0 failed"


def test_the_profile_folder_is_used_and_what_it_skips_is_listed() -> None:
    server = engine_server()
    profiles = ROOT.parent / "profiles"
    with serving(server.app) as url:
        good = run(
            "qualify", "--server", f"{url}/r4", "--scripts", str(BASICS),
            "--profiles", str(profiles), "--verbose",
        )  # fmt: skip
        server.mode = "unofficial-name"
        bad = run(
            "qualify", "--server", f"{url}/r4", "--scripts", str(BASICS),
            "--profiles", str(profiles),
        )  # fmt: skip
    assert good.exit_code == 0
    assert "not checked: engine-patient: invariants that use %resource: engine-2" in good.stdout
    assert bad.exit_code == 1
    assert "conforms to the base FHIR specification and the resources to the stated " in bad.stdout
    assert (
        "          error: Bundle.entry[2].resource(Patient).name[0].use: does not match the fixed "
        "value 'official'" in bad.stdout
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--server", "http://127.0.0.1:9/r4", "--scripts", "/nonexistent"], "does not exist"),
        (
            ["--server", "http://127.0.0.1:9/r4", "--scripts", str(ENGINE / "PHR-Client")],
            "no XIS-Server TestScripts",
        ),
        (["--server", "ftp://x", "--scripts", str(BASICS)], "--server needs an http(s) URL"),
        (
            ["--server", "STU3=http://127.0.0.1:9", "--scripts", str(BASICS)],
            "no --server for the R4 script",
        ),
        (
            ["--server", "http://127.0.0.1:9", "--scripts", str(BASICS), "--var", "oops"],
            "--var needs NAME=VALUE",
        ),
        (
            [
                "--server",
                "http://127.0.0.1:9",
                "--scripts",
                str(BASICS),
                "--profiles",
                "/nonexistent",
            ],
            "is not a folder of profiles",
        ),
    ],
)
def test_wrong_usage_is_refused_plainly(args: list[str], message: str) -> None:
    result = run("qualify", *args)
    assert result.exit_code == 2
    assert message in " ".join((result.stdout + result.stderr).split())
    assert "Traceback" not in result.stdout + result.stderr


def test_a_mutual_tls_server_is_reached_with_the_dev_pki(tmp_path: Path) -> None:
    """The back channel of our own stack: server certificate from the dev root, and a client
    certificate the server requires."""
    pki = ensure_dev_pki(tmp_path / "pki", ["fhir.qualify.localhost", "pgo.qualify.localhost"])
    server_leaf = pki.leaf("fhir.qualify.localhost")
    client_leaf = pki.leaf("pgo.qualify.localhost")
    tls = server_context(
        server_leaf.cert, server_leaf.key, trust=[pki.root_cert], client_certs="required"
    )
    with serving(engine_server().app, tls) as url:
        port = url.rsplit(":", 1)[1]
        base = f"https://fhir.qualify.localhost:{port}/r4"
        common = ["qualify", "--server", base, "--scripts", str(BASICS), "--ca", str(pki.root_cert)]
        resolve = ["--resolve", "fhir.qualify.localhost=127.0.0.1"]
        with_cert = run(
            *common, *resolve, "--cert", str(client_leaf.cert), "--key", str(client_leaf.key)
        )
        without_cert = run(*common, *resolve, "--timeout", "5")
    assert with_cert.exit_code == 0, with_cert.stdout
    assert last_line(with_cert) == "4 passed, 0 failed"
    assert without_cert.exit_code == 1
    assert "no response:" in without_cert.stdout


def test_a_script_whose_release_is_unknown_is_an_error_unless_told(tmp_path: Path) -> None:
    script = tmp_path / "engine-basics.xml"
    script.write_bytes(BASICS.read_bytes())
    server = engine_server()
    with serving(server.app) as url:
        unknown = run("qualify", "--server", f"{url}/r4", "--scripts", str(script))
        told = run(
            "qualify", "--server", f"{url}/r4", "--scripts", str(script), "--fhir-version", "R4"
        )
    assert unknown.exit_code == 1
    assert f"ERROR {script}: cannot tell the FHIR release" in unknown.stdout
    assert last_line(unknown) == "0 passed, 1 failed"
    assert told.exit_code == 0
    assert last_line(told) == "4 passed, 0 failed"


def test_an_unreachable_server_fails_every_test_with_the_reason() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(
        "qualify",
        "--server",
        f"http://127.0.0.1:{port}/r4",
        "--scripts",
        str(BASICS),
        "--timeout",
        "2",
    )
    assert result.exit_code == 1
    assert "no response:" in result.stdout
    assert last_line(result) == "0 passed, 4 failed"


def nictiz_server(nictiz: Path) -> FhirServer:
    stores: dict[FhirVersion, list[FixtureStore]] = {}
    for version in FhirVersion:
        for folder in sorted(
            (nictiz / "output" / version.release).glob("*/*/*/_reference/resources")
        ):
            stores.setdefault(version, []).append(FixtureStore.load([folder], version))
    tokens = TokenRegistry.read(nictiz / "Configuration" / "QualificationTokens.json")
    return FhirServer(Simulator(stores, tokens))


@pytest.fixture(scope="module")
def nictiz(shared_data: Path) -> Path:
    folder = shared_data / "nictiz-testscripts"
    tokens = folder / "Configuration" / "QualificationTokens.json"
    if not (folder / "output").is_dir() or not tokens.is_file():
        pytest.skip(f"Nictiz TestScripts not found at {folder} (output/ and {tokens.name})")
    return folder


def test_every_nictiz_xis_script_passes_against_a_server_that_serves_the_fixtures(
    nictiz: Path, fhir_profiles: Path, tmp_path: Path
) -> None:
    """The real qualification: all BgZ (STU3) and Vaccinaties (R4) XIS scripts present,
    including the CheckContent variants, with the profile folder."""
    server = nictiz_server(nictiz)
    with serving(server.app) as url:
        result = run(
            "qualify",
            "--server", f"STU3={url}/stu3",
            "--server", f"R4={url}/r4",
            "--scripts", str(nictiz / "output"),
            "--profiles", str(fhir_profiles),
            "--report", str(tmp_path),
        )  # fmt: skip
    assert result.exit_code == 0, result.stdout[-3000:]
    passed = int(last_line(result).split(" passed")[0])
    assert last_line(result) == f"{passed} passed, 0 failed"
    assert passed >= 210
    junit = etree.parse(str(tmp_path / "junit.xml")).getroot()
    assert int(junit.get("tests") or 0) == passed


def test_nictiz_scripts_catch_a_missing_immunization(nictiz: Path) -> None:
    server = nictiz_server(nictiz)
    server.mode = "drop-immunization"
    scripts = nictiz / "output" / "R4" / "Immunization-2-0" / "MedMij" / "Cert" / "XIS-Server"
    with serving(server.app) as url:
        result = run("qualify", "--server", f"{url}/r4", "--scripts", str(scripts))
    assert result.exit_code == 1
    assert (
        "FAIL  imm-serve-cert-1-1-json › Scenario 1.1 - Serve Immunization resources"
        in result.stdout
    )
    assert (
        "✗ Confirm that the response Bundle contains 2 Immunization resource(s)." in result.stdout
    )


# -- qualify-client ------------------------------------------------------------------------


def test_qualify_client_judges_a_well_behaved_pgo(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with qualify_client(
        "--scripts", str(ENGINE / "PHR-Client"), "--listen", f"127.0.0.1:{port}",
        "--timeout", "30", "--report", str(tmp_path),
    ) as process, httpx.Client() as pgo:  # fmt: skip
        wait_until_up(pgo, url)
        token = {"Authorization": "Bearer engine-token-anna", "Accept": "application/fhir+json"}
        lost = pgo.get(f"{url}/fhir/Immunization", headers=token)
        assert lost.status_code == 404
        assert lost.json()["issue"][0]["diagnostics"] == (
            f"no FHIR base here; the simulator serves {url}/stu3 or {url}/r4"
        )
        search = pgo.get(
            f"{url}/r4/Immunization", params={"_include": "Immunization:patient"}, headers=token
        )
        assert search.status_code == 200
        assert search.json()["total"] == 2
        assert pgo.get(f"{url}/r4/Medication/engine-med-1", headers=token).status_code == 200
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"FHIR base for R4 clients: {url}/r4" in output
    assert output.rstrip("\n").splitlines()[-1] == "2 passed, 0 failed"
    junit = etree.parse(str(tmp_path / "junit.xml")).getroot()
    assert junit.get("tests") == "2"


def test_qualify_client_answers_a_client_that_goes_on_after_its_last_expected_request(
    tmp_path: Path,
) -> None:
    """A PGO's last expected request is rarely its last: it follows the references of the
    search it just got. The simulator answers until the client has been quiet for
    --settle seconds, then judges without waiting for --timeout."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with qualify_client(
        "--scripts", str(ENGINE / "PHR-Client"), "--listen", f"127.0.0.1:{port}",
        "--timeout", "600", "--settle", "3",
    ) as process, httpx.Client() as pgo:  # fmt: skip
        wait_until_up(pgo, url)
        token = {"Authorization": "Bearer engine-token-anna"}
        assert pgo.get(f"{url}/r4/Immunization", headers=token).status_code == 200
        assert pgo.get(f"{url}/r4/Medication/engine-med-1", headers=token).status_code == 200
        # Every expected request is in; the client still reads, a few polls later.
        for _ in range(3):
            time.sleep(0.5)
            assert (
                pgo.get(f"{url}/r4/Patient/engine-patient-anna", headers=token).status_code == 200
            )
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert output.rstrip("\n").splitlines()[-1] == "2 passed, 0 failed"


def test_qualify_client_fails_a_pgo_that_sends_the_patient(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with qualify_client(
        "--scripts", str(ENGINE / "PHR-Client"), "--listen", f"127.0.0.1:{port}", "--timeout", "3",
    ) as process, httpx.Client() as pgo:  # fmt: skip
        wait_until_up(pgo, url)
        pgo.get(
            f"{url}/r4/Immunization",
            params={"patient": "engine-patient-anna"},
            headers={"Authorization": "Bearer engine-token-bram"},
        )
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 1, output
    assert "expected request(s) did not arrive" in output
    assert (
        "✗ Confirm that query parameter 'patient=' was not present to avoid BSNs in the URL."
        in output
    )
    assert (
        "✗ Confirm that HTTP header Authorization contains the patient token "
        "Bearer engine-t…: request header Authorization is 'Bearer engine-t…'" in output
    )
    assert "engine-token-anna" not in output  # bearer tokens are masked, as in the reports
    assert "engine-token-bram" not in output
    assert "the client sent no request GET Medication/engine-med-1" in output
    assert output.rstrip("\n").splitlines()[-1] == "0 passed, 2 failed"


def test_qualify_client_serves_https_with_the_dev_pki(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path / "pki", ["qualify.localhost"])
    leaf = pki.leaf("qualify.localhost")
    port = free_port()
    url = f"https://qualify.localhost:{port}"
    hosts = {"qualify.localhost": "127.0.0.1"}
    with qualify_client(
        "--scripts", str(ENGINE / "PHR-Client"), "--listen", f"127.0.0.1:{port}", "--timeout", "30",
        "--tls-cert", str(leaf.cert), "--tls-key", str(leaf.key),
    ) as process, make_client(trust=[pki.root_cert], hosts=hosts) as pgo:  # fmt: skip
        wait_until_up(pgo, url)
        token = {"Authorization": "Bearer engine-token-anna"}
        assert pgo.get(f"{url}/r4/Immunization", headers=token).status_code == 200
        assert pgo.get(f"{url}/r4/Medication/engine-med-1", headers=token).status_code == 200
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "FHIR base for R4 clients: https://127.0.0.1:" in output


def test_qualify_client_judges_each_scenario_on_its_own_patients_request() -> None:
    """Anna's search has extra parameters, Bram's is exactly the scripts' plain search: the
    token, not the parameters, says which scenario a request belongs to."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with qualify_client(
        "--scripts", str(ENGINE / "PHR-Client-Scenarios"), "--listen", f"127.0.0.1:{port}",
        "--timeout", "30",
    ) as process, httpx.Client() as pgo:  # fmt: skip
        wait_until_up(pgo, url)
        includes: list[tuple[str, str | int | float | bool | None]] = [
            ("_include", "Immunization:patient"),
            ("_include", "Immunization:performer"),
        ]
        anna = {"Authorization": "Bearer engine-token-anna"}
        assert pgo.get(f"{url}/r4/Immunization", params=includes, headers=anna).status_code == 200
        bram = {"Authorization": "Bearer engine-token-bram"}
        assert pgo.get(f"{url}/r4/Immunization", headers=bram).status_code == 200
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert output.rstrip("\n").splitlines()[-1] == "2 passed, 0 failed"


def test_a_script_that_is_not_well_formed_is_an_error_of_its_own(tmp_path: Path) -> None:
    folder = tmp_path / "R4" / "Engine" / "XIS-Server"
    folder.mkdir(parents=True)
    text = BASICS.read_bytes()
    (folder / "engine-basics.xml").write_bytes(text)
    broken = folder / "engine-basics-cut.xml"
    broken.write_bytes(text[: len(text) // 2])
    server = engine_server()
    with serving(server.app) as url:
        result = run("qualify", "--server", f"{url}/r4", "--scripts", str(tmp_path))
    assert result.exit_code == 1, result.stdout
    assert f"ERROR {broken}: not well-formed XML" in result.stdout
    assert last_line(result) == "4 passed, 1 failed"


def test_a_failing_assert_shows_the_request_whose_response_it_judged() -> None:
    script = ENGINE / "XIS-Server-Asserts" / "engine-request-line.xml"
    with serving(engine_server().app) as url:
        result = run("qualify", "--server", f"{url}/r4", "--scripts", str(script))
    assert result.exit_code == 1
    search = f"        request: GET {url}/r4/Immunization?_include=Immunization:patient → 200"
    organization = f"        request: GET {url}/r4/Organization/engine-org-1 → 200"
    medication_1 = f"        request: GET {url}/r4/Medication/engine-med-1 → 200"
    medication_2 = f"        request: GET {url}/r4/Medication/engine-med-2 → 200"
    lines = result.stdout.splitlines()

    def under(test: str) -> list[str]:
        start = next(i for i, line in enumerate(lines) if line.endswith(f"› {test}"))
        end = next(
            (i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines)
        )
        return [line for line in lines[start + 1 : end] if "request:" in line]

    assert under("Judge the setup's response") == [search]
    assert under("Judge the first of two responses") == [organization]
    assert under("No operation of its own") == [medication_2]
    assert under("Two failing asserts on two responses") == [medication_1, search]
    assert last_line(result) == "1 passed, 4 failed"  # the setup, and the four tests


def test_a_var_that_no_script_declares_is_warned_about_but_does_not_fail_the_run() -> None:
    with serving(engine_server().app) as url:
        result = run(
            "qualify", "--server", f"{url}/r4", "--scripts", str(BASICS),
            "--var", "patient-token=Bearer engine-token-anna", "--var", "patient-tokne=Bearer x",
        )  # fmt: skip
    assert result.exit_code == 0, result.stdout
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "warning: --var patient-tokne: no script declares or uses a variable patient-tokne"
    ]
    assert last_line(result) == "4 passed, 0 failed"
