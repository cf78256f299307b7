"""Exceptions of `medmij_stack.protocol.lists`.

Receivers must validate every new list against its schema ("XML-schema's" page:
"van ontvanger van de vier lijsten te eisen zo'n validatie uit te voeren"); a list
that fails is refused with `ListValidationError`. A node that holds lists refuses a
new one with `ListRefused`, which also covers lists that are valid but older than
the one held.
"""

from __future__ import annotations

from medmij_stack.protocol.lists.models import ListKind


class ListValidationError(ValueError):
    """A document is not a valid MedMij list (or a model cannot be written as one).

    `line` is the line in the document where the problem was found, when known.
    """

    def __init__(self, kind: ListKind, problem: str, *, line: int | None = None) -> None:
        self.kind = kind
        self.problem = problem
        self.line = line
        where = f" (line {line})" if line is not None else ""
        super().__init__(f"{kind.root}{where}: {problem}")


class ListRefused(Exception):
    """A holder did not take a new list; the list it held stays in place.

    `reason` says why in words fit for a log line or a status page.
    """

    def __init__(self, kind: ListKind, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(f"{kind.root} refused: {reason}")
