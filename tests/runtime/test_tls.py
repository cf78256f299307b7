"""TLS contexts (versions, suites, trust) and the Whitelist rule on certificates."""

from __future__ import annotations

import ipaddress
import ssl
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from medmij_stack.protocol.pki import make_ca
from medmij_stack.runtime.devpki import DevPKI, LeafFiles, load_certificate, write_certificates
from medmij_stack.runtime.tls import (
    PeerRefused,
    check_hostnames,
    check_peer,
    client_context,
    peer_hostnames,
    server_context,
    whitelisted,
)


def _mixed_case_cert() -> x509.Certificate:
    """CN "Node.Example", SANs: DNS "Alias.Example", an IP address and a URI."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Node.Example")])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("Alias.Example"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.UniformResourceIdentifier("https://uri.example/"),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )


def _assert_hardened(context: ssl.SSLContext) -> None:
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.maximum_version == ssl.TLSVersion.TLSv1_3
    assert context.options & ssl.OP_NO_COMPRESSION
    assert context.options & ssl.OP_NO_RENEGOTIATION
    assert context.verify_flags & ssl.VERIFY_X509_STRICT
    tls12 = [cipher for cipher in context.get_ciphers() if cipher["protocol"] == "TLSv1.2"]
    assert tls12, "TLS 1.2 must stay available (MedMij: every participant supports it)"
    for cipher in tls12:
        # NCSC "goed": ephemeral ECDH, AEAD (GCM or ChaCha20-Poly1305), no SHA-1, no CBC.
        assert cipher["kea"] == "kx-ecdhe", cipher["name"]
        assert cipher["aead"], cipher["name"]
        assert cipher["symmetric"] in {"aes-128-gcm", "aes-256-gcm", "chacha20-poly1305"}
        assert cipher["auth"] in {"auth-ecdsa", "auth-rsa"}


@pytest.mark.parametrize(
    ("mode", "verify_mode"),
    [("none", ssl.CERT_NONE), ("optional", ssl.CERT_OPTIONAL), ("required", ssl.CERT_REQUIRED)],
)
def test_server_context(dev_pki: DevPKI, mode: str, verify_mode: ssl.VerifyMode) -> None:
    files = dev_pki.leaf("za.localhost")
    context = server_context(
        files.cert,
        files.key,
        trust=[dev_pki.trust_bundle()],
        client_certs=mode,  # type: ignore[arg-type]
    )
    _assert_hardened(context)
    assert context.options & ssl.OP_CIPHER_SERVER_PREFERENCE
    assert context.verify_mode == verify_mode


def test_server_context_refuses_nonsense(dev_pki: DevPKI) -> None:
    files = dev_pki.leaf("za.localhost")
    with pytest.raises(ValueError, match="client_certs"):
        server_context(files.cert, files.key, trust=[dev_pki.trust_bundle()], client_certs="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="trusted CA"):
        server_context(files.cert, files.key, trust=[], client_certs="required")


def test_server_context_trusts_several_cas(dev_pki: DevPKI, tmp_path: Path) -> None:
    files = dev_pki.leaf("za.localhost")
    other_root = tmp_path / "external-developer-root.pem"
    write_certificates(other_root, [make_ca("External Developer Root")[0]])
    context = server_context(
        files.cert,
        files.key,
        trust=[dev_pki.trust_bundle(), other_root],
        client_certs="required",
    )
    assert context.cert_store_stats()["x509_ca"] == 2


def test_client_context_trusts_only_what_it_is_given(dev_pki: DevPKI) -> None:
    files = dev_pki.leaf("pgo.localhost")
    context = client_context([dev_pki.trust_bundle()], cert=files.cert, key=files.key)
    _assert_hardened(context)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    # Not the system store: exactly the one root.
    cas = context.get_ca_certs(binary_form=True)
    root = load_certificate(dev_pki.root_cert).public_bytes(serialization.Encoding.DER)
    assert cas == [root]


def test_client_context_refuses_nonsense(dev_pki: DevPKI) -> None:
    with pytest.raises(ValueError, match="trusted CA"):
        client_context([])
    with pytest.raises(ValueError, match="together"):
        client_context([dev_pki.trust_bundle()], cert=dev_pki.leaf("pgo.localhost").cert)


def test_peer_hostnames_from_certificate_and_der() -> None:
    cert = _mixed_case_cert()
    expected = frozenset({"node.example", "alias.example"})
    assert peer_hostnames(cert) == expected
    assert peer_hostnames(cert.public_bytes(serialization.Encoding.DER)) == expected


def test_peer_hostnames_of_dev_leaf(dev_pki: DevPKI) -> None:
    leaf = load_certificate(dev_pki.leaf("pgo.localhost").cert)
    assert peer_hostnames(leaf) == {"pgo.localhost"}


@pytest.mark.parametrize(
    ("whitelist", "expected"),
    [
        (["node.example"], True),  # by Common Name
        (["alias.example"], True),  # by Subject Alternative Name
        (["NODE.EXAMPLE"], True),  # DNS names compare case-insensitively
        (frozenset({"other.example", "Alias.Example"}), True),
        (["other.example"], False),
        (["127.0.0.1", "https://uri.example/"], False),  # only host names count
        ([], False),
    ],
)
def test_whitelisted(whitelist: list[str], expected: bool) -> None:
    cert = _mixed_case_cert()
    assert whitelisted(cert, whitelist) is expected
    assert whitelisted(cert.public_bytes(serialization.Encoding.DER), whitelist) is expected


def test_check_peer_fails_closed() -> None:
    cert = _mixed_case_cert()
    assert check_peer(cert, {"alias.example"}) == {"node.example", "alias.example"}
    with pytest.raises(PeerRefused, match="client certificate is required") as refused:
        check_peer(None, {"alias.example"})
    assert "required" in refused.value.reason
    with pytest.raises(PeerRefused, match="no Whitelist"):
        check_peer(cert, None)
    with pytest.raises(PeerRefused, match=r"not on the Whitelist: alias\.example, node\.example"):
        check_peer(cert, {"other.example"})
    with pytest.raises(PeerRefused, match="not on the Whitelist"):
        check_hostnames(frozenset(), {"other.example"})


# --- handshakes in memory: which side refuses, and why -------------------------------------


@dataclass
class Outcome:
    client: ssl.SSLError | None = None
    server: ssl.SSLError | None = None
    server_object: ssl.SSLObject | None = None

    @property
    def ok(self) -> bool:
        return self.client is None and self.server is None


def _handshake(
    server: ssl.SSLContext, client: ssl.SSLContext, host: str = "za.localhost"
) -> Outcome:
    """Run a TLS handshake between two contexts over memory BIOs, plus one byte of data each
    way (a TLS 1.3 server judges the client certificate after the client thinks it is done)."""
    s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
    server_side = server.wrap_bio(s_in, s_out, server_side=True)
    client_side = client.wrap_bio(c_in, c_out, server_hostname=host)
    outcome = Outcome(server_object=server_side)

    def step(action: Callable[[], object]) -> ssl.SSLError | None:
        try:
            action()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return None
        except ssl.SSLError as error:
            return error
        return None

    client_done = server_done = False

    def client_handshake() -> None:
        nonlocal client_done
        if not client_done:
            client_side.do_handshake()
            client_done = True
            client_side.write(b"?")
        else:
            client_side.read(1)

    def server_handshake() -> None:
        nonlocal server_done
        if not server_done:
            server_side.do_handshake()
            server_done = True
        server_side.read(1)
        server_side.write(b"!")

    for _ in range(10):
        outcome.client = outcome.client or step(client_handshake)
        s_in.write(c_out.read())
        outcome.server = outcome.server or step(server_handshake)
        c_in.write(s_out.read())
        if outcome.client or outcome.server:
            # Let the other side see the alert, then stop.
            outcome.client = outcome.client or step(client_handshake)
            break
        if client_done and server_done and c_in.pending == 0 and s_in.pending == 0:
            break
    return outcome


@pytest.fixture
def optional_server(dev_pki: DevPKI) -> ssl.SSLContext:
    files = dev_pki.leaf("za.localhost")
    return server_context(
        files.cert, files.key, trust=[dev_pki.trust_bundle()], client_certs="optional"
    )


def _leaf_client(dev_pki: DevPKI, leaf: LeafFiles) -> ssl.SSLContext:
    return client_context([dev_pki.trust_bundle()], cert=leaf.cert, key=leaf.key)


def test_valid_client_certificate_handshakes(
    optional_server: ssl.SSLContext, dev_pki: DevPKI
) -> None:
    outcome = _handshake(optional_server, _leaf_client(dev_pki, dev_pki.leaf("pgo.localhost")))
    assert outcome.ok, outcome
    assert outcome.server_object is not None
    assert outcome.server_object.version() == "TLSv1.3"
    der = outcome.server_object.getpeercert(binary_form=True)
    assert der is not None
    assert peer_hostnames(der) == {"pgo.localhost"}


@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_server_rejects_certificate_from_another_ca(
    optional_server: ssl.SSLContext,
    dev_pki: DevPKI,
    foreign_leaf: LeafFiles,
    maximum: ssl.TLSVersion,
) -> None:
    client = _leaf_client(dev_pki, foreign_leaf)
    client.maximum_version = maximum
    outcome = _handshake(optional_server, client)
    assert isinstance(outcome.server, ssl.SSLCertVerificationError)
    assert "unable to get local issuer certificate" in outcome.server.verify_message
    assert outcome.client is not None, "the client is told (alert), not left hanging"


def test_server_rejects_expired_certificate(
    optional_server: ssl.SSLContext, dev_pki: DevPKI, expired_leaf: LeafFiles
) -> None:
    outcome = _handshake(optional_server, _leaf_client(dev_pki, expired_leaf))
    assert isinstance(outcome.server, ssl.SSLCertVerificationError)
    assert "expired" in outcome.server.verify_message


def test_required_mode_rejects_missing_certificate(dev_pki: DevPKI) -> None:
    files = dev_pki.leaf("za.localhost")
    server = server_context(
        files.cert, files.key, trust=[dev_pki.trust_bundle()], client_certs="required"
    )
    outcome = _handshake(server, client_context([dev_pki.trust_bundle()]))
    assert outcome.server is not None
    assert "PEER_DID_NOT_RETURN_A_CERTIFICATE" in str(outcome.server.reason)


def test_server_rejects_tls11(optional_server: ssl.SSLContext, dev_pki: DevPKI) -> None:
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        # Python warns that TLS 1.0/1.1 are deprecated, which is the point of this client.
        warnings.simplefilter("ignore", DeprecationWarning)
        client.minimum_version = ssl.TLSVersion.TLSv1
        client.maximum_version = ssl.TLSVersion.TLSv1_1
    client.set_ciphers("ALL:@SECLEVEL=0")
    client.load_verify_locations(cafile=dev_pki.trust_bundle())
    outcome = _handshake(optional_server, client)
    assert outcome.server is not None
    assert outcome.server.reason == "UNSUPPORTED_PROTOCOL"


def test_server_rejects_cbc_only_tls12_client(
    optional_server: ssl.SSLContext, dev_pki: DevPKI
) -> None:
    client = client_context([dev_pki.trust_bundle()])
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    client.set_ciphers("ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA")
    outcome = _handshake(optional_server, client)
    assert outcome.server is not None
    assert outcome.server.reason == "NO_SHARED_CIPHER"
    # Control: the same client with a "goed" suite gets through.
    client.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    assert _handshake(optional_server, client).ok


def test_client_checks_the_server_hostname(
    optional_server: ssl.SSLContext, dev_pki: DevPKI
) -> None:
    outcome = _handshake(optional_server, client_context([dev_pki.trust_bundle()]), "pgo.localhost")
    assert isinstance(outcome.client, ssl.SSLCertVerificationError)
    assert "Hostname mismatch" in outcome.client.verify_message


def test_client_trusts_no_other_root(dev_pki: DevPKI, foreign_leaf: LeafFiles) -> None:
    server = server_context(foreign_leaf.cert, foreign_leaf.key, trust=[], client_certs="none")
    outcome = _handshake(server, client_context([dev_pki.trust_bundle()]), "pgo.localhost")
    assert isinstance(outcome.client, ssl.SSLCertVerificationError)
    assert "unable to get local issuer certificate" in outcome.client.verify_message
