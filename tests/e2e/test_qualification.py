"""The official Nictiz qualification TestScripts against our own resource server.

`medmij up --nictiz` serves the qualification patients at the zorgaanbieder
`kwalificatie@medmij`; `medmij qualify` runs every XIS-Server script of BgZ (Cert) and
Vaccinaties (Cert and Test, with and without CheckContent), in JSON and XML, over mutual
TLS with the PGO's certificate, with the Nictiz profiles. Everything must pass, with the
exact counts the scripts assert.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import RunningStack, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.nictiz]


@pytest.fixture(scope="module")
def nictiz_stack(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningStack, Path]]:
    nictiz = shared_data / "nictiz-testscripts"
    running = start_stack(tmp_path_factory.mktemp("nictiz"), "--nictiz", str(nictiz))
    yield running, shared_data
    running.stop()


def _qualify(stack: RunningStack, base: str, scripts: Path, *extra: str) -> tuple[int, str]:
    pgo = stack.info["pgo_client_cert"]
    resolve = [f"--resolve={host}={address}" for host, address in stack.hosts.items()]
    result = subprocess.run(
        [
            sys.executable, "-m", "medmij_stack.wiring", "qualify",
            "--server", base, "--scripts", str(scripts),
            "--ca", str(stack.ca), "--cert", pgo["cert"], "--key", pgo["key"], *resolve, *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


def _resource_base(stack: RunningStack, zorgaanbieder: str, gegevensdienst: str) -> str:
    node = stack.info["services"]["zorgaanbieder:demo-dva"][0]
    return f"{node}/{zorgaanbieder}/{gegevensdienst}/fhir"


def test_bgz_cert_scripts_pass(nictiz_stack: tuple[RunningStack, Path], tmp_path: Path) -> None:
    stack, shared = nictiz_stack
    scripts = shared / "nictiz-testscripts/output/STU3/BgZ-3-0/MedMij/Cert/XIS-Server"
    code, output = _qualify(
        stack, _resource_base(stack, "kwalificatie", "48"), scripts,
        "--profiles", str(shared / "fhir-profiles"), "--report", str(tmp_path),
    )  # fmt: skip
    assert code == 0, output
    # 4 scripts (Helleman and Mesker, JSON and XML) of 28 tests each.
    assert output.strip().splitlines()[-1] == "112 passed, 0 failed"
    assert (tmp_path / "junit.xml").is_file()
    assert (tmp_path / "report.html").is_file()


def test_vaccinatie_scripts_pass(nictiz_stack: tuple[RunningStack, Path]) -> None:
    stack, shared = nictiz_stack
    scripts = shared / "nictiz-testscripts/output/R4/Immunization-2-0/MedMij"
    code, output = _qualify(
        stack, _resource_base(stack, "kwalificatie", "63"), scripts,
        "--profiles", str(shared / "fhir-profiles"),
    )  # fmt: skip
    assert code == 0, output
    last = output.strip().splitlines()[-1]
    passed = int(last.split()[0])
    assert last == f"{passed} passed, 0 failed"
    # Cert and Test, XIS-Server and XIS-Server-CheckContent, JSON and XML: 16 scripts.
    assert output.count("imm-serve-") >= 16


def test_the_scripts_fail_at_a_zorgaanbieder_that_does_not_hold_the_patients(
    nictiz_stack: tuple[RunningStack, Path],
) -> None:
    """The qualification tokens belong to kwalificatie@medmij: elsewhere they are refused."""
    stack, shared = nictiz_stack
    scripts = shared / "nictiz-testscripts/output/R4/Immunization-2-0/MedMij/Cert/XIS-Server"
    code, output = _qualify(stack, _resource_base(stack, "ggddemo", "63"), scripts)
    assert code == 1
    assert "HTTP status 403" in output
    assert output.strip().splitlines()[-1].startswith("0 passed, ")
