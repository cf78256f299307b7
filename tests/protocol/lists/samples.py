"""Valid list models for the tests: hand-written ones and seeded random ones.

The random generators stand in for property-based testing: every value they make
is valid by the schemas, and a fixed seed keeps failures reproducible.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from medmij_stack.protocol.lists import (
    Abonneren,
    Gegevensdienst,
    GegevensdienstNaam,
    Gegevensdienstnamenlijst,
    Interfaceversie,
    MedMijList,
    OAuthclient,
    OAuthclientlist,
    Systeemrol,
    Whitelist,
    Zorgaanbieder,
    Zorgaanbiederslijst,
)

CET = timezone(timedelta(hours=1))
MOMENT = datetime(2026, 3, 1, 9, 30, 0, tzinfo=CET)


def zal(volgnummer: int = 7, *, tijdstempel: datetime = MOMENT) -> Zorgaanbiederslijst:
    """Two providers, two interfaceversies, optional parts both present and absent."""
    fhir = Systeemrol("MM-3.0-BZB-FHIR", "https://fhir.umcharderwijk.nl:9443/fhir/r4")
    return Zorgaanbiederslijst(
        tijdstempel=tijdstempel,
        volgnummer=volgnummer,
        zorgaanbieders=(
            Zorgaanbieder(
                naam="umcharderwijk@medmij",
                aanbiedertype="ZA",
                interfaceversies=(
                    Interfaceversie(
                        "1.4.0",
                        (
                            Gegevensdienst(
                                id="4",
                                authorization_endpoint="https://inlog.umcharderwijk.nl/oauth/authorize",
                                token_endpoint="https://inlog.umcharderwijk.nl:8443/oauth/token",
                                systeemrollen=(
                                    Systeemrol(
                                        "LAB-1.1-LRB-FHIR", "https://fhir.umcharderwijk.nl/lab"
                                    ),
                                ),
                            ),
                        ),
                    ),
                    Interfaceversie(
                        "2.0.0",
                        (
                            Gegevensdienst(
                                id="4",
                                authorization_endpoint="https://inlog.umcharderwijk.nl/2.0.0/authorize",
                                token_endpoint="https://inlog.umcharderwijk.nl/2.0.0/token",
                                systeemrollen=(fhir,),
                                abonneren=Abonneren(
                                    90, "https://fhir.umcharderwijk.nl/subscription"
                                ),
                            ),
                            Gegevensdienst(
                                id="900000401",
                                authorization_endpoint=None,
                                token_endpoint=None,
                                systeemrollen=(fhir,),
                            ),
                        ),
                    ),
                ),
            ),
            Zorgaanbieder(
                naam="apotheekdevijzel@medmij",
                aanbiedertype="APD",
                interfaceversies=(
                    Interfaceversie(
                        "2.0.0",
                        (
                            Gegevensdienst(
                                id="3",
                                authorization_endpoint="https://dva.example.nl/oauth/authorize",
                                token_endpoint="https://dva.example.nl/oauth/token",
                                systeemrollen=(
                                    Systeemrol("MP-9.0-MGB-FHIR", "https://dva.example.nl/fhir"),
                                ),
                                abonneren=Abonneren(0, "https://dva.example.nl/subscribe"),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    )


def zal_release2_compatible(volgnummer: int = 6) -> Zorgaanbiederslijst:
    """A ZAL that release2 can hold: "ZA" only, one interfaceversie "1.0.0", both endpoints."""
    return Zorgaanbiederslijst(
        tijdstempel=datetime(2018, 4, 16, 12, 56, 33, tzinfo=UTC),
        volgnummer=volgnummer,
        zorgaanbieders=(
            Zorgaanbieder(
                naam="umcharderwijk@medmij",
                aanbiedertype="ZA",
                interfaceversies=(
                    Interfaceversie(
                        "1.0.0",
                        (
                            Gegevensdienst(
                                id="4",
                                authorization_endpoint="https://medmij.za982.xisbridge.net/oauth/authorize",
                                token_endpoint="https://medmij.xisbridge.net:8099/oauth/token",
                                systeemrollen=(
                                    Systeemrol(
                                        "LAB-1.0.0-LRB-FHIR",
                                        "https://medmij.za982.xisbridge.net/fhir",
                                    ),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    )


def ocl(volgnummer: int = 522, *, with_gegevensdiensten: bool = False) -> OAuthclientlist:
    return OAuthclientlist(
        tijdstempel=datetime(2018, 4, 16, 11, 41, 59, tzinfo=UTC),
        volgnummer=volgnummer,
        clients=(
            OAuthclient(
                "medmij.deenigeechtepgo.nl",
                "De Enige Echte PGO",
                frozenset({"1", "4", "900000401"}) if with_gegevensdiensten else None,
            ),
            OAuthclient(
                "pgo.gezondheid-en-zorg.nl",
                "Gezondheid & Zorg <Noord> “één”",
                frozenset() if with_gegevensdiensten else None,
            ),
        ),
    )


def gnl(volgnummer: int = 28800) -> Gegevensdienstnamenlijst:
    return Gegevensdienstnamenlijst(
        tijdstempel=datetime(2018, 7, 19, 10, 43, 41, 250000, tzinfo=CET),
        volgnummer=volgnummer,
        gegevensdiensten=(
            GegevensdienstNaam("1", "Basisgegevens Zorg"),
            GegevensdienstNaam("900000401", "Verzamelen Laboratoriumresultaten Één"),
        ),
    )


def whitelist(volgnummer: int = 28654) -> Whitelist:
    return Whitelist(
        tijdstempel=datetime(
            2021, 4, 16, 10, 43, 41, tzinfo=timezone(timedelta(hours=-3, minutes=-30))
        ),
        volgnummer=volgnummer,
        hostnames=("medmij.deenigeechtepgo.nl", "78834.umcharderwijk.nl", "rcf-rso.nl"),
    )


def every_sample() -> list[MedMijList]:
    return [
        zal(),
        zal_release2_compatible(),
        ocl(),
        ocl(with_gegevensdiensten=True),
        gnl(),
        whitelist(),
    ]


# Seeded random generation -----------------------------------------------------------

_LABEL = string.ascii_lowercase + string.digits


def _label(rng: random.Random) -> str:
    middle = "".join(rng.choice(_LABEL + "-") for _ in range(rng.randint(0, 8)))
    return rng.choice(_LABEL) + middle + rng.choice(_LABEL)


def _hostname(rng: random.Random) -> str:
    return ".".join(_label(rng) for _ in range(rng.randint(2, 4)))


def _path(rng: random.Random) -> str:
    segments = ["".join(rng.choice(_LABEL + "-_.~%") for _ in range(rng.randint(1, 6)))]
    segments += [_label(rng) for _ in range(rng.randint(0, 2))]
    return "/" + "/".join(segments)


def _uri(rng: random.Random, *, port: bool) -> str:
    suffix = f":{rng.randint(1, 65535)}" if port and rng.random() < 0.4 else ""
    return f"https://{_hostname(rng)}{suffix}{_path(rng) if rng.random() < 0.9 else ''}"


def _text(rng: random.Random, low: int, high: int) -> str:
    alphabet = string.ascii_letters + string.digits + " \t\r\n&<>\"'-éüß€✓"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def _moment(rng: random.Random) -> datetime:
    zone = timezone(timedelta(minutes=rng.choice([0, 60, 120, -300, 330, 840, -720])))
    return datetime(
        rng.randint(1990, 2090),
        rng.randint(1, 12),
        rng.randint(1, 28),
        rng.randint(0, 23),
        rng.randint(0, 59),
        rng.randint(0, 59),
        rng.choice([0, 0, 1, 500000, 999999]),
        tzinfo=zone,
    )


def _unique(rng: random.Random, make: Callable[[random.Random], object], count: int) -> list[str]:
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen[str(make(rng))] = None
    return list(seen)


def random_zal(rng: random.Random) -> Zorgaanbiederslijst:
    names = _unique(
        rng,
        lambda r: (
            "".join(r.choice(string.ascii_lowercase) for _ in range(r.randint(3, 50))) + "@medmij"
        ),
        rng.randint(0, 4),
    )
    zorgaanbieders = []
    for naam in names:
        versies = []
        for versie_id in _unique(
            rng, lambda r: f"{r.randint(1, 3)}.{r.randint(0, 12)}.0", rng.randint(1, 3)
        ):
            diensten = []
            for dienst_id in _unique(
                rng, lambda r: str(r.choice([1, 2, 3, 4, 48, 900000401])), rng.randint(1, 3)
            ):
                codes = _unique(rng, lambda r: _text(r, 1, 30), rng.randint(1, 3))
                diensten.append(
                    Gegevensdienst(
                        id=dienst_id,
                        authorization_endpoint=_uri(rng, port=False)
                        if rng.random() < 0.8
                        else None,
                        token_endpoint=_uri(rng, port=True) if rng.random() < 0.8 else None,
                        systeemrollen=tuple(
                            Systeemrol(code, _uri(rng, port=True)) for code in codes
                        ),
                        abonneren=Abonneren(rng.randint(0, 10**6), _uri(rng, port=True))
                        if rng.random() < 0.5
                        else None,
                    )
                )
            versies.append(Interfaceversie(versie_id, tuple(diensten)))
        zorgaanbieders.append(
            Zorgaanbieder(naam, rng.choice(["ZA", "BAZB", "APD"]), tuple(versies))
        )
    return Zorgaanbiederslijst(_moment(rng), rng.randint(1, 10**12), tuple(zorgaanbieders))


def random_ocl(rng: random.Random) -> OAuthclientlist:
    clients = tuple(
        OAuthclient(
            hostname,
            _text(rng, 3, 50),
            frozenset(_unique(rng, lambda r: _text(r, 1, 30), rng.randint(0, 3)))
            if rng.random() < 0.5
            else None,
        )
        for hostname in _unique(rng, _hostname, rng.randint(0, 5))
    )
    return OAuthclientlist(_moment(rng), rng.randint(1, 10**12), clients)


def random_gnl(rng: random.Random) -> Gegevensdienstnamenlijst:
    namen = tuple(
        GegevensdienstNaam(dienst_id, _text(rng, 3, 50))
        for dienst_id in _unique(rng, lambda r: _text(r, 1, 30), rng.randint(0, 6))
    )
    return Gegevensdienstnamenlijst(_moment(rng), rng.randint(1, 10**12), namen)


def random_whitelist(rng: random.Random) -> Whitelist:
    hostnames = tuple(_unique(rng, _hostname, rng.randint(0, 8)))
    return Whitelist(_moment(rng), rng.randint(1, 10**12), hostnames)
