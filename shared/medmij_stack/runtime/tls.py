"""TLS contexts for MedMij nodes, and the Whitelist check on a peer certificate.

Spec rules and the reading taken:

* core.tls.300 — all traffic on the MedMij network is TLS: every context here is for TLS only.
* core.tls.301 — only versions and algorithms the NCSC "ICT-beveiligingsrichtlijnen voor TLS 2.1"
  rate "goed": TLS 1.2 and 1.3 (minimum and maximum pinned). For TLS 1.2 the suites are ECDHE
  key exchange with AES-GCM or ChaCha20-Poly1305 and ECDSA or RSA authentication
  (:data:`TLS12_CIPHERS`); that excludes CBC, static-RSA key exchange, SHA-1 MACs and everything
  export/anonymous. ``@SECLEVEL=2`` additionally refuses SHA-1 signatures and short keys. For
  TLS 1.3, OpenSSL's default suites (AES-GCM and ChaCha20-Poly1305) are all "goed"; Python 3.11
  cannot configure them, nor the key-exchange groups, whose OpenSSL defaults (X25519, P-256, X448,
  P-384, P-521) are likewise all "goed". Compression and renegotiation are switched off.
* core.tls.303 — no TLS False Start: OpenSSL does not implement False Start, so nothing to switch.
* core.tls.304 — the highest version both sides support: OpenSSL negotiates the highest common
  version and, as a TLS 1.3 server, sets the downgrade sentinel that a TLS 1.3 client checks.
* core.tls.314 — back-channel certificates chain to the PKIoverheid Private Root G1: the
  contexts trust *only* the CA files passed in (never the system store), verify the chain with
  ``X509_STRICT`` and always check the server hostname.
* Whitelist rule (UCI Opvragen Whitelist, see docs/protocol.md#tls-and-the-whitelist): a
  node lets back-channel traffic through only when "de Common Name of een van de eventuele
  Subject Alternative Names" of the certificate offered by the other node is on the most
  recent Whitelist. :func:`whitelisted` is that test, case-insensitive (DNS names are).
  Where and when it runs on the server side is explained in
  :mod:`medmij_stack.runtime.asgi_tls`; :class:`PeerRefused` is the exception for a negative
  outcome.
"""

from __future__ import annotations

import ssl
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.x509.oid import NameOID

__all__ = [
    "TLS12_CIPHERS",
    "ClientCertMode",
    "PeerRefused",
    "check_hostnames",
    "check_peer",
    "client_context",
    "peer_hostnames",
    "server_context",
    "whitelisted",
]

TLS12_CIPHERS = ":".join(
    [
        # NCSC TLS guidelines 2.1, table 5 ("goed"): ECDHE, AEAD ciphers, SHA-2.
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-RSA-AES128-GCM-SHA256",
    ]
)
"""OpenSSL cipher string for the TLS 1.2 suites allowed; TLS 1.3 suites are not affected by it."""

ClientCertMode = Literal["none", "optional", "required"]

_VERIFY_MODES: dict[str, ssl.VerifyMode] = {
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}


class PeerRefused(Exception):
    """A peer may not use the back channel; ``reason`` says why, in words fit for a client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _harden(context: ssl.SSLContext) -> None:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.set_ciphers(f"{TLS12_CIPHERS}:@SECLEVEL=2")
    # CRIME-style attacks; insecure or DoS-prone renegotiation. OP_NO_RENEGOTIATION only affects
    # TLS 1.2 (TLS 1.3 has no renegotiation).
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    # X509_STRICT rejects malformed certificates (e.g. a CA without critical BasicConstraints)
    # that lenient verification would accept; PKIoverheid certificates are well-formed.
    context.verify_flags |= ssl.VERIFY_X509_STRICT


def _load_trust(context: ssl.SSLContext, trust: Sequence[Path]) -> None:
    for cafile in trust:
        context.load_verify_locations(cafile=str(cafile))


def server_context(
    cert: Path,
    key: Path,
    *,
    trust: Sequence[Path],
    client_certs: ClientCertMode,
) -> ssl.SSLContext:
    """A TLS server context for a node.

    ``cert`` holds the leaf followed by its intermediate(s), so clients that trust only the root
    can build the chain. ``trust`` lists the CA PEM files client certificates must chain to (the
    dev root, or the PKIoverheid Private Root G1, plus e.g. an external developer's CA).
    ``client_certs``: ``"required"`` for pure back-channel listeners, ``"optional"`` where one
    listener also serves unauthenticated paths (the gate in :mod:`medmij_stack.runtime.asgi_tls`
    then refuses back-channel requests without a certificate), ``"none"`` for the front channel.

    A certificate that is offered is always verified during the handshake: a wrong CA, an expired
    certificate or a broken chain ends the handshake with an alert, in every mode but "none".
    """
    if client_certs not in _VERIFY_MODES:
        raise ValueError(f"client_certs must be one of {sorted(_VERIFY_MODES)}: {client_certs!r}")
    if client_certs != "none" and not trust:
        raise ValueError("client certificates need at least one trusted CA file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _harden(context)
    # The server picks from its own ordered, all-"goed" list rather than following the client.
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    if client_certs != "none":
        _load_trust(context, trust)
    context.verify_mode = _VERIFY_MODES[client_certs]
    return context


def client_context(
    trust: Sequence[Path],
    *,
    cert: Path | None = None,
    key: Path | None = None,
) -> ssl.SSLContext:
    """A TLS client context: verifies the server's chain against ``trust`` only, and its hostname.

    ``cert``/``key`` is the node's own leaf (with intermediate) for mutual TLS on the back
    channel. The system trust store is deliberately not loaded (core.tls.314: Private Root only).
    """
    if not trust:
        raise ValueError("a client context needs at least one trusted CA file")
    if (cert is None) != (key is None):
        raise ValueError("cert and key go together")
    # PROTOCOL_TLS_CLIENT sets CERT_REQUIRED and check_hostname; they are set again so that the
    # guarantee is visible here and survives a change of default.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _harden(context)
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    _load_trust(context, trust)
    if cert is not None and key is not None:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    return context


def _as_certificate(cert: x509.Certificate | bytes) -> x509.Certificate:
    if isinstance(cert, x509.Certificate):
        return cert
    return x509.load_der_x509_certificate(bytes(cert))


def peer_hostnames(cert: x509.Certificate | bytes) -> frozenset[str]:
    """The lower-cased Common Name(s) and DNS Subject Alternative Names of a certificate.

    ``cert`` is a cryptography certificate or DER bytes (what ``SSLSocket.getpeercert(True)``
    returns). Other SAN types (IP addresses, URIs, e-mail) are not host names and are left out.
    """
    certificate = _as_certificate(cert)
    names: set[str] = set()
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attribute.value
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        names.add(value.lower())
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        pass
    else:
        names.update(name.lower() for name in san.get_values_for_type(x509.DNSName))
    return frozenset(names)


def whitelisted(cert: x509.Certificate | bytes, whitelist: Collection[str]) -> bool:
    """True iff the certificate's CN or one of its DNS SANs is on the Whitelist (any case)."""
    return _on_whitelist(peer_hostnames(cert), whitelist)


def _on_whitelist(names: frozenset[str], whitelist: Collection[str]) -> bool:
    # Fast path for the usual case of a set of lower-case names; the full case-folding scan is
    # the fallback, so a Whitelist written in another case still matches.
    if any(name in whitelist for name in names):
        return True
    return not names.isdisjoint({entry.lower() for entry in whitelist})


def check_peer(
    cert: x509.Certificate | bytes | None, whitelist: Collection[str] | None
) -> frozenset[str]:
    """Apply the Whitelist rule to a peer; return its host names or raise :class:`PeerRefused`.

    Fails closed: no certificate, no Whitelist loaded yet (``None``), or no name on it, all refuse.
    """
    if cert is None:
        raise PeerRefused("a client certificate is required on the back channel")
    return check_hostnames(peer_hostnames(cert), whitelist)


def check_hostnames(names: frozenset[str], whitelist: Collection[str] | None) -> frozenset[str]:
    """:func:`check_peer` for host names already taken from a certificate (lower case)."""
    if whitelist is None:
        raise PeerRefused("no Whitelist is available, so no node can be admitted")
    if not _on_whitelist(names, whitelist):
        shown = ", ".join(sorted(names)) or "(no host name)"
        raise PeerRefused(f"certificate host name not on the Whitelist: {shown}")
    return names
