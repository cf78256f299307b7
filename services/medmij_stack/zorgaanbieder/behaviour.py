"""A zorgaanbieder's simulated misbehaviour (its ``gedrag``): slow, failing or hanging answers.

Measurement needs resource servers that are slow or fail now and then (docs/protocol.md#measurement,
``medmij simulate``: "slow or failing resource servers"), and MedMij's norm for them is an
answer within 60 seconds for 98.5% of the time (``core.rscint.202``). The randomness is
seeded per zorgaanbieder from the world's seed, so that a measurement can be repeated.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from collections.abc import Awaitable, Callable

from .errors import GatewayTimeout, ServerFailure
from .settings import Gedrag

__all__ = ["Behaviour"]


class Behaviour:
    """Applies one zorgaanbieder's ``gedrag`` to each FHIR request it serves."""

    def __init__(
        self,
        gedrag: Gedrag,
        *,
        seed: int,
        naam: str,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.gedrag = gedrag
        # crc32, not hash(): str hashes differ per process, and a run must repeat exactly.
        self._rng = random.Random(seed ^ zlib.crc32(naam.encode("utf-8")))  # noqa: S311 - simulation, not security
        self._sleep = sleep

    async def apply(self) -> None:
        """Wait, hang or fail as the gedrag says; return normally to serve the request."""
        gedrag = self.gedrag
        if not gedrag.active:
            return
        if gedrag.latentie_ms:
            await self._sleep(gedrag.latentie_ms / 1000)
        draw = self._rng.random()
        if draw < gedrag.timeoutkans:
            await self._sleep(gedrag.timeout_seconden)
            raise GatewayTimeout(
                f"no answer within {gedrag.timeout_seconden:g} s (simulated: gedrag.timeoutkans)"
            )
        if draw < gedrag.timeoutkans + gedrag.foutkans:
            raise ServerFailure("simulated failure of this zorgaanbieder (gedrag.foutkans)")
