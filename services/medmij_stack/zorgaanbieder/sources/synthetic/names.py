"""Dutch names and places for the synthetic data: plausible, and none of them real.

Organisations are invented; streets and towns are common Dutch ones, combined at
random, so an address never points at a real person's home.
"""

from __future__ import annotations

import random
from typing import NamedTuple

__all__ = [
    "HOSPITALS",
    "INSURERS",
    "PHARMACIES",
    "PRACTICES",
    "PREVENTIVE",
    "Address",
    "HumanName",
    "address",
    "professional",
    "split_family",
]

STREETS = (
    "Dorpsstraat", "Kerkstraat", "Schoolstraat", "Molenweg", "Stationsweg", "Julianastraat",
    "Beatrixlaan", "Wilhelminastraat", "Nieuwstraat", "Eikenlaan", "Lindenlaan", "Parallelweg",
    "Industrieweg", "Sportlaan", "Vijverlaan", "Rozenstraat", "Populierenlaan", "Kastanjelaan",
    "Markt", "Raadhuisplein", "Hoofdstraat", "Brink", "Zuiderdiep", "Oranjestraat",
)  # fmt: skip
TOWNS = (
    ("Utrecht", 3500), ("Zwolle", 8000), ("Groningen", 9700), ("Leeuwarden", 8900),
    ("Assen", 9400), ("Arnhem", 6800), ("Nijmegen", 6500), ("Eindhoven", 5600),
    ("Tilburg", 5000), ("Breda", 4800), ("Middelburg", 4330), ("Haarlem", 2000),
    ("Leiden", 2300), ("Delft", 2600), ("Amersfoort", 3800), ("Maastricht", 6200),
    ("Enschede", 7500), ("Apeldoorn", 7300), ("Lelystad", 8200), ("Alkmaar", 1800),
)  # fmt: skip
_POSTCODE_LETTERS = "ABCEGHJKLMNPRTVWXZ"  # no SA, SD, SS and no easily confused letters

_PROFESSIONAL_GIVEN = (
    "Anne", "Bas", "Carla", "Dirk", "Els", "Frank", "Gerda", "Hans", "Ingrid", "Joost",
    "Karin", "Lars", "Marieke", "Niels", "Olga", "Pieter", "Rianne", "Sander", "Tessa", "Wouter",
)  # fmt: skip
_PROFESSIONAL_FAMILY = (
    "de Haan", "Kuipers", "van Dam", "Hoekstra", "van der Linden", "Prins", "Huisman",
    "van Wijk", "Koster", "Willems", "de Jonge", "van der Heijden", "Schouten", "Jacobs",
    "van Beek", "Sanders", "de Lange", "Bosman", "Veenstra", "ter Horst",
)  # fmt: skip

HOSPITALS = (
    "Ziekenhuis Rivierenland Oost", "Medisch Centrum De Polder", "Ziekenhuis Het Wolde",
    "Streekziekenhuis Duinrand", "Medisch Centrum Hoge Veluwe", "Ziekenhuis Merwezicht",
)  # fmt: skip
PRACTICES = (
    "Huisartsenpraktijk De Linde", "Huisartsenpraktijk Het Plein", "Gezondheidscentrum Oost",
    "Huisartsenpraktijk Molenzicht", "Huisartsen aan de Brink", "Huisartsenpraktijk Zuiderpark",
)  # fmt: skip
PHARMACIES = ("Apotheek De Vijzel", "Apotheek Het Kruispunt", "Stadsapotheek Centrum")
INSURERS = (
    ("Zorgverzekeraar Lage Landen", "9901"),
    ("Verzekeringen De Waard", "9902"),
    ("Zorgverzekeraar Noordkust", "9903"),
    ("Onderlinge Zorgverzekering Oost", "9904"),
)
PREVENTIVE = (
    "GGD Rivierenland", "GGD Noord en Oost", "GGD Kustregio", "Jeugdgezondheidszorg Midden",
)  # fmt: skip

# Tussenvoegsels, longest first so that "van den" wins over "van".
_PREFIXES = ("van den", "van der", "van de", "van 't", "in 't", "van", "de", "den", "ter", "te")


def split_family(family: str) -> tuple[str | None, str]:
    """("van den", "Berg") for "van den Berg"; (None, name) when there is no tussenvoegsel."""
    for prefix in _PREFIXES:
        if family.startswith(prefix + " "):
            return prefix, family[len(prefix) + 1 :]
    return None, family


class HumanName(NamedTuple):
    given: str
    family: str
    initials: str

    @property
    def text(self) -> str:
        return f"{self.initials} {self.family}"


def professional(rng: random.Random) -> HumanName:
    given = rng.choice(_PROFESSIONAL_GIVEN)
    second = rng.choice(_PROFESSIONAL_GIVEN)
    initials = f"{given[0]}.{second[0]}." if rng.random() < 0.5 else f"{given[0]}."
    return HumanName(given, rng.choice(_PROFESSIONAL_FAMILY), initials)


class Address(NamedTuple):
    street: str
    number: str
    postcode: str
    town: str

    @property
    def line(self) -> str:
        return f"{self.street} {self.number}"


def address(rng: random.Random) -> Address:
    town, base = rng.choice(TOWNS)
    postcode = f"{base + rng.randrange(0, 99):04d}{rng.choice(_POSTCODE_LETTERS)}"
    postcode += rng.choice(_POSTCODE_LETTERS)
    return Address(rng.choice(STREETS), str(rng.randrange(1, 240)), postcode, town)
