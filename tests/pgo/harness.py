"""A PGO with the network around it faked in-process: lists, the DVA's back channel, FHIR.

The PGO app runs as built by ``create_app`` with its own database; what it talks to is
replaced at the transport: an ``httpx.MockTransport`` answers for the Stelselnode (the
four lists of a small test world, as the wiring publishes them) and for the DVA's back
channel (:class:`FakeDva`: token, refresh, revocation, RFC 8414 metadata, checking what
a real token endpoint checks: the code, its client, redirect URI and PKCE verifier). The
retrieval engine is replaced by :class:`FakeRetrieval`, which answers per zorgaanbieder,
gegevensdienst and query as a test asks; the person (:class:`Person`) is an HTTP client
of the app that fills in the same forms a browser would, and plays the DVA's front
channel by asking :class:`FakeDva` for a code the way consent would give one.

The real engine and the real DVA are exercised in ``test_e2e.py`` against ``medmij up``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx
from lxml import html

from medmij_stack.pgo.app import create_app
from medmij_stack.pgo.retrieval import QueryResult, ServiceResult
from medmij_stack.pgo.runtime import Pgo
from medmij_stack.pgo.settings import PgoSettings
from medmij_stack.protocol import catalogue
from medmij_stack.protocol.funnel import FailureReason, FunnelEvent
from medmij_stack.protocol.headers import new_id
from medmij_stack.protocol.ketenlog import EventType, Record, RequestInfo, ResponseInfo
from medmij_stack.protocol.lists import ListKind, write_list
from medmij_stack.runtime.node import ListSubscription
from medmij_stack.wiring.publication import publication
from medmij_stack.wiring.world import World

PGO_HOST = "pgo.localhost"
PGO_URL = f"https://{PGO_HOST}:8443"
STELSELNODE = "https://stelselnode.localhost:8440"
ZIEKENHUIS = "ziekenhuistest@medmij"
GGD = "ggdtest@medmij"
HUISARTS = "huisartstest@medmij"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "een-lang-wachtwoord"

WORLD: dict[str, Any] = {
    "world": {"name": "PGO-testwereld", "development": True, "seed": 77},
    "stelselnode": {"hostname": "stelselnode.localhost", "port": 8440},
    "persons": {"count": 3},
    "pgo": [{"hostname": PGO_HOST, "naam": "Test PGO", "port": 8443}],
    "dva": [
        {
            "id": "test-dva", "naam": "Test DVA", "telefoon": "088 000 0000",
            "front": {"hostname": "inlog.dva.localhost", "port": 8444},
            "back": {"hostname": "api.dva.localhost", "port": 8445},
            "resource": {"hostname": "fhir.dva.localhost", "port": 8446},
            "zorgaanbieder": [
                {"naam": ZIEKENHUIS, "weergavenaam": "Ziekenhuis Teststad",
                 "gegevensdiensten": ["48", "63"]},
                {"naam": GGD, "weergavenaam": "GGD Testregio", "gegevensdiensten": ["63"]},
                {"naam": HUISARTS, "weergavenaam": "Huisartsenpraktijk De Tést",
                 "gegevensdiensten": ["48"], "deelt": False},
            ],
        },
    ],
}  # fmt: skip


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def world() -> World:
    return World.model_validate(WORLD)


# --- the DVA's back channel --------------------------------------------------------------


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str | None
    zorgaanbieder: str
    granted: tuple[str, ...]
    langdurig: bool


@dataclass
class FakeDva:
    """Token, refresh, revocation and metadata of ``api.dva.localhost``."""

    origin: str
    codes: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    revoked: list[str] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    # A test's own answer for the token endpoint (a status, a body, an exception).
    token_override: Callable[[httpx.Request], httpx.Response] | None = None
    revocation_status: int = 200

    def consent(
        self, authorize_url: str, *, granted: tuple[str, ...] | None = None, langdurig: bool = False
    ) -> dict[str, str]:
        """What the DVA sends the browser back with after DigiD and consent: code and state."""
        params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        scope = params["scope"]
        zorgaanbieder = scope.split("~")[0].split(" ")[0] + "@medmij"
        if granted is None:
            if "~" in scope:
                granted = tuple(part.split("~")[1] for part in scope.split(" "))
            else:
                entry = next(
                    za for dva in WORLD["dva"] for za in dva["zorgaanbieder"]
                    if za["naam"] == zorgaanbieder
                )  # fmt: skip
                granted = tuple(entry["gegevensdiensten"])
        code = str(uuid.uuid4())
        self.codes[code] = Grant(
            params["client_id"],
            params["redirect_uri"],
            params.get("code_challenge"),
            zorgaanbieder,
            granted,
            langdurig,
        )
        return {"code": code, "state": params["state"]}

    def _token(self, grant: Grant) -> httpx.Response:
        body: dict[str, Any] = {
            "access_token": str(uuid.uuid4()),
            "token_type": "Bearer",
            "expires_in": 900,
            "scope": " ".join(f"{grant.zorgaanbieder[:-7]}~{g}" for g in grant.granted),
        }
        if grant.langdurig:
            refresh = base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).decode().rstrip("=")
            self.refresh_tokens[refresh] = grant
            body["refresh_token"] = refresh
        return httpx.Response(200, json=body, headers={"Cache-Control": "no-store"})

    @staticmethod
    def _error(error: str, description: str, status: int = 400) -> httpx.Response:
        return httpx.Response(status, json={"error": error, "error_description": description})

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/.well-known/oauth-authorization-server":
            return httpx.Response(
                200,
                json={
                    "issuer": self.origin,
                    "token_endpoint": self.origin + "/oauth/token",
                    "revocation_endpoint": self.origin + "/oauth/revoke",
                },
            )
        form = dict(parse_qsl(request.content.decode()))
        if path == "/oauth/revoke":
            self.revoked.append(form.get("token", ""))
            self.refresh_tokens.pop(form.get("token", ""), None)
            return httpx.Response(self.revocation_status)
        if path != "/oauth/token":
            return httpx.Response(404)
        if self.token_override is not None:
            return self.token_override(request)
        if form.get("grant_type") == "refresh_token":
            grant = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if grant is None or form.get("client_id") != grant.client_id:
                return self._error("invalid_grant", "Invalid grant: refresh token unknown.")
            return self._token(grant)
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None:
            return self._error("invalid_grant", "Invalid grant: authorization code unknown.")
        if form.get("client_id") != grant.client_id:
            return self._error("invalid_grant", "Invalid grant: issued to another client.")
        if form.get("redirect_uri") != grant.redirect_uri:
            return self._error("invalid_grant", "Invalid grant: redirect_uri differs.")
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).decode().rstrip("=") != grant.challenge:
            return self._error("invalid_grant", "Invalid grant: code_verifier does not match.")
        return self._token(grant)

    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == "/oauth/token"]


# --- the retrieval engine ----------------------------------------------------------------


@dataclass
class Failing:
    reason: FailureReason
    status: int | None
    detail: str


@dataclass
class Call:
    resource_base: str
    gegevensdienst: str
    queries: tuple[str, ...]
    access_token: str
    correlation_id: str


def resource_for(gegevensdienst: str, query: catalogue.Query, number: int = 1) -> dict[str, Any]:
    """A small resource of the query's type, enough to store and show."""
    kind = query.resource_type
    resource: dict[str, Any] = {"resourceType": kind, "id": f"{query.name.lower()}-{number}"}
    if kind == "Immunization":
        resource.update(
            status="completed",
            vaccineCode={"text": f"Griepvaccin {number}"},
            occurrenceDateTime="2025-10-14T10:30:00+02:00",
            location={"display": "GGD-locatie Teststad"},
            performer=[{"actor": {"display": "GGD Testregio"}}],
        )
    elif kind == "Condition":
        resource.update(code={"text": "Astma"}, onsetDateTime="2019-05-01")
    elif kind == "Patient":
        resource.update(name=[{"given": ["Anna"], "family": "Test"}], birthDate="1980-02-03")
    return resource


@dataclass
class FakeRetrieval:
    """Stands in for ``retrieve_service``: every query answers, unless a test says otherwise."""

    clock: Callable[[], datetime]
    failing: dict[tuple[str, str], Failing] = field(default_factory=dict)  # (gegevensdienst, query)
    resources: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    gate: asyncio.Event | None = None  # when set, every call waits for it
    broken: BaseException | None = None

    async def __call__(
        self,
        client: httpx.AsyncClient,
        resource_base: str,
        access_token: str,
        dienst: catalogue.Gegevensdienst,
        *,
        correlation_id: str,
        clock: Callable[[], datetime],
        sink: Callable[[Record], None] | None = None,
        session_id: str | None = None,
        client_id: str = "",
        timeout_seconds: float = 30.0,
        max_bytes: int = 10 * 1024 * 1024,
        concurrency: int = 4,
    ) -> ServiceResult:
        self.calls.append(
            Call(
                resource_base,
                dienst.id,
                tuple(q.name for q in dienst.queries),
                access_token,
                correlation_id,
            )
        )
        if self.gate is not None:
            await self.gate.wait()
        if self.broken is not None:
            raise self.broken
        results = []
        for query in dienst.queries:
            request_id = new_id()
            if sink is not None:
                sink(
                    Record.now(
                        EventType.SEND_RESOURCE_REQUEST,
                        location=client_id,
                        session_id=session_id,
                        trace_id=correlation_id,
                        request=RequestInfo(id=request_id, method="GET", uri=resource_base),
                    )
                )
            failing = self.failing.get((dienst.id, query.name))
            if failing is not None:
                results.append(
                    QueryResult(
                        query, request_id, failing.status, (), failing.reason, failing.detail,
                        clock(), 0.01,
                    )
                )  # fmt: skip
                continue
            found = self.resources.get((dienst.id, query.name))
            made = found if found is not None else [resource_for(dienst.id, query)]
            if sink is not None:
                sink(
                    Record.now(
                        EventType.RECEIVE_RESOURCE_RESPONSE,
                        location=client_id,
                        session_id=session_id,
                        trace_id=correlation_id,
                        response=ResponseInfo(id=request_id, status=200),
                    )
                )
            results.append(
                QueryResult(query, request_id, 200, tuple(made), None, None, clock(), 0.01)
            )
        return ServiceResult(gegevensdienst=dienst.id, queries=tuple(results))


# --- the network -------------------------------------------------------------------------


def list_documents(of: World) -> dict[str, bytes]:
    lists = publication(of)
    models = {
        ListKind.ZAL: lists.zal,
        ListKind.OCL: lists.ocl,
        ListKind.GNL: lists.gnl,
        ListKind.WHITELIST: lists.whitelist,
    }
    return {f"/{kind.filename}": write_list(model, check=False) for kind, model in models.items()}


@dataclass
class Network:
    """Who answers which host: the Stelselnode, the DVA's back channel."""

    dva: FakeDva
    lists: dict[str, bytes]
    down: set[str] = field(default_factory=set)

    def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down:
            raise httpx.ConnectError("no route to host", request=request)
        if host == "stelselnode.localhost":
            body = self.lists.get(request.url.path)
            return httpx.Response(200, content=body) if body else httpx.Response(404)
        if host == "api.dva.localhost":
            return self.dva.handle(request)
        return httpx.Response(404)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))


# --- the PGO and its person ----------------------------------------------------------------


def settings(tmp_path: Path, **overrides: Any) -> PgoSettings:
    of = world()
    lists = {kind: f"{STELSELNODE}/{kind.filename}" for kind in ListKind}
    values: dict[str, Any] = {
        "development": True,
        "hostname": PGO_HOST,
        "cert": tmp_path / "unused-cert.pem",
        "key": tmp_path / "unused-key.pem",
        "trust": (tmp_path / "unused-root.pem",),
        "lists": lists,
        "data_dir": tmp_path / "pgo",
        "naam": "Test PGO",
        "public_url": PGO_URL,
        "weergavenamen": {za.naam: za.weergavenaam for dva in of.dva for za in dva.zorgaanbieder},
        "password_cost": 14,
        "callback_wait_seconds": 5,
    }
    values.update(overrides)
    return PgoSettings(**values)


@dataclass
class PgoWorld:
    pgo: Pgo
    app: Any
    clock: FakeClock
    dva: FakeDva
    retrieval: FakeRetrieval
    network: Network

    def person(self) -> Person:
        transport = httpx.ASGITransport(app=self.app)
        return Person(self, httpx.AsyncClient(transport=transport, base_url=PGO_URL))

    def funnel(self, flow_id: str) -> list[FunnelEvent]:
        return self.pgo.measurements.funnel(flow_id=flow_id)

    def ketenlog(self, flow_id: str) -> list[Record]:
        return self.pgo.measurements.ketenlog(trace_id=flow_id)


@contextlib.asynccontextmanager
async def running_pgo(tmp_path: Path, **overrides: Any) -> AsyncIterator[PgoWorld]:
    clock = FakeClock()
    of = world()
    dva = FakeDva(origin="https://api.dva.localhost:8445")
    network = Network(dva, list_documents(of))
    retrieval = FakeRetrieval(clock)
    chosen = settings(tmp_path, **overrides)
    subscription = ListSubscription(chosen.lists, network.client, interval=900, development=True)
    app = create_app(
        chosen, clock=clock, retrieve=retrieval, client=network.client(), lists=subscription
    )
    async with app.router.lifespan_context(app):
        assert await subscription.wait_ready(10), subscription.last_problems
        yield PgoWorld(app.state.pgo, app, clock, dva, retrieval, network)
    app.state.pgo.close()


def form_with(
    response: httpx.Response, name: str, value: str | None = None
) -> list[tuple[str, str]]:
    """The values of the first form that has field ``name`` (with ``value``, if given)."""
    document = html.fromstring(response.text)
    for form in document.forms:
        values = list(form.form_values())
        if value is None and name in form.inputs.keys():  # noqa: SIM118 - lxml's own mapping
            return values
        if value is not None and (name, value) in values:
            return values
    raise AssertionError(f"no form with {name}={value}: {response.text[:3000]}")


def as_data(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    for name, value in pairs:
        data.setdefault(name, []).append(value)
    return data


def text(response: httpx.Response) -> str:
    """The visible text of a page's main content, whitespace collapsed."""
    main = html.fromstring(response.text).xpath("//main")
    content = main[0].text_content() if main else response.text
    return " ".join(content.split())


@dataclass
class Person:
    world: PgoWorld
    client: httpx.AsyncClient
    csrf: str = ""

    async def sign_up(self, name: str = "anna", password: str = PASSWORD) -> httpx.Response:
        page = await self.client.get("/aanmelden")
        fields = dict(form_with(page, "wachtwoord_herhaling"))
        fields.update(gebruikersnaam=name, wachtwoord=password, wachtwoord_herhaling=password)
        answer = await self.client.post("/aanmelden", data=fields)
        await self.refresh_csrf()
        return answer

    async def log_in(self, name: str, password: str) -> httpx.Response:
        page = await self.client.get("/inloggen")
        fields = dict(form_with(page, "wachtwoord"))
        fields.update(gebruikersnaam=name, wachtwoord=password)
        answer = await self.client.post("/inloggen", data=fields)
        await self.refresh_csrf()
        return answer

    async def refresh_csrf(self) -> None:
        page = await self.client.get("/")
        found = html.fromstring(page.text).xpath("//input[@name='csrf_token']/@value")
        self.csrf = str(found[0]) if found else ""

    async def choose(self, zorgaanbieder: str, *services: str) -> httpx.Response:
        """Search, then "Gegevens ophalen" at ``zorgaanbieder`` (its services, or these)."""
        page = await self.client.get("/zorgaanbieders", params={"zoek": ""})
        assert page.status_code == 200, page.text
        fields = form_with(page, "zorgaanbieder", zorgaanbieder)
        if services:
            fields = [(n, v) for n, v in fields if n != "gegevensdienst"]
            fields += [("gegevensdienst", s) for s in services]
        return await self.client.post("/ophalen", data=as_data(fields))

    async def callback(self, params: dict[str, str] | str) -> httpx.Response:
        query = params if isinstance(params, str) else urlencode(params)
        return await self.client.get(f"/medmij/terug?{query}")

    async def fetch(
        self,
        zorgaanbieder: str,
        *services: str,
        langdurig: bool = False,
        granted: tuple[str, ...] | None = None,
    ) -> tuple[str, httpx.Response]:
        """The whole attempt: choose, consent at the DVA, back; (flow id, outcome page)."""
        chosen = await self.choose(zorgaanbieder, *services)
        assert chosen.status_code == 303, chosen.text
        authorize = chosen.headers["location"]
        back = await self.callback(
            self.world.dva.consent(authorize, granted=granted, langdurig=langdurig)
        )
        assert back.status_code == 303, back.text
        flow_id = back.headers["location"].rsplit("/", 1)[1]
        return flow_id, await self.client.get(back.headers["location"])

    async def post(self, path: str, **fields: str | list[str]) -> httpx.Response:
        return await self.client.post(path, data={"csrf_token": self.csrf, **fields})


def flow_of(authorize_url: str) -> str:
    return parse_qs(urlsplit(authorize_url).query)["X-Correlation-ID"][0]


def dump(value: Any) -> str:
    return json.dumps(value, default=str)
