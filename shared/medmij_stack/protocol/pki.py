"""Certificates of a development PKI that mirrors PKIoverheid Private G1: making them, no files.

MedMij rule: back-channel traffic (PGO Node ↔ token and resource endpoints, Nodes ↔ Stelselnode)
is authenticated with a PKIoverheid **G1** certificate from the *Private* root, domain *Private
Services* (core.tls.314). A developer's machine has no such certificate, so this module makes a
chain of the same shape:

    Dev Private Root G1                 (self-signed, CA, ~10 years)
    └── Dev Private Services CA G1      (CA, pathLen 0, ~10 years)
        └── <node hostname>             (CN = SAN dNSName = hostname, 397 days)

Reading taken: a leaf carries both ``serverAuth`` and ``clientAuth`` EKUs because every node is a
TLS server on its own back channel *and* a TLS client to the others, and the Whitelist rule matches
the certificate a client offers by its CN or a SAN (see :mod:`medmij_stack.runtime.tls`). The real
PKIoverheid Private Services certificates are RSA; the dev chain uses ECDSA P-256 instead, which is
an NCSC "good" choice and keeps handshakes and certificate generation fast. The profile
(BasicConstraints, KeyUsage, SKI/AKI, no wildcards) is strict enough for OpenSSL's ``X509_STRICT``
mode and for ``cryptography.x509.verification``.

Keeping the chain on disk (``ensure_dev_pki``) is I/O: :mod:`medmij_stack.runtime.devpki`.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA_VALID_DAYS",
    "CLOCK_SKEW",
    "INTERMEDIATE_CA_NAME",
    "LEAF_RENEW_BEFORE",
    "ROOT_CA_NAME",
    "as_utc",
    "fresh",
    "generate_key",
    "issue_leaf",
    "issued_by",
    "make_ca",
    "same_key",
    "validate_hostname",
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


def as_utc(moment: datetime) -> datetime:
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
    start = as_utc(not_before) if not_before else datetime.now(UTC) - CLOCK_SKEW
    end = as_utc(not_after) if not_after else start + timedelta(days=CA_VALID_DAYS)
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
        .not_valid_before(as_utc(not_before))
        .not_valid_after(as_utc(not_after))
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


def same_key(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    return cert.public_key() == key.public_key()


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def fresh(cert: x509.Certificate, now: datetime, margin: timedelta) -> bool:
    return cert.not_valid_after_utc > now + margin
