"""The scope a PGO asks for, and reading back what the DVA granted.

Asking (docs docs/protocol.md#authorization-request; ``core.authint.200``, RFC0039). The
scope grammar changed over the generations of the Afsprakenstelsel
(:mod:`medmij_stack.protocol.scope`):

* AS 2.x (InterfaceversieId 2 and up in the ZAL): Verzamelen asks the bare
  zorgaanbiedernaam, which covers every verzamel-gegevensdienst of that zorgaanbieder in
  the interface version. When the person chose only some of them, the PGO asks the
  RFC0039 combinations ``naam~id`` of those instead, which AS 2.x DVAs accept as well, so
  that the consent covers no more than the person chose.
* AS 1.x (InterfaceversieId 1.*): the combinations ``naam~id``, always.

Reading back (docs docs/protocol.md#token-response). The token response's ``scope`` omits
the services the beschikbaarheidstoets found nothing for. Three spellings are in use:
``naam~id`` pairs (this stack's DVA), bare GegevensdienstIds (MGO's mock), or the bare name;
an absent scope means "as requested" (RFC 6749 5.1). Anything the PGO did not ask for is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

from medmij_stack.protocol.scope import (
    CombinatieScope,
    Scope,
    ZorgaanbiederScope,
    zorgaanbieder_from_naam,
)

__all__ = ["granted_services", "request_scope"]


def _major(interfaceversie: str) -> int:
    head = interfaceversie.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def request_scope(
    zorgaanbieder: str, chosen: Sequence[str], offered: Sequence[str], interfaceversie: str
) -> Scope:
    """The scope for ``chosen`` gegevensdiensten of ``zorgaanbieder`` (its ZAL name).

    ``offered``: every gegevensdienst this PGO could retrieve there in that interface
    version. Raises ScopeError for a name the grammar refuses.
    """
    bare = zorgaanbieder_from_naam(zorgaanbieder)
    if _major(interfaceversie) >= 2 and set(chosen) >= set(offered):
        return ZorgaanbiederScope(bare)
    return CombinatieScope(bare, tuple(chosen))


def granted_services(
    scope: str | None, zorgaanbieder: str, requested: Sequence[str]
) -> tuple[str, ...]:
    """The requested gegevensdiensten the token response's ``scope`` grants, in request order."""
    if scope is None or not scope.strip():
        return tuple(requested)
    bare = zorgaanbieder.removesuffix("@medmij")
    granted: set[str] = set()
    for part in scope.split():
        naam, tilde, gegevensdienst = part.partition("~")
        if not tilde:
            if part == bare:
                granted.update(requested)
            else:
                granted.add(part)  # a bare id
        elif naam == bare:
            granted.add(gegevensdienst)
    return tuple(g for g in requested if g in granted)
