"""Which list may follow the one a node accepted last: the rules, without I/O.

The Stelselnode raises a list's Volgnummer by one on each publication ("XML-schema's",
rule 2) and stamps it with the moment it was made (Tijdstempel). A node keeps the last
list it accepted and refuses a lower Volgnummer, so an old list cannot be replayed. That
rule alone lets one bad list lock a node out for good: a list with Volgnummer 10⁹, or
with a Tijdstempel far in the future, would be accepted, and every normal list after it
refused as older. So a list is also refused when, compared with the last one accepted,

* its Volgnummer jumps by more than `MAX_VOLGNUMMER_STEP`;
* its Tijdstempel goes backwards (a higher Volgnummer made earlier);
* its Tijdstempel lies more than `MAX_CLOCK_SKEW` ahead of the node's clock.

The list in force stays in force; the refusal says why. The Afsprakenstelsel states
none of these rules; they follow from what the Volgnummer and Tijdstempel mean.
`medmij_stack.runtime.lists.holder` applies them, also across a restart of the node.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from medmij_stack.protocol.lists.models import MedMijList
from medmij_stack.protocol.lists.writer import write_list

__all__ = ["MAX_CLOCK_SKEW", "MAX_VOLGNUMMER_STEP", "Mark", "content_digest", "refusal"]

MAX_VOLGNUMMER_STEP = 10_000
"""The largest rise of the Volgnummer accepted at once. One publication raises it by one;
even a list republished every hour would take more than a year to rise this much while a
node was away."""

MAX_CLOCK_SKEW = timedelta(hours=1)
"""How far a Tijdstempel may lie ahead of the node's clock (clocks differ a little)."""


def content_digest(lst: MedMijList) -> str:
    """A digest of everything in the list, Volgnummer and Tijdstempel included.

    Taken from the canonical document (`write_list`), so it does not depend on how the
    Stelselnode laid out its XML.
    """
    return hashlib.sha256(write_list(lst, check=False)).hexdigest()


@dataclass(frozen=True)
class Mark:
    """What a node remembers of the last list it accepted."""

    volgnummer: int
    tijdstempel: datetime
    digest: str

    @classmethod
    def of(cls, lst: MedMijList) -> Mark:
        return cls(lst.volgnummer, lst.tijdstempel, content_digest(lst))


def refusal(
    last: Mark | None,
    new: MedMijList,
    *,
    now: datetime,
    max_step: int = MAX_VOLGNUMMER_STEP,
    max_skew: timedelta = MAX_CLOCK_SKEW,
) -> str | None:
    """Why `new` may not follow the last accepted list (`last`), or None when it may.

    A list with the last Volgnummer may follow only when it is the same list (same
    digest); the caller then keeps what it has.
    """
    if new.tijdstempel > now + max_skew:
        return (
            f"Tijdstempel {new.tijdstempel.isoformat()} lies in the future "
            f"(more than {_duration(max_skew)} after this node's clock, {now.isoformat()})"
        )
    if last is None:
        return None
    if new.volgnummer < last.volgnummer:
        return f"Volgnummer {new.volgnummer} is lower than the held {last.volgnummer}"
    if new.volgnummer == last.volgnummer:
        if content_digest(new) != last.digest:
            return (
                f"Volgnummer {new.volgnummer} is already held with different content; "
                "a changed list needs a higher Volgnummer"
            )
        return None
    if new.volgnummer - last.volgnummer > max_step:
        return (
            f"Volgnummer jumps from {last.volgnummer} to {new.volgnummer}, more than "
            f"{max_step} at once; accepting it would lock out every later list"
        )
    if new.tijdstempel < last.tijdstempel:
        return (
            f"Tijdstempel {new.tijdstempel.isoformat()} goes backwards: Volgnummer "
            f"{last.volgnummer} was made at {last.tijdstempel.isoformat()}"
        )
    return None


def _duration(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
