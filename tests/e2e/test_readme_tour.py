"""The README's tour, executed: its curl commands, in order, against `medmij up`.

The commands are read from the fenced ``sh`` blocks of the README's "A short tour" section
and run with curl as written, but for two things a test stack cannot share with the
reader's: the ports (this stack runs on free ports, so each ``host:port`` of the default
world becomes the host's port here) and the folder the relative ``certs/`` paths are
relative to. The code that step 5 has the reader copy from the address bar comes from
the authorization URL of step 5, driven through the DVA's pages as a person; the access
token that step 7 has the reader paste comes from step 6's answer. Then the replay: step
6 again is ``invalid_grant``, and step 7's commands are refused at once.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.authserver.browser import Browser, callback_params

from .conftest import RunningStack
from .flow import stack_client

README = Path(__file__).resolve().parents[2] / "README.md"
_HOST_PORT = re.compile(r"\b([a-z0-9.-]+\.localhost):(\d+)")

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def tour() -> tuple[list[str], str]:
    """The tour's curl commands (continuation lines joined) and step 5's authorize URL."""
    text = README.read_text("utf-8")
    section = text.split("## A short tour", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        joined = block.replace("\\\n", " ")
        commands += [line.strip() for line in joined.splitlines() if line.startswith("curl ")]
    (authorize,) = re.findall(r"^\s+(https://\S+/oauth/authorize\?\S+)$", section, re.M)
    return commands, authorize


def _ports(stack: RunningStack) -> dict[str, str]:
    found = {}
    for urls in stack.info["services"].values():
        for url in urls:
            parts = urlsplit(url)
            found[str(parts.hostname)] = str(parts.port)
    return found


def _localised(text: str, ports: dict[str, str]) -> str:
    return _HOST_PORT.sub(lambda m: f"{m[1]}:{ports.get(m[1], m[2])}", text)


def _curl(stack: RunningStack, command: str, ports: dict[str, str]) -> tuple[int, str]:
    argv = shlex.split(_localised(command, ports))
    assert argv[0] == "curl"
    # -s: no progress; -w: the status on a line of its own after the body.
    argv[1:1] = ["-s", "-w", "\n%{http_code}"]
    done = subprocess.run(
        argv, cwd=stack.certs_dir.parent, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, (argv, done.stderr)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def test_the_tour_reads_as_it_runs(stack: RunningStack) -> None:
    commands, authorize = tour()
    health, token, *records = commands
    assert "/health" in health
    assert "/oauth/token" in token
    assert len(records) == 2  # Vaccinaties and BgZ
    assert all("PASTE-THE-ACCESS-TOKEN" in command for command in records)
    assert "fhirVersion=3.0" in records[1]
    assert "/48/fhir/" in records[1]

    ports = _ports(stack)
    assert _curl(stack, health, ports)[0] == 200

    # Step 5: the person logs in and consents; the code is in the PGO's address bar.
    url = _localised(authorize, ports)
    person = next(p for p in stack.info["digid_test_persons"] if "ziekenhuisdemo@medmij"
                  in p["zorgaanbieders"])  # fmt: skip
    parts = urlsplit(url)
    with Browser(stack_client(stack), f"{parts.scheme}://{parts.netloc}") as browser:
        end = browser.journey(url, bsn=str(person["bsn"]))
    code = callback_params(end.url)["code"]

    # Step 6: the token.
    status, body = _curl(stack, token.replace("PASTE-THE-CODE", code), ports)
    assert status == 200, body
    access_token = json.loads(body)["access_token"]

    # Step 7: the records, Vaccinaties and BgZ.
    for command in records:
        status, body = _curl(stack, command.replace("PASTE-THE-ACCESS-TOKEN", access_token), ports)
        assert status == 200, (command, body)
        assert json.loads(body)["resourceType"] == "Bundle"

    # The replay: step 6 again, then step 7's commands are refused at once.
    status, body = _curl(stack, token.replace("PASTE-THE-CODE", code), ports)
    assert status == 400
    assert json.loads(body)["error"] == "invalid_grant"
    for command in records:
        status, body = _curl(stack, command.replace("PASTE-THE-ACCESS-TOKEN", access_token), ports)
        assert status == 401, (command, body)
