"""A requested MedMij scope, checked against this DVA, the ZAL and the OCL; and the granted one.

Checks on the scope of an authorization request (``core.authint.202/203``; RFC0039
"2b. … verifieert de Authorization Server dat alle gevraagde GegevensdienstId's
voorkomen op de OAuth Client List, bij de betreffende client"):

1. the grammar of one of the generations medmij_stack.protocol.scope accepts (the AS 1.0 bare id is
   refused there, with the reason);
2. the zorgaanbieder is served by this DVA and is on the current ZAL;
3. every requested gegevensdienst is offered by that zorgaanbieder in the ZAL; the bare
   name (AS 2.x Verzamelen, RFC0039) means every verzamel-gegevensdienst of the newest
   interfaceversie in which the zorgaanbieder offers any;
4. Abonneren only where the ZAL offers a subscription, for at most its maximum duration;
5. the client is qualified for the gegevensdiensten, when the OCL says (for the bare
   name, the ones it is not qualified for are left out rather than refused).
6. the function has its screen here. Verzamelen has the Toestemmingsverklaring; Abonneren
   needs the "Toestemmingsverklaring, Abonneren" (notifications, never a langdurige
   toestemming) and Delen the Bevestigingsverklaring, which this server does not show
   yet. Until it does, a ``subscribe~…`` scope and a combination naming a Delen
   gegevensdienst are refused with a description that says so, rather than shown the
   Verzamelen screen (whose langdurige-toestemming option would give a subscription a
   refresh token, and which is the wrong text for sending data).

The granted scope (token response, ``core.tknint.201``). Reading taken (the spec leaves it open;
docs/protocol.md#token-response): the scope names exactly the gegevensdiensten that passed the
beschikbaarheidstoets, as RFC0039 combinations ``naam~id`` separated by one space.
For a combination request that is literally what the token interface prescribes (the
request's scope "met daaruit weggelaten de niet-beschikbare zorgaanbieder-
gegevensdienst-combinaties"); for a bare-name request the same form is used, because
the bare name cannot express an omission and bare ids ("48 63", as MGO's mock answers)
would not say whose data they are. Abonneren answers ``subscribe~N/naam~id`` with the
granted duration. Every form parses with medmij_stack.protocol.scope.parse_scope.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from medmij_stack.protocol import catalogue
from medmij_stack.protocol.lists import Zorgaanbieder, Zorgaanbiederslijst
from medmij_stack.protocol.scope import (
    AbonnerenScope,
    CombinatieScope,
    ScopeError,
    ZorgaanbiederScope,
    parse_scope,
    zorgaanbieder_from_naam,
)

from .clients import OclClient

__all__ = ["RequestedScope", "ScopeRefused", "granted_scope", "resolve_scope", "scope_ids"]


class ScopeRefused(ValueError):
    """The scope cannot be granted; the message is the error_description (invalid_scope)."""


@dataclass(frozen=True)
class RequestedScope:
    zorgaanbiedernaam: str  # as on the ZAL, with "@medmij"
    gegevensdiensten: tuple[str, ...]
    subscribe_days: int | None = None  # Abonneren: the duration granted

    @property
    def bare(self) -> str:
        return zorgaanbieder_from_naam(self.zorgaanbiedernaam)


def _newest_verzamelen(zorgaanbieder: Zorgaanbieder) -> tuple[str, ...]:
    def version_key(versie_id: str) -> tuple[int, ...]:
        return tuple(int(p) if p.isdigit() else -1 for p in versie_id.split("."))

    for versie in sorted(
        zorgaanbieder.interfaceversies, key=lambda v: version_key(v.id), reverse=True
    ):
        ids = tuple(
            dienst.id
            for dienst in versie.gegevensdiensten
            if dienst.id in catalogue.CATALOGUE
            and catalogue.CATALOGUE[dienst.id].functie is catalogue.Functie.VERZAMELEN
        )
        if ids:
            return ids
    return ()


def resolve_scope(
    raw: str,
    *,
    served: Collection[str],
    zal: Zorgaanbiederslijst,
    client: OclClient,
) -> RequestedScope:
    """The zorgaanbieder and gegevensdiensten a scope asks for; ScopeRefused says why not."""
    try:
        scope = parse_scope(raw)
    except ScopeError as error:
        raise ScopeRefused(f"Invalid scope: {error}") from None
    naam = scope.zorgaanbiedernaam
    if naam not in served:
        raise ScopeRefused(
            f"Invalid scope: zorgaanbieder {scope.zorgaanbieder} is not served by this "
            "authorization server."
        )
    entry = zal.get(naam)
    if entry is None:
        raise ScopeRefused(
            f"Invalid scope: zorgaanbieder {scope.zorgaanbieder} is not on the Zorgaanbiederslijst."
        )
    days: int | None = None
    if isinstance(scope, ZorgaanbiederScope):
        wanted = tuple(g for g in _newest_verzamelen(entry) if client.entry.is_qualified_for(g))
        if not wanted:
            raise ScopeRefused(
                f"Invalid scope: zorgaanbieder {scope.zorgaanbieder} offers no "
                "verzamel-gegevensdienst this client may ask for."
            )
        return RequestedScope(naam, wanted)
    wanted = scope.gegevensdienst_ids
    for gegevensdienst in wanted:
        dienst = entry.gegevensdienst(gegevensdienst)
        if dienst is None:
            raise ScopeRefused(
                f"Invalid scope: zorgaanbieder {scope.zorgaanbieder} does not offer "
                f"gegevensdienst {gegevensdienst} in the Zorgaanbiederslijst."
            )
        if not client.entry.is_qualified_for(gegevensdienst):
            raise ScopeRefused(
                f"Invalid scope: the client is not qualified for gegevensdienst "
                f"{gegevensdienst} on the OAuth Client List."
            )
        if isinstance(scope, AbonnerenScope):
            if dienst.abonneren is None:
                raise ScopeRefused(
                    f"Invalid scope: zorgaanbieder {scope.zorgaanbieder} offers no "
                    f"subscription to gegevensdienst {gegevensdienst}."
                )
            days = min(scope.max_dagen, dienst.abonneren.maximale_duur)
        if _functie(gegevensdienst) is catalogue.Functie.DELEN:
            raise ScopeRefused(
                f"Invalid scope: gegevensdienst {gegevensdienst} is for Delen, which needs the "
                "Bevestigingsverklaring; this authorization server does not offer Delen yet."
            )
    if isinstance(scope, AbonnerenScope):
        raise ScopeRefused(
            "Invalid scope: subscriptions (subscribe~N/...) need the Toestemmingsverklaring "
            "Abonneren; this authorization server does not offer Abonneren yet."
        )
    return RequestedScope(naam, tuple(wanted), days)


def _functie(gegevensdienst: str) -> catalogue.Functie | None:
    entry = catalogue.CATALOGUE.get(gegevensdienst)
    return None if entry is None else entry.functie


def granted_scope(requested: RequestedScope, available: tuple[str, ...]) -> str:
    """The scope of the token response: the available gegevensdiensten (see module docstring)."""
    if not available:
        raise ValueError("nothing available: there is no scope to grant")
    if requested.subscribe_days is not None:
        (gegevensdienst,) = available
        return f"subscribe~{requested.subscribe_days}/{requested.bare}~{gegevensdienst}"
    return " ".join(f"{requested.bare}~{gegevensdienst}" for gegevensdienst in available)


def scope_ids(granted: str) -> tuple[str, str, tuple[str, ...]]:
    """(zorgaanbiedernaam, bare name, gegevensdienst ids) of a scope this server granted."""
    scope = parse_scope(granted)
    if isinstance(scope, CombinatieScope | AbonnerenScope):
        return scope.zorgaanbiedernaam, scope.zorgaanbieder, scope.gegevensdienst_ids
    raise ValueError(f"not a granted scope: {granted!r}")
