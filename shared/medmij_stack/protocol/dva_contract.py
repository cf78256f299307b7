"""The back-channel contract between the two halves of one DVA.

The Afsprakenstelsel fixes what crosses the DVA's border (authorization, token and
resource interfaces) but not how its authorisation server and resource server talk to
each other. This stack runs them as separate services, so they need a contract; both
calls go over mutual TLS between whitelisted nodes of the same DVA.

1. **Introspection** (RFC 7662, resource server → authorisation server):
   `POST <back>/oauth/introspect`, form `token=<access token>`. An active token answers
   the RFC's members plus what the resource server needs to scope every search:
   `zorgaanbieder` (the Zorgaanbiedernaam, with "@medmij"), `gegevensdiensten` (the ids
   the consent covers) and `bsn` (the person the DigiD login established). The BSN stays
   inside the DVA: the resource server maps it to its own patient and never returns it.
   An unknown, expired or revoked token answers `{"active": false}` and nothing else.
   A token is bound to the client certificate it was issued over at the token endpoint
   (RFC 8705 3): the answer carries `cnf: {"x5t#S256": <thumbprint>}` and the resource
   server refuses the token over a connection with another certificate.

2. **Beschikbaarheidstoets** (authorisation server → resource server):
   `POST <resource>/_dva/beschikbaarheid`, JSON `{"zorgaanbieder", "bsn",
   "gegevensdiensten"}`, answers `{"beschikbaar": [ids with data for this person]}`.
   The authorisation server then grants only those (token interface: "met daaruit
   weggelaten de niet-beschikbare zorgaanbieder-gegevensdienst-combinaties").

3. **Revocation notice** (authorisation server → resource server):
   `POST <resource>/_dva/ingetrokken`, JSON `{"access_token_sha256": [hex digests]}`,
   sent after a revocation is committed and before it is answered (RFC 7009, a replayed
   code or refresh token, a consent ended), answered `{"dropped": <count>}`. The resource
   server forgets what it cached of those tokens, so a revoked token opens nothing once
   its revocation has been answered, while introspection answers can still be cached.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AVAILABILITY_PATH",
    "INTROSPECTION_PATH",
    "REVOCATION_PATH",
    "AvailabilityAnswer",
    "AvailabilityQuestion",
    "Introspection",
    "RevocationNotice",
    "certificate_thumbprint",
]

INTROSPECTION_PATH = "/oauth/introspect"
AVAILABILITY_PATH = "/_dva/beschikbaarheid"
REVOCATION_PATH = "/_dva/ingetrokken"
_SHA256_HEX = frozenset("0123456789abcdef")


def certificate_thumbprint(der: bytes | None) -> str | None:
    """RFC 8705 3.1 ``x5t#S256``: base64url (no padding) SHA-256 of the certificate's DER."""
    if not der:
        return None
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode("ascii")


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a list of strings")
    return tuple(value)


@dataclass(frozen=True)
class Introspection:
    """An RFC 7662 answer; the extra members are only present when `active`."""

    active: bool
    client_id: str | None = None
    scope: str | None = None
    exp: int | None = None
    iat: int | None = None
    zorgaanbieder: str | None = None
    gegevensdiensten: tuple[str, ...] = ()
    bsn: str | None = None
    cnf_x5t_s256: str | None = None  # RFC 8705 3.2: the certificate the token is bound to

    def to_json(self) -> dict[str, Any]:
        if not self.active:
            return {"active": False}  # RFC 7662 §2.2: say nothing more about a dead token
        bound = {} if self.cnf_x5t_s256 is None else {"cnf": {"x5t#S256": self.cnf_x5t_s256}}
        return bound | {
            "active": True,
            "token_type": "Bearer",
            "client_id": self.client_id,
            "scope": self.scope,
            "exp": self.exp,
            "iat": self.iat,
            "zorgaanbieder": self.zorgaanbieder,
            "gegevensdiensten": list(self.gegevensdiensten),
            "bsn": self.bsn,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Introspection:
        """Read an answer; raises ValueError when an active answer lacks a member we need."""
        if data.get("active") is not True:
            return cls(active=False)
        try:
            exp = int(data["exp"])
            zorgaanbieder = str(data["zorgaanbieder"])
            bsn = str(data["bsn"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"introspection answer incomplete: {exc}") from exc
        cnf = data.get("cnf")
        thumbprint = None
        if cnf is not None:
            thumbprint = cnf.get("x5t#S256") if isinstance(cnf, Mapping) else None
            if not isinstance(thumbprint, str):
                raise ValueError("cnf must hold an x5t#S256 string")
        return cls(
            active=True,
            client_id=data.get("client_id"),
            scope=data.get("scope"),
            exp=exp,
            iat=data.get("iat"),
            zorgaanbieder=zorgaanbieder,
            gegevensdiensten=_strings(data.get("gegevensdiensten"), "gegevensdiensten"),
            bsn=bsn,
            cnf_x5t_s256=thumbprint,
        )


@dataclass(frozen=True)
class AvailabilityQuestion:
    zorgaanbieder: str
    bsn: str
    gegevensdiensten: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "zorgaanbieder": self.zorgaanbieder,
            "bsn": self.bsn,
            "gegevensdiensten": list(self.gegevensdiensten),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AvailabilityQuestion:
        try:
            return cls(
                zorgaanbieder=str(data["zorgaanbieder"]),
                bsn=str(data["bsn"]),
                gegevensdiensten=_strings(data["gegevensdiensten"], "gegevensdiensten"),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"availability question incomplete: {exc}") from exc


@dataclass(frozen=True)
class AvailabilityAnswer:
    beschikbaar: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"beschikbaar": list(self.beschikbaar)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AvailabilityAnswer:
        return cls(beschikbaar=_strings(data.get("beschikbaar"), "beschikbaar"))


@dataclass(frozen=True)
class RevocationNotice:
    """Access tokens just revoked, by the SHA-256 (hex) of each: never the tokens."""

    access_token_sha256: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"access_token_sha256": list(self.access_token_sha256)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RevocationNotice:
        digests = _strings(data.get("access_token_sha256"), "access_token_sha256")
        if not all(len(d) == 64 and _SHA256_HEX.issuperset(d) for d in digests):
            raise ValueError("access_token_sha256 holds SHA-256 digests in lower-case hex")
        return cls(digests)
