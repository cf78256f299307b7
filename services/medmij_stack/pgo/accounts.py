"""PGO accounts: sign up, log in with a lock-out on wrong passwords, and demo accounts.

Lock-out (OWASP Authentication Cheat Sheet, "Account lockout"): after
``login_failures_before_lock`` wrong passwords for one user name, that name is locked for
``login_lock_seconds``, doubling with each further failure up to
``login_lock_max_seconds``; a correct password afterwards clears the count. Failures are
counted per user name whether or not an account has it, and an unknown name costs the
same hashing time as a known one, so neither the answer, the lock nor the timing tells
whether an account exists. While locked, the password is not even checked.

Rules for a new account: a user name of 3-64 letters, digits, ``.``, ``-`` or ``_``
(compared in lower case), and a password of at least 10 characters (NIST SP 800-63B
asks at least 8; no composition rules, as it advises) that differs from the user name.
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from medmij_stack.protocol.funnel import Clock

from . import passwords
from .db import Database
from .settings import DemoAccount
from .tables import Account, LoginThrottle

__all__ = ["Accounts", "Lockout", "LoginResult", "SignupProblem", "normalise"]

_NAME = re.compile(r"[a-z0-9._-]{3,64}")
MIN_PASSWORD = 10
_NAMES_PER_QUERY = 500  # well below SQLite's limit of bound parameters


@functools.cache
def _dummy_hash(cost: passwords.ScryptParameters) -> str:
    """What an unknown name's password is checked against.

    At the cost of the accounts people make here (``passwords.DEFAULT`` outside tests): a
    cheaper dummy would answer an unknown name faster than a real account's wrong password
    and so tell which names exist. Demo accounts are cheaper, but their names are published
    anyway. Made on the first unknown name, not at import (at DEFAULT about half a second).
    """
    return passwords.hash_password("niemand-heeft-dit-wachtwoord", cost)


def normalise(gebruikersnaam: str) -> str:
    return gebruikersnaam.strip().lower()


@dataclass(frozen=True)
class SignupProblem:
    """What is wrong with a sign-up form, in Dutch, and which field it concerns."""

    field: str
    message: str


@dataclass(frozen=True)
class Lockout:
    gebruikersnaam: str
    failures: int
    locked_for: timedelta | None


@dataclass(frozen=True)
class LoginResult:
    account: Account | None
    locked_for: timedelta | None = None  # set when refused because of the lock-out


class Accounts:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        failures_before_lock: int,
        lock: timedelta,
        lock_max: timedelta,
        cost: passwords.ScryptParameters = passwords.DEFAULT,
        demo_cost: passwords.ScryptParameters = passwords.DEMO,
    ) -> None:
        self._db = db
        self._clock = clock
        self._failures_before_lock = failures_before_lock
        self._lock = lock
        self._lock_max = lock_max
        self._cost = cost
        self._demo_cost = demo_cost

    # --- sign up ---------------------------------------------------------------------

    def check_signup(
        self, gebruikersnaam: str, wachtwoord: str, herhaling: str
    ) -> list[SignupProblem]:
        problems = []
        name = normalise(gebruikersnaam)
        if not _NAME.fullmatch(name):
            problems.append(
                SignupProblem(
                    "gebruikersnaam",
                    "Kies een gebruikersnaam van 3 tot 64 tekens: letters, cijfers, "
                    "punt, streepje of liggend streepje.",
                )
            )
        if len(wachtwoord) < MIN_PASSWORD:
            problems.append(
                SignupProblem(
                    "wachtwoord", f"Kies een wachtwoord van minstens {MIN_PASSWORD} tekens."
                )
            )
        elif len(wachtwoord) > passwords.MAX_PASSWORD_LENGTH:
            problems.append(SignupProblem("wachtwoord", "Dit wachtwoord is te lang."))
        elif wachtwoord.strip().lower() == name:
            problems.append(
                SignupProblem("wachtwoord", "Je wachtwoord mag niet je gebruikersnaam zijn.")
            )
        if wachtwoord != herhaling:
            problems.append(
                SignupProblem("wachtwoord_herhaling", "De twee wachtwoorden zijn niet gelijk.")
            )
        return problems

    def sign_up(
        self, gebruikersnaam: str, wachtwoord: str, herhaling: str
    ) -> Account | list[SignupProblem]:
        problems = self.check_signup(gebruikersnaam, wachtwoord, herhaling)
        if problems:
            return problems
        created = self._create(
            normalise(gebruikersnaam), None, passwords.hash_password(wachtwoord, self._cost)
        )
        if created is None:
            return [
                SignupProblem(
                    "gebruikersnaam", "Deze gebruikersnaam is al in gebruik. Kies een andere."
                )
            ]
        return created

    def _account(self, name: str, naam: str | None, password_hash: str) -> Account:
        return Account(
            id=str(uuid.uuid4()),
            gebruikersnaam=name,
            naam=naam,
            password_hash=password_hash,
            created_at=self._clock(),
        )

    def _create(self, name: str, naam: str | None, password_hash: str) -> Account | None:
        account = self._account(name, naam, password_hash)
        try:
            with self._db.transaction() as session:
                session.add(account)
        except IntegrityError:
            return None
        return account

    def ensure_demo(self, demo: tuple[DemoAccount, ...]) -> int:
        """Make the demo accounts that do not exist yet; how many were made.

        A simulation world has thousands: the existing names are read in a few queries and
        the new accounts written in one transaction (one account per transaction, each a
        commit of its own, took longer than their hashing)."""
        wanted: dict[str, DemoAccount] = {}
        for entry in demo:
            wanted.setdefault(normalise(entry.gebruikersnaam), entry)
        names = list(wanted)
        existing: set[str] = set()
        with self._db.transaction() as session:
            for start in range(0, len(names), _NAMES_PER_QUERY):
                chosen = names[start : start + _NAMES_PER_QUERY]
                found = select(Account.gebruikersnaam).where(Account.gebruikersnaam.in_(chosen))
                existing.update(session.scalars(found))
        # The password is published in stack.json: the cheaper hash loses nothing.
        new = [
            (name, entry.naam, passwords.hash_password(entry.wachtwoord, self._demo_cost))
            for name, entry in wanted.items()
            if name not in existing
        ]
        if not new:
            return 0
        try:
            with self._db.transaction() as session:
                session.add_all(self._account(*made) for made in new)
            return len(new)
        except IntegrityError:
            # Another worker made some of them meanwhile: one at a time, keeping theirs.
            return sum(1 for made in new if self._create(*made) is not None)

    def get(self, account_id: str) -> Account | None:
        with self._db.transaction() as session:
            return session.get(Account, account_id)

    # --- log in ----------------------------------------------------------------------

    def log_in(self, gebruikersnaam: str, wachtwoord: str) -> LoginResult:
        name = normalise(gebruikersnaam)[:64]
        now = self._clock()
        with self._db.transaction() as session:
            throttle = session.get(LoginThrottle, name)
            locked_until = None if throttle is None else throttle.locked_until
            account = session.scalar(select(Account).where(Account.gebruikersnaam == name))
        if locked_until is not None and locked_until > now:
            return LoginResult(None, locked_for=locked_until - now)
        stored = _dummy_hash(self._cost) if account is None else account.password_hash
        correct = passwords.verify_password(wachtwoord, stored) and account is not None
        if correct:
            with self._db.transaction() as session:
                row = session.get(LoginThrottle, name)
                if row is not None:
                    session.delete(row)
            return LoginResult(account)
        lockout = self._fail(name)
        return LoginResult(None, locked_for=lockout.locked_for)

    def _fail(self, name: str) -> Lockout:
        now = self._clock()
        with self._db.transaction() as session:
            row = session.get(LoginThrottle, name)
            if row is None or now - row.last_failure_at > self._lock_max:
                if row is not None:
                    session.delete(row)
                    session.flush()
                row = LoginThrottle(gebruikersnaam=name, failures=0, last_failure_at=now)
                session.add(row)
            row.failures += 1
            row.last_failure_at = now
            locked_for = None
            over = row.failures - self._failures_before_lock
            if over >= 0:
                locked_for = min(self._lock * (2 ** min(over, 20)), self._lock_max)
                row.locked_until = now + locked_for
            return Lockout(name, row.failures, locked_for)
