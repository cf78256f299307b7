"""The ``scope`` of a MedMij authorization request: parse, check and write it.

Three generations of scope exist (docs/protocol.md#scopes, ``core.authint.200``, RFC0039):

1. AS 1.0 (2018): a bare GegevensdienstId, e.g. ``48``. **Rejected here.** A DVA serves many
   zorgaanbieders, so an id alone does not say whose data is asked for; AS 1.1 replaced it
   with the combination below, and no current party sends it. (A *token response* may
   still list granted ids as ``48 49``; that is not a request scope and is not parsed here.)
2. RFC0039 combinations: ``naam~id``, one or more separated by a single space, all with the
   same zorgaanbiedernaam ("waarbij de Zorgaanbiedernaam telkens dezelfde moet zijn") ->
   :class:`CombinatieScope`. A single combination is also the Delen form (``naam~53``);
   whether a one-combination scope means Verzamelen or Delen follows from the catalogue
   functie of its gegevensdienst, not from the grammar.
   Abonneren: ``subscribe~N/naam~id``, N a non-negative whole number of days, 0 ending the
   subscription -> :class:`AbonnerenScope`.
3. AS 2.x Verzamelen: the bare zorgaanbiedernaam, e.g. ``eenofanderezorgaanbieder``,
   meaning every verzamel-gegevensdienst of that zorgaanbieder within one interfaceversie
   -> :class:`ZorgaanbiederScope`.

The zorgaanbiedernaam in a scope is the ZAL ``Zorgaanbiedernaam`` "ontdaan van de suffix
@medmij". The ZAL pattern is ``([a-z])+@medmij`` with length 10-57, so the bare part is
3-50 letters a-z.

Readings taken:

* Strict, not lenient: the AS must check the scope syntactically (``core.authint.202/203``)
  and answer ``invalid_scope``, so every deviation (stray whitespace, upper case, a
  ``@medmij`` suffix) is an error with its own message instead of being repaired.
  MGO's test name ``medmij.ontwikkel.verplicht.interoplab`` breaks the ZAL pattern and is
  rejected too.
* GegevensdienstIds: the GNL allows any 1-30 characters, but all ids issued are decimal
  numbers and ``~``, ``/`` and spaces are grammar, so digits only. They stay strings
  (``"048"`` and ``"48"`` are different ids, as in the lists).
* The subscription duration is written without leading zeros and with at most 18 digits,
  so that ``format_scope(parse_scope(s)) == s`` holds and no peer's 64-bit integer
  overflows.
* ``subscribe~48`` (no ``/``) is a valid combination for a zorgaanbieder named
  ``subscribe``: the grammar allows it, and the AS will not find that zorgaanbieder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "MEDMIJ_SUFFIX",
    "AbonnerenScope",
    "CombinatieScope",
    "Scope",
    "ScopeError",
    "ZorgaanbiederScope",
    "format_scope",
    "parse_scope",
    "zorgaanbieder_from_naam",
]

MEDMIJ_SUFFIX = "@medmij"

_NAAM = re.compile(r"[a-z]+")
_NAAM_MIN, _NAAM_MAX = 3, 50  # ZAL 10-57 characters, minus the 7 of "@medmij"
_ID = re.compile(r"[0-9]+")
_ID_MAX = 30  # GNL GegevensdienstId maxLength
_DAGEN = re.compile(r"0|[1-9][0-9]*")
_DAGEN_MAX_DIGITS = 18
_SUBSCRIBE = "subscribe"


class ScopeError(ValueError):
    """A scope that breaks the grammar; the message says what is wrong (for ``invalid_scope``)."""


def _show(value: str) -> str:
    # Scope values come from the browser; keep messages short and escaped for logs.
    return repr(value if len(value) <= 80 else value[:77] + "...")


def _check_zorgaanbieder(naam: str) -> str:
    if not naam:
        raise ScopeError("zorgaanbiedernaam is empty")
    if naam.lower().endswith(MEDMIJ_SUFFIX):
        raise ScopeError(
            f"zorgaanbiedernaam {_show(naam)} includes the suffix '@medmij'; a scope carries "
            "the name without it"
        )
    if "@" in naam:
        raise ScopeError(f"zorgaanbiedernaam {_show(naam)} contains '@'")
    if any(ch.isupper() for ch in naam):
        raise ScopeError(f"zorgaanbiedernaam {_show(naam)} must be lower case")
    if not _NAAM.fullmatch(naam):
        raise ScopeError(
            f"zorgaanbiedernaam {_show(naam)} may only contain the letters a-z "
            "(ZAL pattern ([a-z])+@medmij)"
        )
    if not _NAAM_MIN <= len(naam) <= _NAAM_MAX:
        raise ScopeError(
            f"zorgaanbiedernaam {_show(naam)} has {len(naam)} letters; the ZAL allows "
            f"{_NAAM_MIN}-{_NAAM_MAX} (10-57 characters with '@medmij')"
        )
    return naam


def _check_id(gegevensdienst: str, combinatie: str) -> str:
    if not gegevensdienst:
        raise ScopeError(f"gegevensdienst id is missing after '~' in {_show(combinatie)}")
    if not _ID.fullmatch(gegevensdienst):
        raise ScopeError(
            f"gegevensdienst id {_show(gegevensdienst)} in {_show(combinatie)} must be digits"
        )
    if len(gegevensdienst) > _ID_MAX:
        raise ScopeError(
            f"gegevensdienst id {_show(gegevensdienst)} is longer than {_ID_MAX} digits"
        )
    return gegevensdienst


def _check_dagen(max_dagen: object) -> int:
    # bool is an int subclass; True days is a bug, not a duration.
    if not isinstance(max_dagen, int) or isinstance(max_dagen, bool):
        raise ScopeError(f"subscribe duration must be a whole number of days, got {max_dagen!r}")
    if max_dagen < 0:
        raise ScopeError(f"subscribe duration must not be negative, got {max_dagen}")
    if len(str(max_dagen)) > _DAGEN_MAX_DIGITS:
        raise ScopeError(f"subscribe duration has more than {_DAGEN_MAX_DIGITS} digits")
    return max_dagen


@dataclass(frozen=True)
class ZorgaanbiederScope:
    """AS 2.x Verzamelen: all verzamel-gegevensdiensten of one zorgaanbieder (RFC0039)."""

    zorgaanbieder: str

    def __post_init__(self) -> None:
        _check_zorgaanbieder(self.zorgaanbieder)

    @property
    def zorgaanbiedernaam(self) -> str:
        """The name as on the ZAL, with ``@medmij``."""
        return self.zorgaanbieder + MEDMIJ_SUFFIX

    @property
    def gegevensdienst_ids(self) -> None:
        """None: the scope covers every verzamel-gegevensdienst of the zorgaanbieder."""
        return None

    def __str__(self) -> str:
        return format_scope(self)


@dataclass(frozen=True)
class CombinatieScope:
    """One or more ``naam~id`` combinations of one zorgaanbieder (Verzamelen, or Delen when one)."""

    zorgaanbieder: str
    gegevensdiensten: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_zorgaanbieder(self.zorgaanbieder)
        # Accept any iterable of ids from callers but store the tuple the type promises.
        ids = tuple(self.gegevensdiensten)
        object.__setattr__(self, "gegevensdiensten", ids)
        if not ids:
            raise ScopeError("a combination scope needs at least one gegevensdienst id")
        seen: set[str] = set()
        for gegevensdienst in ids:
            combinatie = f"{self.zorgaanbieder}~{gegevensdienst}"
            _check_id(gegevensdienst, combinatie)
            if gegevensdienst in seen:
                raise ScopeError(f"combination {_show(combinatie)} appears more than once")
            seen.add(gegevensdienst)

    @property
    def zorgaanbiedernaam(self) -> str:
        """The name as on the ZAL, with ``@medmij``."""
        return self.zorgaanbieder + MEDMIJ_SUFFIX

    @property
    def gegevensdienst_ids(self) -> tuple[str, ...]:
        """The requested gegevensdiensten, in request order."""
        return self.gegevensdiensten

    def __str__(self) -> str:
        return format_scope(self)


@dataclass(frozen=True)
class AbonnerenScope:
    """``subscribe~N/naam~id``: subscribe for at most N days; N = 0 ends the subscription."""

    max_dagen: int
    zorgaanbieder: str
    gegevensdienst: str

    def __post_init__(self) -> None:
        _check_dagen(self.max_dagen)
        _check_zorgaanbieder(self.zorgaanbieder)
        _check_id(self.gegevensdienst, f"{self.zorgaanbieder}~{self.gegevensdienst}")

    @property
    def zorgaanbiedernaam(self) -> str:
        """The name as on the ZAL, with ``@medmij``."""
        return self.zorgaanbieder + MEDMIJ_SUFFIX

    @property
    def gegevensdienst_ids(self) -> tuple[str, ...]:
        """The one gegevensdienst subscribed to."""
        return (self.gegevensdienst,)

    @property
    def ends_subscription(self) -> bool:
        """True for ``subscribe~0/…``, which ends an existing subscription."""
        return self.max_dagen == 0

    def __str__(self) -> str:
        return format_scope(self)


Scope: TypeAlias = ZorgaanbiederScope | CombinatieScope | AbonnerenScope


def _split_combinatie(part: str) -> tuple[str, str]:
    naam, tilde, gegevensdienst = part.partition("~")
    if not tilde:
        raise ScopeError(f"{_show(part)} is not a combination zorgaanbiedernaam~gegevensdienstid")
    if "~" in gegevensdienst:
        raise ScopeError(f"combination {_show(part)} has more than one '~'")
    if not naam:
        raise ScopeError(f"zorgaanbiedernaam is missing before '~' in {_show(part)}")
    _check_zorgaanbieder(naam)
    _check_id(gegevensdienst, part)
    return naam, gegevensdienst


def _parse_abonneren(value: str) -> AbonnerenScope:
    head, _, tail = value.partition("/")
    keyword, tilde, dagen = head.partition("~")
    if keyword != _SUBSCRIBE or not tilde:
        raise ScopeError(
            f"scope {_show(value)} contains '/', which only the form "
            "subscribe~N/zorgaanbiedernaam~gegevensdienstid allows"
        )
    if " " in head or "/" in tail or " " in tail:
        raise ScopeError(
            f"a subscribe scope takes exactly one combination after the '/': {_show(value)}"
        )
    if not dagen:
        raise ScopeError("subscribe duration is missing between 'subscribe~' and '/'")
    if dagen.startswith("-"):
        raise ScopeError(f"subscribe duration must not be negative, got {_show(dagen)}")
    if not dagen.isascii() or not dagen.isdigit():
        raise ScopeError(f"subscribe duration must be a whole number of days, got {_show(dagen)}")
    if not _DAGEN.fullmatch(dagen):
        raise ScopeError(f"subscribe duration {_show(dagen)} must be written without leading zeros")
    if len(dagen) > _DAGEN_MAX_DIGITS:
        raise ScopeError(f"subscribe duration has more than {_DAGEN_MAX_DIGITS} digits")
    if not tail:
        raise ScopeError("a subscribe scope needs a combination after the '/'")
    naam, gegevensdienst = _split_combinatie(tail)
    return AbonnerenScope(int(dagen), naam, gegevensdienst)


def parse_scope(value: str) -> Scope:
    """Parse a requested scope into one of the three shapes; ScopeError says what is wrong."""
    if not isinstance(value, str):
        raise ScopeError(f"scope must be a string, got {type(value).__name__}")
    if value == "":
        raise ScopeError("scope is empty")
    if not value.strip():
        raise ScopeError("scope is only whitespace")
    if value != value.strip():
        raise ScopeError(f"scope {_show(value)} has leading or trailing whitespace")
    if any(ch.isspace() and ch != " " for ch in value):
        raise ScopeError(f"scope {_show(value)} contains whitespace other than single spaces")
    if "  " in value:
        raise ScopeError(
            f"scope {_show(value)} has double spaces; combinations are separated by one space"
        )

    if "/" in value:
        return _parse_abonneren(value)

    parts = value.split(" ")
    bare_id = next((part for part in parts if _ID.fullmatch(part)), None)
    if bare_id is not None:
        raise ScopeError(
            f"scope {_show(value)} holds a bare GegevensdienstId {_show(bare_id)}, the obsolete "
            "AS 1.0 form; name the zorgaanbieder (zorgaanbiedernaam or "
            "zorgaanbiedernaam~gegevensdienstid), because an id alone does not say whose data "
            "is asked for"
        )
    if len(parts) == 1 and "~" not in value:
        return ZorgaanbiederScope(_check_zorgaanbieder(value))
    if not all("~" in part for part in parts):
        if not any("~" in part for part in parts):
            raise ScopeError(
                f"scope {_show(value)} names several zorgaanbieders; a scope names exactly one"
            )
        bare = next(part for part in parts if "~" not in part)
        raise ScopeError(
            f"scope {_show(value)} mixes the bare name {_show(bare)} with "
            "zorgaanbiedernaam~gegevensdienstid combinations"
        )

    combinaties = [_split_combinatie(part) for part in parts]
    naam = combinaties[0][0]
    for other, _ in combinaties[1:]:
        if other != naam:
            raise ScopeError(
                f"all combinations must name the same zorgaanbieder; found {_show(naam)} "
                f"and {_show(other)}"
            )
    return CombinatieScope(naam, tuple(gegevensdienst for _, gegevensdienst in combinaties))


def format_scope(scope: Scope) -> str:
    """Write a scope as it goes on the wire; the inverse of :func:`parse_scope`."""
    if isinstance(scope, ZorgaanbiederScope):
        return scope.zorgaanbieder
    if isinstance(scope, CombinatieScope):
        return " ".join(f"{scope.zorgaanbieder}~{g}" for g in scope.gegevensdiensten)
    if isinstance(scope, AbonnerenScope):
        return f"{_SUBSCRIBE}~{scope.max_dagen}/{scope.zorgaanbieder}~{scope.gegevensdienst}"
    raise TypeError(f"not a scope: {scope!r}")


def zorgaanbieder_from_naam(naam: str) -> str:
    """``x@medmij`` (a ZAL Zorgaanbiedernaam) -> ``x`` (as used in a scope), checked."""
    if not naam.endswith(MEDMIJ_SUFFIX):
        raise ScopeError(f"zorgaanbiedernaam {_show(naam)} does not end with '@medmij'")
    return _check_zorgaanbieder(naam[: -len(MEDMIJ_SUFFIX)])
