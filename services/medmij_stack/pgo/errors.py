"""Every error the PGO's web app answers on purpose, and the one handler that renders it.

::

    PgoError
     ├── NotLoggedIn      a page that needs an account: 303 to /inloggen
     ├── FormExpired      a POST without the session's CSRF token (or without a
     │                    session): 400, "het formulier is verlopen", nothing done
     ├── BadRequest       a form or query the pages never send: 400, in Dutch
     └── NotFound         no such page, attempt or category (or not this person's): 404

Anything else is a fault of the PGO: the catch-all handler in ``app.py`` shows a Dutch
page and logs the exception; no stack trace reaches the person.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BadRequest", "FormExpired", "NotFound", "NotLoggedIn", "PgoError"]


class PgoError(Exception):
    """Root of every error the web app answers on purpose."""


class NotLoggedIn(PgoError):
    pass


class FormExpired(PgoError):
    pass


@dataclass
class BadRequest(PgoError):
    message: str

    def __post_init__(self) -> None:
        super().__init__(self.message)


@dataclass
class NotFound(PgoError):
    message: str = "Deze pagina bestaat niet."

    def __post_init__(self) -> None:
        super().__init__(self.message)
