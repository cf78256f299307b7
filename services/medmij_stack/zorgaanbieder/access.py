"""Who is asking: from the bearer token to one patient at one FHIR base, or a refusal.

Resource interface (docs/protocol.md#resource-requests): the PGO sends the access token in the
``Authorization`` header (``core.rscint.200``, RFC 6750 §2.1) and nothing in the request
identifies the person; the token is bound to one person, one zorgaanbieder and the
gegevensdiensten of the consent, and must not open any other
(docs/architecture.md#bad-input-and-failure). Two kinds of token are known:

* tokens of the MedMij flow, which this DVA's authorisation server introspects
  (:mod:`zorgaanbieder.introspection`): the answer names the zorgaanbieder, the
  gegevensdiensten and the BSN, which the store maps to its own patient;
* the fixed tokens of the Nictiz qualification material (docs/qualification.md#tokens: "a
  pre-configured registry of the fixed tokens"), each bound to one patient of one
  endpoint.

A token that neither knows is ``401 invalid_token``; one for another zorgaanbieder or
gegevensdienst is ``403 insufficient_scope``. A person the token is good for but who
has no record at this endpoint gets empty answers, not an error: the token is valid.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from .dataset import EndpointKey
from .errors import InsufficientScope, InvalidRequest, InvalidToken, MissingToken
from .introspection import Introspector
from .records import Records

__all__ = ["Access", "AccessResolver", "bearer_token"]

# RFC 6750 §2.1 b64token.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_MEMO_ENTRIES = 10_000
_T = TypeVar("_T")


@dataclass(frozen=True)
class Access:
    """A request's right: this endpoint, and the patient there (None: no record here)."""

    endpoint: EndpointKey
    patient_id: str | None


def bearer_token(authorization: Sequence[str]) -> str:
    """The access token from the ``Authorization`` header field(s) of a request."""
    if not authorization:
        raise MissingToken("no access token: send Authorization: Bearer <token>")
    if len(authorization) > 1:
        raise InvalidRequest("more than one Authorization header")
    scheme, _, token = authorization[0].strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("the Authorization header must be: Bearer <token>")
    if not _B64TOKEN.fullmatch(token):
        raise InvalidToken("the access token is malformed")
    return token


class _Memo:
    """A bounded map of answers the store gave; cleared whenever data is loaded."""

    def __init__(self) -> None:
        self._items: OrderedDict[Hashable, object] = OrderedDict()

    def clear(self) -> None:
        self._items.clear()

    async def get(self, key: Hashable, compute: Callable[[], _T]) -> _T:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]  # type: ignore[return-value]
        value = await run_in_threadpool(compute)
        self._items[key] = value
        if len(self._items) > _MEMO_ENTRIES:
            self._items.popitem(last=False)
        return value


class AccessResolver:
    """Decides which patient at which endpoint a token opens, or refuses it."""

    def __init__(self, records: Records, introspector: Introspector | None) -> None:
        self._records = records
        self._introspector = introspector
        self._registry = _Memo()
        self._patients = _Memo()

    def forget(self) -> None:
        """Drop what was learnt from the store (after a load)."""
        self._registry.clear()
        self._patients.clear()

    async def resolve(
        self, endpoint: EndpointKey, token: str, thumbprint: str | None = None
    ) -> Access:
        """The right ``token`` gives at ``endpoint``, presented over a connection whose client
        certificate has ``thumbprint`` (RFC 8705 3.1 x5t#S256; None: no certificate)."""
        records = self._records
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        bound = await self._registry.get(digest, lambda: records.token_patient(token))
        if bound is not None:
            if bound[0] != endpoint:
                raise InsufficientScope(
                    "the access token is for another zorgaanbieder or gegevensdienst"
                )
            return Access(endpoint, bound[1])
        if self._introspector is None:
            raise InvalidToken("the access token is not known here")
        answer = await self._introspector.introspect(token)
        if not answer.active or answer.bsn is None:
            raise InvalidToken("the access token is unknown, expired or revoked")
        if answer.cnf_x5t_s256 is not None and not (
            thumbprint is not None and hmac.compare_digest(answer.cnf_x5t_s256, thumbprint)
        ):
            # RFC 8705 3: a token is good only over the certificate it was issued over.
            raise InvalidToken("the access token was issued to another client certificate")
        if answer.zorgaanbieder != endpoint.zorgaanbieder:
            raise InsufficientScope("the access token is for another zorgaanbieder")
        if endpoint.gegevensdienst not in answer.gegevensdiensten:
            raise InsufficientScope(
                f"the access token does not cover gegevensdienst {endpoint.gegevensdienst}"
            )
        bsn = answer.bsn
        patient_id = await self._patients.get(
            (endpoint, bsn), lambda: records.patient_for_bsn(endpoint, bsn)
        )
        return Access(endpoint, patient_id)
