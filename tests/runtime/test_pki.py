"""The dev PKI: PKIoverheid Private G1 shape, verifiable chains, idempotent and self-renewing."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from medmij_stack.protocol.pki import (
    INTERMEDIATE_CA_NAME,
    ROOT_CA_NAME,
    issue_leaf,
    make_ca,
    validate_hostname,
)
from medmij_stack.runtime.devpki import (
    DevPKI,
    LeafNotIssued,
    ensure_dev_pki,
    load_certificate,
    load_certificates,
    load_private_key,
    write_certificates,
)

from .conftest import NODES


def _cn(cert: x509.Certificate) -> str:
    value = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(value, str)
    return value


def _snapshot(directory: Path) -> dict[Path, tuple[bytes, int]]:
    return {
        path: (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_layout_and_names(dev_pki: DevPKI) -> None:
    directory = dev_pki.directory
    assert dev_pki.root_cert == directory / "ca" / "root.pem"
    assert dev_pki.intermediate_cert == directory / "ca" / "intermediate.pem"
    assert dev_pki.trust_bundle() == dev_pki.root_cert
    for name in ("root.pem", "root.key", "intermediate.pem", "intermediate.key"):
        assert (directory / "ca" / name).is_file()
    for hostname in NODES:
        files = dev_pki.leaf(hostname)
        assert files.cert == directory / "nodes" / hostname / "cert.pem"
        assert files.key == directory / "nodes" / hostname / "key.pem"
    assert _cn(load_certificate(dev_pki.root_cert)) == ROOT_CA_NAME
    assert _cn(load_certificate(dev_pki.intermediate_cert)) == INTERMEDIATE_CA_NAME


@pytest.mark.parametrize("hostname", NODES)
def test_leaf_chain_verifies_for_server_and_client_use(dev_pki: DevPKI, hostname: str) -> None:
    leaf, *chain = load_certificates(dev_pki.leaf(hostname).cert)
    # The file carries the chain minus the root, which is what a peer sends.
    assert chain == [load_certificate(dev_pki.intermediate_cert)]
    store = Store([load_certificate(dev_pki.trust_bundle())])
    builder = PolicyBuilder().store(store).time(datetime.now(UTC))

    server_chain = builder.build_server_verifier(x509.DNSName(hostname)).verify(leaf, chain)
    assert [_cn(cert) for cert in server_chain] == [hostname, INTERMEDIATE_CA_NAME, ROOT_CA_NAME]

    verified = builder.build_client_verifier().verify(leaf, chain)
    assert verified.subjects is not None
    assert [name.value for name in verified.subjects] == [hostname]


@pytest.mark.parametrize("hostname", NODES)
def test_leaf_profile(dev_pki: DevPKI, hostname: str) -> None:
    files = dev_pki.leaf(hostname)
    leaf = load_certificate(files.cert)
    assert _cn(leaf) == hostname
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [hostname]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_cert_sign
    constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert not constraints.value.ca
    public = leaf.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert isinstance(public.curve, ec.SECP256R1)
    assert load_private_key(files.key).public_key() == public
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert timedelta(days=397) <= lifetime <= timedelta(days=397, hours=1)


def test_ca_profiles(dev_pki: DevPKI) -> None:
    root = load_certificate(dev_pki.root_cert)
    intermediate = load_certificate(dev_pki.intermediate_cert)
    root.verify_directly_issued_by(root)
    intermediate.verify_directly_issued_by(root)
    for cert, path_length in ((root, None), (intermediate, 0)):
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        assert constraints.critical
        assert constraints.value.ca
        assert constraints.value.path_length == path_length
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical
        assert usage.value.key_cert_sign
        assert usage.value.crl_sign
        cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        assert cert.not_valid_after_utc - cert.not_valid_before_utc > timedelta(days=9 * 365)
    aki = intermediate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest


def test_private_keys_are_owner_only(dev_pki: DevPKI) -> None:
    keys = sorted(dev_pki.directory.rglob("*.key")) + sorted(dev_pki.directory.rglob("key.pem"))
    assert len(keys) == 2 + len(NODES)
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    ensure_dev_pki(tmp_path, ["pgo.localhost", "za.localhost"])
    before = _snapshot(tmp_path)
    ensure_dev_pki(tmp_path, ["za.localhost", "pgo.localhost"])
    assert _snapshot(tmp_path) == before


def test_new_hostname_adds_only_its_leaf(tmp_path: Path) -> None:
    ensure_dev_pki(tmp_path, ["pgo.localhost"])
    before = _snapshot(tmp_path)
    pki = ensure_dev_pki(tmp_path, ["pgo.localhost", "za.localhost"])
    after = _snapshot(tmp_path)
    assert set(after) - set(before) == {pki.leaf("za.localhost").cert, pki.leaf("za.localhost").key}
    assert {path: after[path] for path in before} == before


def test_leaf_near_expiry_is_reissued_and_ca_kept(tmp_path: Path) -> None:
    start = datetime.now(UTC)
    pki = ensure_dev_pki(tmp_path, ["pgo.localhost"], valid_days=30, now=start)
    files = pki.leaf("pgo.localhost")
    old_leaf, old_key = files.cert.read_bytes(), files.key.read_bytes()
    ca_before = _snapshot(tmp_path / "ca")

    # Eight days before expiry: still outside the 7-day window, nothing changes.
    ensure_dev_pki(tmp_path, ["pgo.localhost"], now=start + timedelta(days=22))
    assert files.cert.read_bytes() == old_leaf

    later = start + timedelta(days=24)
    ensure_dev_pki(tmp_path, ["pgo.localhost"], now=later)
    assert files.cert.read_bytes() != old_leaf
    assert files.key.read_bytes() != old_key
    assert _snapshot(tmp_path / "ca") == ca_before
    assert load_certificate(files.cert).not_valid_after_utc > later + timedelta(days=300)


def test_expired_leaf_is_reissued(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path, ["pgo.localhost"])
    files = pki.leaf("pgo.localhost")
    intermediate = load_certificate(pki.intermediate_cert)
    now = datetime.now(UTC)
    expired, _ = issue_leaf(
        intermediate,
        load_private_key(pki.intermediate_key),
        "pgo.localhost",
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
        key=load_private_key(files.key),
    )
    write_certificates(files.cert, [expired, intermediate])

    ensure_dev_pki(tmp_path, ["pgo.localhost"])
    assert load_certificate(files.cert).not_valid_after_utc > now + timedelta(days=300)
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600


def test_leaf_from_another_intermediate_is_reissued(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path, ["pgo.localhost"])
    files = pki.leaf("pgo.localhost")
    other_root, other_root_key = make_ca("Some Other Root")
    other, other_key = make_ca("Some Other CA", issuer=other_root, issuer_key=other_root_key)
    now = datetime.now(UTC)
    foreign, _ = issue_leaf(
        other,
        other_key,
        "pgo.localhost",
        not_before=now,
        not_after=now + timedelta(days=90),
        key=load_private_key(files.key),
    )
    write_certificates(files.cert, [foreign, other])

    ensure_dev_pki(tmp_path, ["pgo.localhost"])
    load_certificate(files.cert).verify_directly_issued_by(load_certificate(pki.intermediate_cert))


def test_lost_intermediate_is_replaced_and_leaves_follow(tmp_path: Path) -> None:
    pki = ensure_dev_pki(tmp_path, ["pgo.localhost"])
    root_before = pki.root_cert.read_bytes()
    pki.intermediate_key.unlink()
    ensure_dev_pki(tmp_path, ["pgo.localhost"])
    assert pki.root_cert.read_bytes() == root_before
    intermediate = load_certificate(pki.intermediate_cert)
    intermediate.verify_directly_issued_by(load_certificate(pki.root_cert))
    leaf, chain_intermediate = load_certificates(pki.leaf("pgo.localhost").cert)
    leaf.verify_directly_issued_by(intermediate)
    assert chain_intermediate == intermediate


def test_unknown_leaf_is_a_lookup_error(dev_pki: DevPKI) -> None:
    with pytest.raises(KeyError):
        dev_pki.leaf("unknown.localhost")
    with pytest.raises(FileNotFoundError, match=r"unknown\.localhost"):
        dev_pki.leaf("unknown.localhost")
    assert issubclass(LeafNotIssued, KeyError)


@pytest.mark.parametrize(
    "hostname",
    [
        "PGO.localhost",
        "localhost",
        "*.localhost",
        "pgo.localhost.",
        "../etc",
        "127.0.0.1",
        "a..b",
        "",
    ],
)
def test_bad_hostnames_are_refused(tmp_path: Path, hostname: str) -> None:
    with pytest.raises(ValueError, match="hostname"):
        validate_hostname(hostname)
    with pytest.raises(ValueError, match="hostname"):
        ensure_dev_pki(tmp_path, [hostname])
    assert not any(tmp_path.iterdir()), "nothing is written before all names are checked"


def test_naive_clock_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone"):
        ensure_dev_pki(tmp_path, ["pgo.localhost"], now=datetime(2030, 1, 1))
