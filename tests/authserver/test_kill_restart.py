"""`kill -9` of the authorisation server or the resource server loses nothing committed.

Each role runs as its own `medmij serve` process (as tests/wiring/test_serve_nictiz.py and
a container run it). With a consent and its tokens issued, a code issued but not yet
exchanged, a flow half-way (at the DigiD login) and a burst of retrievals running, both
servers are killed with SIGKILL and started again on the same data. Then: the token still
opens the records, the refresh token still refreshes, the waiting code still buys a token,
every ketenlog record written before the kill is still there, the half-finished flow ends
in a page (no 5xx) rather than a code, and a new flow succeeds from start to end.

A second test kills the authorisation server during a burst of token exchanges (a PGO
redeeming codes one after another on a keep-alive connection): every token that was
answered before the kill is still there afterwards, and the last one opens the records.
The token endpoint commits before it answers (SQLite WAL with ``synchronous=NORMAL``:
durable against a crash of the process, which this is; not against a power loss).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from medmij_stack.authserver.credentials import digest
from medmij_stack.protocol.headers import new_id
from medmij_stack.runtime.devpki import DevPKI, ensure_dev_pki
from medmij_stack.runtime.net import make_client
from medmij_stack.wiring.world import Dva, World, load_world, save_world

from .browser import Browser, callback_params

pytestmark = pytest.mark.e2e

STARTUP_LIMIT_SECONDS = 90
ZORGAANBIEDER = "ziekenhuisdemo"


@dataclass
class Roles:
    base: Path
    world_file: Path
    world: World
    pki: DevPKI
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def dva(self) -> Dva:
        return self.world.ours()[0]

    def start(self, role: str) -> None:
        argv = [sys.executable, "-m", "medmij_stack.wiring", "serve", role]
        if role in ("authserver", "zorgaanbieder"):
            argv += ["--dva", self.dva.id]
        argv += ["--world", str(self.world_file), "--data-dir", str(self.base / "data")]
        argv += ["--certs", str(self.base / "certs")]
        with (self.base / f"{role}.log").open("ab") as log:
            self.processes[role] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        url = {
            "stelselnode": self.world.stelselnode.endpoint.url(),
            "authserver": self.front,
            "zorgaanbieder": self.resource,
        }[role]
        deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
        with self.client() as client:
            while not _healthy(client, url):
                if time.monotonic() > deadline or self.processes[role].poll() is not None:
                    log_text = (self.base / f"{role}.log").read_text(errors="replace")
                    pytest.fail(f"{role} did not become healthy:\n{log_text[-3000:]}")
                time.sleep(0.1)

    def kill9(self, role: str) -> None:
        process = self.processes.pop(role)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(20)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def client(self, cert_host: str | None = None) -> httpx.Client:
        cert = None if cert_host is None else self.pki.leaf(cert_host)
        return make_client(
            trust=[self.pki.root_cert], cert=cert, hosts=self.world.hosts(), timeout=15
        )

    @property
    def front(self) -> str:
        assert self.dva.front is not None
        return str(self.dva.front.url())

    @property
    def back(self) -> str:
        assert self.dva.back is not None
        return str(self.dva.back.url())

    @property
    def resource(self) -> str:
        assert self.dva.resource is not None
        return str(self.dva.resource.url())

    @property
    def pgo(self) -> str:
        return self.world.pgo_by_hostname().hostname

    @property
    def redirect_uri(self) -> str:
        return f"{self.world.pgo_by_hostname().endpoint.url()}/medmij/terug"

    def authorize_url(self) -> str:
        query = {
            "response_type": "code",
            "client_id": self.pgo,
            "redirect_uri": self.redirect_uri,
            "scope": ZORGAANBIEDER,
            "state": "kill-" + new_id(),
        }
        return f"{self.front}/oauth/authorize?{urlencode(query)}"

    def bsn(self) -> str:
        where = self.world.person_zorgaanbieders()
        return next(p.bsn for p in self.world.persons_list()
                    if f"{ZORGAANBIEDER}@medmij" in where[p.bsn])  # fmt: skip

    def code(self, *, langdurig: bool = False) -> str:
        with Browser(self.client(), self.front) as browser:
            end = browser.journey(self.authorize_url(), bsn=self.bsn(), langdurig=langdurig)
        assert end.url.startswith(self.redirect_uri + "?"), (end.url, end.response.text)
        return callback_params(end.url)["code"]

    def token(self, data: dict[str, str]) -> httpx.Response:
        with self.client(self.pgo) as pgo:
            return pgo.post(f"{self.back}/oauth/token", data={"client_id": self.pgo} | data)

    def exchange(self, code: str) -> httpx.Response:
        data = {"grant_type": "authorization_code", "code": code}
        return self.token(data | {"redirect_uri": self.redirect_uri})

    def records(self, access_token: str) -> httpx.Response:
        with self.client(self.pgo) as pgo:
            return pgo.get(
                f"{self.resource}/{ZORGAANBIEDER}/63/fhir/Immunization",
                headers={"Authorization": f"Bearer {access_token}"},
            )

    @property
    def database(self) -> Path:
        return self.base / "data" / f"authserver-{self.dva.id}" / "authserver.sqlite3"

    def ketenlog_count(self) -> int:
        with sqlite3.connect(self.database) as connection:
            return int(connection.execute("SELECT count(*) FROM ketenlog").fetchone()[0])

    def stored_access_hashes(self) -> set[str]:
        with sqlite3.connect(self.database) as connection:
            return {row[0] for row in connection.execute("SELECT access_hash FROM tokens")}


def _healthy(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(f"{url}/health").status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def roles(tmp_path: Path) -> Iterator[Roles]:
    world = load_world().with_free_ports()
    world_file = save_world(world, tmp_path / "world.json")
    pki = ensure_dev_pki(tmp_path / "certs", (*world.our_hostnames(),))
    running = Roles(tmp_path, world_file, load_world(world_file), pki)
    try:
        for role in ("stelselnode", "authserver", "zorgaanbieder"):
            running.start(role)
        yield running
    finally:
        running.stop_all()


def test_kill_9_loses_nothing_committed_and_half_flows_end_cleanly(roles: Roles) -> None:
    # Committed before the kill: a consent with its tokens, and a code not yet exchanged.
    issued = roles.exchange(roles.code(langdurig=True))
    assert issued.status_code == 200, issued.text
    token = issued.json()
    waiting_code = roles.code()
    assert roles.records(token["access_token"]).status_code == 200

    # A flow half-way: the person is at DigiD's login screen.
    half = Browser(roles.client(), roles.front)
    landing = half.open(roles.authorize_url())
    at_digid = half.choose(landing, "action", "login")
    assert at_digid.response.status_code == 200

    # A burst of retrievals while both servers die.
    statuses: list[int | str] = []
    stop = threading.Event()

    def burst() -> None:
        while not stop.is_set():
            try:
                statuses.append(roles.records(token["access_token"]).status_code)
            except httpx.HTTPError as error:
                statuses.append(type(error).__name__)

    worker = threading.Thread(target=burst)
    worker.start()
    time.sleep(1.0)
    logged = roles.ketenlog_count()
    roles.kill9("authserver")
    roles.kill9("zorgaanbieder")
    stop.set()
    worker.join(30)
    assert 200 in statuses  # the burst was served until the kill

    roles.start("authserver")
    roles.start("zorgaanbieder")

    # Nothing committed is lost.
    assert roles.ketenlog_count() >= logged
    assert roles.records(token["access_token"]).status_code == 200
    refreshed = roles.token(
        {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert roles.records(refreshed.json()["access_token"]).status_code == 200
    late = roles.exchange(waiting_code)
    assert late.status_code == 200, late.text

    # The half-finished flow ends in a page of the DVA, never a server error; no code.
    resumed = half.choose(at_digid, "action", "login", bsn=roles.bsn())
    assert resumed.response.status_code < 500, resumed.response.text
    if resumed.response.is_redirect:
        # Back to the PGO with the exception table's error (and its state), never a code.
        query = parse_qs(urlsplit(resumed.url).query)
        assert "error" in query, resumed.url
        assert "code" not in query, resumed.url
    else:
        # A page of the DVA for the person, in Dutch: the flow goes on (its state was
        # committed before the kill) or says what went wrong.
        assert resumed.response.status_code in (200, 400, 403), resumed.response.status_code
        assert 'lang="nl"' in resumed.response.text
    half.client.close()

    # A new flow succeeds from start to end.
    fresh = roles.exchange(roles.code())
    assert fresh.status_code == 200, fresh.text
    assert roles.records(fresh.json()["access_token"]).status_code == 200


def test_kill_9_during_token_exchanges_keeps_every_answered_token(roles: Roles) -> None:
    codes = [roles.code(langdurig=index % 2 == 0) for index in range(30)]
    answered: list[str] = []
    refused: list[str] = []  # an answer other than a token: never, before or at the kill
    stop = threading.Event()

    def exchanges() -> None:
        # One PGO on one keep-alive connection, a code at a time, until the server dies.
        with roles.client(roles.pgo) as pgo:
            for code in codes:
                if stop.is_set():
                    return
                data = {"grant_type": "authorization_code", "code": code}
                data |= {"client_id": roles.pgo, "redirect_uri": roles.redirect_uri}
                try:
                    response = pgo.post(f"{roles.back}/oauth/token", data=data)
                except httpx.HTTPError:
                    return  # the server died under this request: no answer, no token
                if response.status_code != 200:
                    refused.append(f"{response.status_code} {response.text}")
                    return
                answered.append(response.json()["access_token"])

    worker = threading.Thread(target=exchanges)
    worker.start()
    deadline = time.monotonic() + 60
    while len(answered) < 3 and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    roles.kill9("authserver")
    stop.set()
    worker.join(30)
    assert not worker.is_alive()
    kept = list(answered)  # what the PGO holds: every token it was answered
    assert refused == []
    assert 3 <= len(kept) < len(codes)  # the kill came in the middle of the burst

    roles.start("authserver")
    stored = roles.stored_access_hashes()
    assert [token for token in kept if digest(token) not in stored] == []
    assert roles.records(kept[-1]).status_code == 200
