"""Each person's browser, kept between their attempts: a live PGO session, as in real use.

A person who fetches twice in a month does not log in twice: the PGO's app or site still
has their session. :class:`Browsers` keeps one :class:`~.scripted.ScriptedPatient` (its
cookie jar, its kept-alive connections) per person, and hands it to one attempt at a time:
a person uses their browser for one thing after another. An attempt gives the browser
back with :meth:`Browser.keep` only when it leaves nothing half-open in the session: a
person who left the search page without choosing closed the tab (their next visit starts
afresh, and the PGO sees that search as one abandoned attempt of its own), and a browser
that met a page it could not get past is thrown away. Every browser not given back is
closed when the attempt ends; :meth:`Browsers.close` closes the rest (at the end of a
month: a session does not outlive the PGO's idle limit between months).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable
from typing import Any

from medmij_stack.protocol.funnel import Device

from .scripted import ScriptedPatient
from .stack import PgoAccount, StackInfo

__all__ = ["Browser", "Browsers"]


class Browser:
    """One person's browser, lent to one attempt."""

    def __init__(self, patient: ScriptedPatient, *, reused: bool) -> None:
        self.patient = patient
        self.reused = reused
        self.kept = False

    def keep(self) -> None:
        """Give the browser back for the person's next attempt (default: close it)."""
        self.kept = True


class Browsers:
    """People's browsers by a key of the caller's (who the person is)."""

    def __init__(self) -> None:
        self._idle: dict[Hashable, ScriptedPatient] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def lend(
        self,
        key: Hashable,
        stack: StackInfo,
        account: PgoAccount,
        *,
        device: Device = Device.PC,
        **options: Any,
    ) -> AsyncIterator[Browser]:
        """The person's browser while the block runs: their kept one, else a new one."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            kept = self._idle.pop(key, None)
            patient = kept or ScriptedPatient.for_account(stack, account, device=device, **options)
            browser = Browser(patient, reused=kept is not None)
            try:
                yield browser
            finally:
                if browser.kept:
                    self._idle[key] = patient
                else:
                    await patient.aclose()

    async def close(self) -> None:
        """Close every kept browser."""
        idle, self._idle = self._idle, {}
        for patient in idle.values():
            await patient.aclose()
