"""A development PKI that mirrors PKIoverheid Private G1, for local nodes and tests.

MedMij rule: back-channel traffic (PGO Node ↔ token and resource endpoints, Nodes ↔ Stelselnode)
is authenticated with a PKIoverheid **G1** certificate from the *Private* root, domain *Private
Services* (core.tls.314). A developer's machine has no such certificate, so this module makes a
chain of the same shape:

    Dev Private Root G1                 (self-signed, CA, ~10 years)
    └── Dev Private Services CA G1      (CA, pathLen 0, ~10 years)
        └── <node hostname>             (CN = SAN dNSName = hostname, 397 days)

Reading taken: a leaf carries both ``serverAuth`` and ``clientAuth`` EKUs because every node is a
TLS server on its own back channel *and* a TLS client to the others, and the Whitelist rule matches
the certificate a client offers by its CN or a SAN (see :mod:`medmij.tls`). The real PKIoverheid
Private Services certificates are RSA; the dev chain uses ECDSA P-256 instead, which is an NCSC
"good" choice and keeps handshakes and certificate generation fast. The profile (BasicConstraints,
KeyUsage, SKI/AKI, no wildcards) is strict enough for OpenSSL's ``X509_STRICT`` mode and for
``cryptography.x509.verification``.

On-disk layout (``ensure_dev_pki``)::

    <dir>/ca/root.pem  <dir>/ca/root.key  <dir>/ca/intermediate.pem  <dir>/ca/intermediate.key
    <dir>/nodes/<hostname>/cert.pem   (leaf, then intermediate: the chain a peer sends)
    <dir>/nodes/<hostname>/key.pem

Private keys are written with mode 0600 and unencrypted: they are development keys, never
committed (``certs/.gitignore``), and the stack must start without a passphrase prompt.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA_VALID_DAYS",
    "INTERMEDIATE_CA_NAME",
    "LEAF_RENEW_BEFORE",
    "ROOT_CA_NAME",
    "DevPKI",
    "LeafFiles",
    "LeafNotIssued",
    "ensure_dev_pki",
    "generate_key",
    "issue_leaf",
    "load_certificate",
    "load_certificates",
    "load_private_key",
    "make_ca",
    "validate_hostname",
    "write_certificates",
    "write_private_key",
]

ROOT_CA_NAME = "Dev Private Root G1"
INTERMEDIATE_CA_NAME = "Dev Private Services CA G1"
ORGANISATION = "MedMij Reference Stack (development only)"

CA_VALID_DAYS = 3652
"""About ten years, like the PKIoverheid G1 CAs; long enough that a dev CA never expires in use."""

LEAF_RENEW_BEFORE = timedelta(days=7)
"""A leaf expiring within this window is re-issued, so a running stack never crosses expiry."""

CLOCK_SKEW = timedelta(minutes=5)
"""notBefore is back-dated by this much so a peer with a slow clock accepts a new certificate."""

# One DNS label: lower-case letters, digits and inner hyphens, 1-63 characters (RFC 1123).
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


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


def validate_hostname(hostname: str) -> str:
    """Return ``hostname`` if it is a lower-case FQDN of at least two labels, else ``ValueError``.

    Wildcards are refused (MedMij forbids wildcard certificates), as are trailing dots, upper
    case (a certificate name should be written the way the Whitelist and OCL write it), IP
    literals and anything that could escape the ``nodes/`` directory.
    """
    if not isinstance(hostname, str) or not hostname or len(hostname) > 253:
        raise ValueError(f"not a valid node hostname: {hostname!r}")
    labels = hostname.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(
            f"not a valid node hostname: {hostname!r} (expected a lower-case FQDN such as "
            "'pgo.localhost')"
        )
    if labels[-1].isdigit():
        raise ValueError(f"not a valid node hostname: {hostname!r} (an IP address is not a name)")
    return hostname


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 key."""
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _serial() -> int:
    # 159 random bits: positive, at most 20 octets, and unpredictable (RFC 5280 §4.1.2.2, CA/B BR).
    return secrets.randbits(159) | 1


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware (use datetime.now(UTC))")
    return moment.astimezone(UTC)


def make_ca(
    common_name: str,
    *,
    issuer: x509.Certificate | None = None,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    path_length: int | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Make a CA certificate: self-signed when ``issuer`` is None, else signed by ``issuer``.

    Defaults: valid from now (minus clock skew) for :data:`CA_VALID_DAYS`; no path length limit
    for a root, path length 0 for an intermediate (it signs leaves only, like the PKIoverheid
    domain CAs).
    """
    if (issuer is None) != (issuer_key is None):
        raise ValueError("issuer and issuer_key go together")
    key = key or generate_key()
    start = _aware(not_before) if not_before else datetime.now(UTC) - CLOCK_SKEW
    end = _aware(not_after) if not_after else start + timedelta(days=CA_VALID_DAYS)
    subject = _name(common_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    if issuer is None or issuer_key is None:
        signer, issuer_name, aki_source = key, subject, ski
        length = path_length
    else:
        signer, issuer_name = issuer_key, issuer.subject
        aki_source = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        length = 0 if path_length is None else path_length
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(aki_source),
            critical=False,
        )
    )
    return builder.sign(signer, hashes.SHA256()), key


def issue_leaf(
    issuer_cert: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    hostname: str,
    *,
    not_before: datetime,
    not_after: datetime,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Issue a node certificate for ``hostname`` (CN and sole SAN), for server and client use."""
    validate_hostname(hostname)
    key = key or generate_key()
    issuer_ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(hostname))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(_aware(not_before))
        .not_valid_after(_aware(not_after))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256()), key


# --- files -------------------------------------------------------------------------------------


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


def _same_key(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    return cert.public_key() == key.public_key()


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _load_pair(
    cert_path: Path, key_path: Path
) -> tuple[list[x509.Certificate], ec.EllipticCurvePrivateKey] | None:
    """The certificates and key at these paths, or None if either is missing or unusable."""
    try:
        certs = load_certificates(cert_path)
        key = load_private_key(key_path)
    except (OSError, ValueError, TypeError):
        return None
    if not certs or not _same_key(certs[0], key):
        return None
    return certs, key


def _fresh(cert: x509.Certificate, now: datetime, margin: timedelta) -> bool:
    return cert.not_valid_after_utc > now + margin


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
        and _fresh(leaf, now, LEAF_RENEW_BEFORE)
        and _issued_by(leaf, intermediate)
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
    moment = _aware(now) if now else datetime.now(UTC)
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
        and _fresh(root_pair[0][0], moment, ca_margin)
        and _issued_by(root_pair[0][0], root_pair[0][0])
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
        or not _fresh(intermediate_pair[0][0], moment, ca_margin)
        or not _issued_by(intermediate_pair[0][0], root)
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
