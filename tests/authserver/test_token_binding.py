"""Tokens are bound to the client certificate of the token request (RFC 8705 3.1).

Introspection answers ``cnf: {"x5t#S256": …}``, the base64url SHA-256 of the certificate
the PGO presented at the token endpoint, for the code exchange and for every refresh;
tests/zorgaanbieder/test_introspection_binding.py shows the resource server refusing the
token over any other certificate.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from medmij_stack.protocol.dva_contract import certificate_thumbprint

from .conftest import PGO, TestWorld
from .flows import exchange, introspect, obtain_code, token_request


def _thumbprint(tw: TestWorld, host: str) -> str | None:
    leaf = x509.load_pem_x509_certificates(Path(tw.pki.leaf(host).cert).read_bytes())[0]
    return certificate_thumbprint(leaf.public_bytes(serialization.Encoding.DER))


def test_introspection_names_the_certificate_of_the_token_request(tw: TestWorld) -> None:
    issued = obtain_code(tw, langdurig=True)
    with tw.client(PGO) as pgo:
        token = exchange(pgo, tw, issued.code).json()
        refreshed = token_request(
            pgo,
            tw,
            {"grant_type": "refresh_token", "refresh_token": token["refresh_token"],
             "client_id": PGO},
        ).json()  # fmt: skip
    expected = {"x5t#S256": _thumbprint(tw, PGO)}
    assert introspect(tw, token["access_token"])["cnf"] == expected
    assert introspect(tw, refreshed["access_token"])["cnf"] == expected
    assert len(expected["x5t#S256"] or "") == 43  # base64url of 32 bytes, no padding
