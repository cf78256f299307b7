"""A token opens data only over the client certificate it was issued over (RFC 8705 3).

The authorisation server's introspection answer carries ``cnf: {"x5t#S256": …}``, the
thumbprint of the certificate the token endpoint saw; the resource server compares it with
the certificate of the connection the token comes over. Another node on the Whitelist
(the DVA's own authorisation server, the resource server's own certificate) holding a
valid token is refused ``401 invalid_token``; so is a token whose answer names a
certificate nobody presents.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from medmij_stack.protocol.dva_contract import Introspection, certificate_thumbprint
from medmij_stack.protocol.persons import TestPerson
from medmij_stack.runtime.devpki import DevPKI
from medmij_stack.zorgaanbieder.dataset import Dataset

from .authserver_fake import FakeAuthserver
from .conftest import AUTHSERVER, PGO, RESOURCE, Running, Start

ZA = "ziekenhuis@medmij"


def thumbprint(pki: DevPKI, host: str) -> str:
    leaf = x509.load_pem_x509_certificates(Path(pki.leaf(host).cert).read_bytes())[0]
    found = certificate_thumbprint(leaf.public_bytes(serialization.Encoding.DER))
    assert found is not None
    return found


@pytest.fixture(scope="module")
def running(
    start_resource_server: Start, tiny_datasets: list[Dataset], fake_authserver: FakeAuthserver
) -> Iterator[Running]:
    with start_resource_server(
        datasets=tiny_datasets, introspection_url=fake_authserver.url
    ) as server:
        yield server


def _bound(fake: FakeAuthserver, token: str, bsn: str, cnf: str | None) -> None:
    fake.tokens[token] = Introspection(
        active=True,
        client_id=PGO,
        scope="ziekenhuis",
        exp=int(time.time()) + 900,
        iat=int(time.time()),
        zorgaanbieder=ZA,
        gegevensdiensten=("48", "63"),
        bsn=bsn,
        cnf_x5t_s256=cnf,
    )


def _search(running: Running, token: str, as_host: str) -> tuple[int, str]:
    with running.client(as_host) as client:
        response = client.get(
            f"{running.base(ZA, '48')}/Condition", headers={"Authorization": f"Bearer {token}"}
        )
    return response.status_code, response.headers.get("www-authenticate", "")


def test_the_token_works_over_the_certificate_it_was_issued_over(
    running: Running, fake_authserver: FakeAuthserver, persons: tuple[TestPerson, ...]
) -> None:
    _bound(fake_authserver, "bound-to-pgo", persons[0].bsn, thumbprint(running.pki, PGO))
    assert _search(running, "bound-to-pgo", PGO)[0] == 200


@pytest.mark.parametrize("other", [AUTHSERVER, RESOURCE], ids=["dva-node", "resource-node"])
def test_another_whitelisted_certificate_with_a_valid_token_is_invalid_token(
    running: Running,
    fake_authserver: FakeAuthserver,
    persons: tuple[TestPerson, ...],
    other: str,
) -> None:
    _bound(fake_authserver, "stolen", persons[0].bsn, thumbprint(running.pki, PGO))
    status, challenge = _search(running, "stolen", other)
    assert status == 401
    assert challenge.startswith('Bearer error="invalid_token"')
    assert _search(running, "stolen", PGO)[0] == 200  # the cached answer binds as well


def test_a_token_bound_to_a_certificate_nobody_presents_opens_nothing(
    running: Running, fake_authserver: FakeAuthserver, persons: tuple[TestPerson, ...]
) -> None:
    _bound(fake_authserver, "bound-elsewhere", persons[0].bsn, "A" * 43)
    assert _search(running, "bound-elsewhere", PGO)[0] == 401
