"""The development PKI on disk: made once, kept, renewed before a leaf expires.

On-disk layout (``ensure_dev_pki``)::

    <dir>/ca/root.pem  <dir>/ca/root.key  <dir>/ca/intermediate.pem  <dir>/ca/intermediate.key
    <dir>/nodes/<hostname>/cert.pem   (leaf, then intermediate: the chain a peer sends)
    <dir>/nodes/<hostname>/key.pem

Private keys are written with mode 0600 and unencrypted: they are development keys, never
committed (``certs/.gitignore``), and the stack must start without a passphrase prompt. The
certificates themselves are made by :mod:`medmij_stack.protocol.pki`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from medmij_stack.protocol.pki import (
    CLOCK_SKEW,
    INTERMEDIATE_CA_NAME,
    LEAF_RENEW_BEFORE,
    ROOT_CA_NAME,
    as_utc,
    fresh,
    issue_leaf,
    issued_by,
    make_ca,
    same_key,
    validate_hostname,
)

__all__ = [
    "DevPKI",
    "LeafFiles",
    "LeafNotIssued",
    "ensure_dev_pki",
    "load_certificate",
    "load_certificates",
    "load_private_key",
    "write_certificates",
    "write_private_key",
]


class LeafNotIssued(FileNotFoundError, KeyError):
    """No leaf has been made for this hostname in this PKI directory.

    Both a ``FileNotFoundError`` (it is about files) and a ``KeyError`` (a lookup by hostname), so
    callers may catch whichever reads naturally.
    """

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the arguments; keep OSError's readable message.
        return FileNotFoundError.__str__(self)


@dataclass(frozen=True)
class LeafFiles:
    """A node's certificate and key files, in the form ``ssl.SSLContext.load_cert_chain`` takes."""

    cert: Path
    """PEM: the leaf, then the intermediate (the full chain minus the root)."""
    key: Path
    """PEM, PKCS#8, unencrypted, mode 0600."""


@dataclass(frozen=True)
class DevPKI:
    """A dev PKI directory made by :func:`ensure_dev_pki`."""

    directory: Path
    root_cert: Path
    intermediate_cert: Path

    def leaf(self, hostname: str) -> LeafFiles:
        """The files of ``hostname``'s leaf; raises :class:`LeafNotIssued` if it was never made."""
        files = _leaf_files(self.directory, validate_hostname(hostname))
        for path in (files.cert, files.key):
            if not path.is_file():
                raise LeafNotIssued(2, f"no dev certificate issued for {hostname}", str(path))
        return files

    def trust_bundle(self) -> Path:
        """The PEM file a node trusts: the root only, because peers send their intermediate."""
        return self.root_cert

    @property
    def root_key(self) -> Path:
        return self.directory / "ca" / "root.key"

    @property
    def intermediate_key(self) -> Path:
        return self.directory / "ca" / "intermediate.key"


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` so a reader never sees a half-written file or a wide-open key.

    The temporary file is created with ``mode`` from the start (mkstemp makes it 0600, then it is
    widened if asked), and renamed into place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_certificates(path: Path, certificates: Sequence[x509.Certificate]) -> None:
    """Write certificates as concatenated PEM (mode 0644), in the order given."""
    pem = b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certificates)
    _atomic_write(path, pem, 0o644)


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Write an unencrypted PKCS#8 PEM private key with mode 0600."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _atomic_write(path, pem, 0o600)


def load_certificates(path: Path) -> list[x509.Certificate]:
    """All certificates in a PEM file, in file order."""
    return x509.load_pem_x509_certificates(path.read_bytes())


def load_certificate(path: Path) -> x509.Certificate:
    """The first certificate in a PEM file."""
    return load_certificates(path)[0]


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """An unencrypted PEM EC private key; ``TypeError`` for any other key type."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{path}: expected an EC private key, found {type(key).__name__}")
    return key


# --- ensure_dev_pki ----------------------------------------------------------------------------


def _leaf_files(directory: Path, hostname: str) -> LeafFiles:
    node = directory / "nodes" / hostname
    return LeafFiles(cert=node / "cert.pem", key=node / "key.pem")


def _load_pair(
    cert_path: Path, key_path: Path
) -> tuple[list[x509.Certificate], ec.EllipticCurvePrivateKey] | None:
    """The certificates and key at these paths, or None if either is missing or unusable."""
    try:
        certs = load_certificates(cert_path)
        key = load_private_key(key_path)
    except (OSError, ValueError, TypeError):
        return None
    if not certs or not same_key(certs[0], key):
        return None
    return certs, key


def _leaf_is_current(
    pair: tuple[list[x509.Certificate], ec.EllipticCurvePrivateKey] | None,
    hostname: str,
    intermediate: x509.Certificate,
    now: datetime,
) -> bool:
    if pair is None:
        return False
    certs, _key = pair
    leaf = certs[0]
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = names.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        return False
    return (
        dns_names == [hostname]
        and fresh(leaf, now, LEAF_RENEW_BEFORE)
        and issued_by(leaf, intermediate)
        # The file must also carry the current intermediate, or peers cannot build the chain.
        and certs[1:] == [intermediate]
    )


def ensure_dev_pki(
    directory: Path,
    hostnames: Iterable[str],
    *,
    valid_days: int = 397,
    now: datetime | None = None,
) -> DevPKI:
    """Make (or complete) the dev PKI in ``directory``; return its paths.

    Idempotent, so a second ``medmij up`` starts fast: valid existing files are not rewritten.

    * The root and intermediate are made on first run (valid :data:`CA_VALID_DAYS`). A root that
      is missing, unreadable or expiring within a year is replaced together with the intermediate;
      an intermediate that is missing, expiring within a year or not signed by the root is
      replaced on its own. Replacing a CA re-issues every leaf.
    * A leaf is issued for every hostname that has none, and re-issued when it expires within
      :data:`LEAF_RENEW_BEFORE`, was not issued by the current intermediate, names another host,
      or its key does not match.

    ``valid_days`` is the leaf lifetime (397 days is the CA/Browser Forum maximum). ``now``
    (timezone-aware) replaces the clock, for tests.
    """
    names = sorted({validate_hostname(name) for name in hostnames})
    if valid_days < 8:
        raise ValueError("valid_days must exceed the 7-day renewal window")
    moment = as_utc(now) if now else datetime.now(UTC)
    ca_margin = timedelta(days=365)
    directory = Path(directory)
    ca_dir = directory / "ca"
    pki = DevPKI(
        directory=directory,
        root_cert=ca_dir / "root.pem",
        intermediate_cert=ca_dir / "intermediate.pem",
    )

    root_pair = _load_pair(pki.root_cert, pki.root_key)
    root_ok = (
        root_pair is not None
        and fresh(root_pair[0][0], moment, ca_margin)
        and issued_by(root_pair[0][0], root_pair[0][0])
    )
    if root_pair is None or not root_ok:
        root, root_key = make_ca(ROOT_CA_NAME, not_before=moment - CLOCK_SKEW)
        # Key first: a crash between the two writes leaves a mismatched pair, which the next run
        # detects and replaces, rather than a certificate without its key.
        write_private_key(pki.root_key, root_key)
        write_certificates(pki.root_cert, [root])
        intermediate_pair = None
    else:
        root, root_key = root_pair[0][0], root_pair[1]
        intermediate_pair = _load_pair(pki.intermediate_cert, pki.intermediate_key)

    if (
        intermediate_pair is None
        or not fresh(intermediate_pair[0][0], moment, ca_margin)
        or not issued_by(intermediate_pair[0][0], root)
    ):
        intermediate, intermediate_key = make_ca(
            INTERMEDIATE_CA_NAME,
            issuer=root,
            issuer_key=root_key,
            not_before=moment - CLOCK_SKEW,
        )
        write_private_key(pki.intermediate_key, intermediate_key)
        write_certificates(pki.intermediate_cert, [intermediate])
    else:
        intermediate, intermediate_key = intermediate_pair[0][0], intermediate_pair[1]

    for hostname in names:
        files = _leaf_files(directory, hostname)
        if _leaf_is_current(_load_pair(files.cert, files.key), hostname, intermediate, moment):
            continue
        leaf, leaf_key = issue_leaf(
            intermediate,
            intermediate_key,
            hostname,
            not_before=moment - CLOCK_SKEW,
            not_after=moment + timedelta(days=valid_days),
        )
        write_private_key(files.key, leaf_key)
        write_certificates(files.cert, [leaf, intermediate])
    return pki
