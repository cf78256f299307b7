"""`medmij up` as a user meets it: health over HTTPS, valid lists, a guarded back channel."""

from __future__ import annotations

import socket
import ssl
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from lxml import etree

from medmij_stack.protocol.lists import ListKind, parse_list
from medmij_stack.protocol.pki import issue_leaf, make_ca
from medmij_stack.runtime.devpki import (
    LeafFiles,
    load_certificate,
    load_private_key,
    write_certificates,
    write_private_key,
)
from medmij_stack.runtime.net import make_client

from .conftest import RunningStack, start_stack

pytestmark = pytest.mark.e2e

OFFICIAL_XSD = {
    ListKind.OCL: "MedMij_OAuthclientlist.release2.xsd",
    ListKind.GNL: "MedMij_Gegevensdienstnamenlijst.release1.xsd",
    ListKind.WHITELIST: "MedMij_Whitelist.release2.v13.xsd",
}


def _client(stack: RunningStack, cert: LeafFiles | None = None) -> httpx.Client:
    return make_client(trust=[stack.ca], cert=cert, hosts=stack.hosts, timeout=10)


def _leaf(tmp: Path, stack: RunningStack, hostname: str, *, expired: bool = False) -> LeafFiles:
    """A client certificate for `hostname` from the stack's own intermediate CA."""
    ca = stack.certs_dir / "ca"
    issuer = load_certificate(ca / "intermediate.pem")
    key = load_private_key(ca / "intermediate.key")
    now = datetime.now(UTC)
    start, end = (now - timedelta(days=30), now - timedelta(days=1)) if expired else (
        now - timedelta(minutes=5), now + timedelta(days=1))  # fmt: skip
    cert, leaf_key = issue_leaf(issuer, key, hostname, not_before=start, not_after=end)
    files = LeafFiles(cert=tmp / f"{hostname}.pem", key=tmp / f"{hostname}.key")
    write_certificates(files.cert, [cert, issuer])
    write_private_key(files.key, leaf_key)
    return files


def test_every_node_answers_health_over_https(stack: RunningStack) -> None:
    urls = [url for urls in stack.info["services"].values() for url in urls]
    # stelselnode, collector, pgo, authserver front + back, resource server
    assert len(urls) == 6
    with _client(stack) as client:
        for url in urls:
            response = client.get(f"{url}/health")
            assert response.status_code == 200, (url, response.text)
            assert response.json()["status"] == "ok"


def test_health_reports_the_lists_each_node_holds(stack: RunningStack) -> None:
    with _client(stack) as client:
        for label, urls in stack.info["services"].items():
            if label == "stelselnode":
                continue
            lists = client.get(f"{urls[0]}/health").json()["lists"]
            assert {k: v["volgnummer"] for k, v in lists.items()} == {
                "zal": 1, "ocl": 1, "gnl": 1, "whitelist": 1,
            }  # fmt: skip


def test_served_lists_validate(stack: RunningStack, medmij_data: Path) -> None:
    with _client(stack) as client:
        for kind in ListKind:
            url = stack.info["lists"][kind.name.lower()]
            response = client.get(url)
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/xml")
            parsed = parse_list(kind, response.content, development=stack.info["development"])
            assert parsed.volgnummer >= 1
            if kind in OFFICIAL_XSD:
                schema = etree.XMLSchema(etree.parse(str(medmij_data / "xsd" / OFFICIAL_XSD[kind])))
                document = etree.fromstring(response.content)
                assert schema.validate(document), schema.error_log


def test_the_zal_leads_to_the_running_dva(stack: RunningStack) -> None:
    with _client(stack) as client:
        zal = parse_list(
            ListKind.ZAL, client.get(stack.info["lists"]["zal"]).content, development=True
        )
    ziekenhuis = zal.get("ziekenhuisdemo@medmij")
    assert ziekenhuis is not None
    dienst = ziekenhuis.gegevensdienst("48")
    assert dienst is not None
    assert dienst.token_endpoint is not None
    # The token endpoint's node is the authserver's back channel, which is running.
    back = stack.info["services"]["authserver:demo-dva"][1]
    assert dienst.token_endpoint.startswith(back)


def _back_channel_urls(stack: RunningStack) -> list[str]:
    return [
        stack.info["services"]["authserver:demo-dva"][1],
        stack.info["services"]["zorgaanbieder:demo-dva"][0],
        stack.info["collector"],
    ]


def test_the_collector_gives_the_pgo_back_only_what_it_delivered(stack: RunningStack) -> None:
    assert stack.info["collector"] == stack.info["services"]["collector"][0]
    pgo = stack.info["pgo_client_cert"]
    leaf = LeafFiles(cert=Path(pgo["cert"]), key=Path(pgo["key"]))
    with _client(stack, leaf) as client:
        response = client.get(f"{stack.info['collector']}/v1/records")
    assert response.status_code == 200, response.text
    assert {item["sender"] for item in response.json()["records"]} <= {pgo["hostname"]}


def test_back_channel_refuses_a_caller_without_certificate(stack: RunningStack) -> None:
    with _client(stack) as client:
        for url in _back_channel_urls(stack):
            response = client.get(f"{url}/oauth/token")
            assert response.status_code == 403, url


def test_back_channel_refuses_a_certificate_not_on_the_whitelist(
    stack: RunningStack, tmp_path: Path
) -> None:
    # On the OCL, certificate from the right CA, but not on the Whitelist.
    outsider = _leaf(tmp_path, stack, "niet-vertrouwd.pgo.localhost")
    with _client(stack, outsider) as client:
        for url in _back_channel_urls(stack):
            response = client.get(f"{url}/anything")
            assert response.status_code == 403, url
            assert "whitelist" in response.text.lower()


def test_back_channel_admits_the_whitelisted_pgo(stack: RunningStack) -> None:
    pgo = stack.info["pgo_client_cert"]
    leaf = LeafFiles(cert=Path(pgo["cert"]), key=Path(pgo["key"]))
    with _client(stack, leaf) as client:
        for url in _back_channel_urls(stack):
            response = client.get(f"{url}/no-such-path")
            assert response.status_code == 404, url  # past the gate; nothing there


def test_back_channel_refuses_expired_and_foreign_certificates(
    stack: RunningStack, tmp_path: Path
) -> None:
    expired = _leaf(tmp_path, stack, "pgo.localhost", expired=True)
    foreign_root, foreign_key = make_ca("Some Other Root")
    cert, key = issue_leaf(
        foreign_root, foreign_key, "pgo.localhost",
        not_before=datetime.now(UTC) - timedelta(minutes=5),
        not_after=datetime.now(UTC) + timedelta(days=1),
    )  # fmt: skip
    foreign = LeafFiles(cert=tmp_path / "foreign.pem", key=tmp_path / "foreign.key")
    write_certificates(foreign.cert, [cert])
    write_private_key(foreign.key, key)
    for leaf in (expired, foreign):
        with _client(stack, leaf) as client:
            for url in _back_channel_urls(stack):
                with pytest.raises(
                    (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)
                ):
                    client.get(f"{url}/health")


def test_tls_1_1_is_refused(stack: RunningStack) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        # Python warns that TLS 1.0/1.1 are deprecated, which is the point of this client.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("ALL:@SECLEVEL=0")
    context.load_verify_locations(stack.ca)
    for url in [*_back_channel_urls(stack), stack.info["pgo"]]:
        parsed = httpx.URL(url)
        host, port = parsed.host, parsed.port
        assert port is not None
        with (
            socket.create_connection((stack.hosts[host], port), timeout=5) as raw,
            pytest.raises(ssl.SSLError),
        ):
            context.wrap_socket(raw, server_hostname=host)


def test_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    running = start_stack(tmp_path)
    with _client(running) as client:
        assert client.get(f"{running.info['pgo']}/health").status_code == 200
    assert running.stop() == 0
    assert not (running.data_dir / "stack.json").exists()
    with _client(running) as client, pytest.raises(httpx.ConnectError):
        client.get(f"{running.info['pgo']}/health")


def _zal_volgnummer(stack: RunningStack) -> tuple[int, bytes]:
    with _client(stack) as client:
        document = client.get(stack.info["lists"]["zal"]).content
    return parse_list(ListKind.ZAL, document, development=True).volgnummer, document


def test_volgnummer_survives_a_restart_and_rises_when_the_world_changes(tmp_path: Path) -> None:
    first = start_stack(tmp_path)
    volgnummer, document = _zal_volgnummer(first)
    assert first.stop() == 0
    assert volgnummer == 1

    # The same world again (the effective world file of the first run keeps its ports).
    same = start_stack(tmp_path, "--world", str(tmp_path / "data" / "world.json"), free_ports=False)
    try:
        assert _zal_volgnummer(same) == (1, document)  # byte for byte, Tijdstempel included
    finally:
        assert same.stop() == 0

    # New ports change the endpoints in the ZAL: a new publication.
    moved = start_stack(tmp_path)
    try:
        assert _zal_volgnummer(moved)[0] == 2
    finally:
        assert moved.stop() == 0
