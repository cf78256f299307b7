"""Names, addresses and telecom in the Dutch shape both nl-core releases use.

A Dutch family name is written whole in ``family`` and split into its tussenvoegsel
and own name with the ``humanname-own-prefix`` / ``humanname-own-name`` extensions;
``humanname-assembly-order`` NL1 says the own name is used (zib NameInformation).
"""

from __future__ import annotations

import random

from .fhir import Json, extension
from .names import Address, split_family
from .profiles import (
    ADXP_HOUSE_NUMBER,
    ADXP_STREET_NAME,
    EN_QUALIFIER,
    HUMANNAME_ASSEMBLY_ORDER,
    HUMANNAME_OWN_NAME,
    HUMANNAME_OWN_PREFIX,
)

__all__ = ["dutch_address", "dutch_name", "email", "mobile_phone"]


def dutch_name(given: str, family: str, *, initials: bool = False) -> Json:
    """An official HumanName; `initials` writes the given name as initials (qualifier IN)."""
    prefix, own = split_family(family)
    family_parts = [extension(HUMANNAME_OWN_PREFIX, "valueString", prefix)] if prefix else []
    family_parts.append(extension(HUMANNAME_OWN_NAME, "valueString", own))
    qualifier = "IN" if initials else "BR"
    return {
        "extension": [extension(HUMANNAME_ASSEMBLY_ORDER, "valueCode", "NL1")],
        "use": "official",
        "text": f"{given} {family}",
        "family": family,
        "_family": {"extension": family_parts},
        "given": [given],
        "_given": [{"extension": [extension(EN_QUALIFIER, "valueCode", qualifier)]}],
    }


def dutch_address(place: Address, use: str) -> Json:
    return {
        "use": use,
        "type": "physical",
        "line": [place.line],
        "_line": [
            {
                "extension": [
                    extension(ADXP_STREET_NAME, "valueString", place.street),
                    extension(ADXP_HOUSE_NUMBER, "valueString", place.number),
                ]
            }
        ],
        "city": place.town,
        "postalCode": place.postcode,
        "country": "Nederland",
    }


def mobile_phone(rng: random.Random) -> Json:
    # Eight digits after "06-": never a run of nine, so never a BSN.
    return {"system": "phone", "value": f"06-{rng.randrange(10**7, 10**8)}", "use": "mobile"}


def email(given: str, family: str) -> Json:
    local = f"{given}.{family}".lower().replace(" ", "").replace("'", "")
    return {"system": "email", "value": f"{local}@example.com", "use": "home"}
