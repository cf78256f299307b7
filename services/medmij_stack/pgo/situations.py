"""What a person is told when an attempt ends, and the one failure reason it is counted as.

Every way an attempt can end is a :class:`Situation`. Each has exactly one
:class:`~medmij_stack.protocol.funnel.FailureReason` (none for success), a title, what
happened and what the person can do next, in Dutch at B1 level (short sentences, common
words; the Afsprakenstelsel asks B1 of the DVA's screens, RFC0070, and the PGO follows
suit). ``{zorgaanbieder}`` and ``{helpdesk}`` are filled in when shown.

How the DVA's answer on the redirect URI maps onto situations (exception table of the
Afsprakenstelsel, docs docs/protocol.md#errors; the ``error_description`` values are the ones the
DVA of this stack sends, ``medmij_stack.authserver.errors``, and any other value of the
same ``error`` falls back to the general case):

    access_denied        "Authorization cancelled."  GEANNULEERD        digid-geannuleerd
                         "The request is not         NIET_GEDEELD       toestemming-geweigerd
                          granted."
                         "No such resources."        GEEN_GEGEVENS      geen-gegevens
                         "Authorization denied."     GEWEIGERD          toestemming-geweigerd
                         anything else               GEEN_TOEGANG       toestemming-geweigerd
    unauthorized_client                              DIGID_MISLUKT      digid-mislukt
    server_error, temporarily_unavailable            DVA_STORING        ongeldig-verzoek
    invalid_request and every other code             DVA_WEIGERT        ongeldig-verzoek

An AS 2.x DVA answers a refused consent and an empty record alike ("The request is not
granted.": Autoriseren, uitzonderingen 1 and 2, so that a PGO cannot learn of a
behandelrelatie without consent). Both come after DigiD, so the person did log in there;
the PGO says what may have happened and counts it as ``toestemming-geweigerd``, which the
taxonomy defines to cover both. ``geen-gegevens`` is left for what the PGO can know
itself (a token that grants none of what was asked) and for DVAs that still send the 1.x
descriptions. An ``access_denied`` without a known description counts as
``toestemming-geweigerd`` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from medmij_stack.protocol.funnel import FailureReason

__all__ = ["Message", "Situation", "Tone", "situation_for_error"]


class Tone(StrEnum):
    SUCCESS = "gelukt"
    INFO = "info"
    ERROR = "fout"


@dataclass(frozen=True)
class Message:
    reason: FailureReason | None
    tone: Tone
    title: str
    what: str
    next: str
    retry: bool  # whether "probeer opnieuw" makes sense
    new_consent: bool = False  # whether the way on is to give consent again


class Situation(StrEnum):
    GELUKT = "gelukt"
    # At the DVA (the error on the redirect URI).
    GEANNULEERD = "geannuleerd"
    DIGID_MISLUKT = "digid-mislukt"
    GEWEIGERD = "toestemming-geweigerd"
    NIET_GEDEELD = "niet-gedeeld"
    GEEN_GEGEVENS = "geen-gegevens"
    GEEN_TOEGANG = "geen-toegang"
    DVA_WEIGERT = "dva-weigert"
    DVA_STORING = "dva-storing"
    # The callback itself.
    STATE_ONTBREEKT = "state-ontbreekt"
    STATE_ONBEKEND = "state-onbekend"
    STATE_VERLOPEN = "state-verlopen"
    STATE_GEBRUIKT = "state-gebruikt"
    ANDERE_SESSIE = "andere-sessie"
    TERUGKEER_ONGELDIG = "terugkeer-ongeldig"
    # Never came back.
    AFGEHAAKT_BIJ_ZOEKEN = "afgehaakt-bij-zoeken"
    NIET_TERUGGEKEERD = "niet-teruggekeerd"
    # The token endpoint.
    TOKEN_GEWEIGERD = "token-geweigerd"  # noqa: S105 - names, not secrets
    TOKEN_ONBEREIKBAAR = "token-onbereikbaar"  # noqa: S105
    TOESTEMMING_VERLOPEN = "toestemming-verlopen"
    # The resource server and what it sent.
    OPHALEN_MISLUKT = "ophalen-mislukt"
    ONLEESBAAR = "onleesbaar"
    # The PGO itself.
    PGO_FOUT = "pgo-fout"
    ONDERBROKEN = "onderbroken"

    @property
    def message(self) -> Message:
        return _MESSAGES[self]

    @property
    def reason(self) -> FailureReason | None:
        return _MESSAGES[self].reason


_TRY_AGAIN = "Probeer het opnieuw."
_LATER = "Probeer het later nog een keer."

_MESSAGES: dict[Situation, Message] = {
    Situation.GELUKT: Message(
        None,
        Tone.SUCCESS,
        "Je gegevens zijn opgehaald",
        "We hebben je gegevens van {zorgaanbieder} opgehaald.",
        "Je ziet ze nu in je overzicht.",
        retry=False,
    ),
    Situation.GEANNULEERD: Message(
        FailureReason.DIGID_CANCELLED,
        Tone.INFO,
        "Je bent gestopt met inloggen",
        "Je hebt het inloggen bij {zorgaanbieder} afgebroken. Er zijn geen gegevens opgehaald.",
        "Wil je je gegevens toch ophalen? " + _TRY_AGAIN,
        retry=True,
    ),
    Situation.DIGID_MISLUKT: Message(
        FailureReason.DIGID_FAILED,
        Tone.ERROR,
        "Inloggen met DigiD is niet gelukt",
        "Je kon niet inloggen met DigiD. Er zijn geen gegevens opgehaald.",
        _TRY_AGAIN + " Lukt het weer niet? Kijk dan op digid.nl of bel de DigiD-helpdesk.",
        retry=True,
    ),
    Situation.GEWEIGERD: Message(
        FailureReason.CONSENT_DENIED,
        Tone.INFO,
        "Je hebt geen toestemming gegeven",
        "Je hebt {zorgaanbieder} geen toestemming gegeven om je gegevens te delen. "
        "Er zijn geen gegevens opgehaald.",
        "Wil je je gegevens toch ophalen? Begin opnieuw en geef toestemming.",
        retry=True,
    ),
    Situation.NIET_GEDEELD: Message(
        FailureReason.CONSENT_DENIED,
        Tone.INFO,
        "Er zijn geen gegevens gedeeld",
        "{zorgaanbieder} heeft geen gegevens met je PGO gedeeld. Dat gebeurt als je geen "
        "toestemming gaf, of als {zorgaanbieder} geen gegevens van jou heeft die je in je "
        "PGO kunt zetten.",
        "Wil je je gegevens toch ophalen? Probeer het opnieuw en geef toestemming. Denk je "
        "dat {zorgaanbieder} wel gegevens van jou heeft? Neem dan contact op met "
        "{zorgaanbieder}.",
        retry=True,
    ),
    Situation.GEEN_GEGEVENS: Message(
        FailureReason.NO_DATA,
        Tone.INFO,
        "Er zijn geen gegevens van jou",
        "{zorgaanbieder} heeft geen gegevens van jou die je in je PGO kunt zetten.",
        "Denk je dat dit niet klopt? Neem dan contact op met {zorgaanbieder}.",
        retry=False,
    ),
    Situation.GEEN_TOEGANG: Message(
        FailureReason.CONSENT_DENIED,
        Tone.INFO,
        "Je gegevens zijn niet gedeeld",
        "{zorgaanbieder} heeft je gegevens niet gedeeld. Er zijn geen gegevens opgehaald.",
        _TRY_AGAIN + " Lukt het weer niet? Neem dan contact op met {zorgaanbieder}.",
        retry=True,
    ),
    Situation.DVA_WEIGERT: Message(
        FailureReason.INVALID_REQUEST,
        Tone.ERROR,
        "Het ophalen kon niet beginnen",
        "{zorgaanbieder} kon je verzoek niet verwerken. Er zijn geen gegevens opgehaald.",
        _LATER + " Gebeurt dit vaker? Neem dan contact op met {helpdesk}.",
        retry=True,
    ),
    Situation.DVA_STORING: Message(
        FailureReason.INVALID_REQUEST,
        Tone.ERROR,
        "Er is een storing bij de zorgaanbieder",
        "Door een storing kon {zorgaanbieder} je verzoek niet verwerken. "
        "Er zijn geen gegevens opgehaald.",
        _LATER,
        retry=True,
    ),
    Situation.STATE_ONTBREEKT: Message(
        FailureReason.INVALID_REQUEST,
        Tone.ERROR,
        "Deze link werkt niet",
        "Je kwam terug van een zorgaanbieder met een link die niet compleet is. "
        "We hebben niets opgehaald.",
        "Begin opnieuw bij ‘Gegevens ophalen’.",
        retry=False,
    ),
    Situation.STATE_ONBEKEND: Message(
        FailureReason.INVALID_REQUEST,
        Tone.ERROR,
        "Deze link kennen we niet",
        "Je kwam terug met een link die niet bij een ophaalpoging van jou hoort. "
        "We hebben niets opgehaald.",
        "Begin opnieuw bij ‘Gegevens ophalen’. Kreeg je deze link van iemand anders? "
        "Gebruik hem dan niet.",
        retry=False,
    ),
    Situation.STATE_VERLOPEN: Message(
        FailureReason.INVALID_REQUEST,
        Tone.ERROR,
        "Dit duurde te lang",
        "Je was te lang weg bij {zorgaanbieder}. Daarom hebben we niets opgehaald.",
        _TRY_AGAIN,
        retry=True,
    ),
    Situation.STATE_GEBRUIKT: Message(
        FailureReason.INVALID_REQUEST,
        Tone.ERROR,
        "Deze link is al gebruikt",
        "Je kwam terug met een link die we al eerder hebben gebruikt. We doen niets nog een keer.",
        "Bekijk je overzicht. Wil je opnieuw ophalen? Begin dan bij ‘Gegevens ophalen’.",
        retry=False,
    ),
    Situation.ANDERE_SESSIE: Message(
        FailureReason.INVALID_REQUEST,
        Tone.ERROR,
        "Deze link hoort niet bij jou",
        "Je kwam terug met een link van een ophaalpoging die in een andere sessie begon. "
        "Voor je veiligheid hebben we niets opgehaald.",
        "Log in en begin opnieuw bij ‘Gegevens ophalen’.",
        retry=False,
    ),
    Situation.TERUGKEER_ONGELDIG: Message(
        FailureReason.INVALID_REQUEST,
        Tone.ERROR,
        "Het antwoord van de zorgaanbieder klopt niet",
        "Je kwam terug van {zorgaanbieder} met een antwoord dat we niet begrijpen. "
        "Er zijn geen gegevens opgehaald.",
        _TRY_AGAIN + " Gebeurt dit vaker? Neem dan contact op met {helpdesk}.",
        retry=True,
    ),
    Situation.AFGEHAAKT_BIJ_ZOEKEN: Message(
        FailureReason.ABANDONED_AT_SEARCH,
        Tone.INFO,
        "Je hebt geen zorgaanbieder gekozen",
        "Je bent begonnen met ophalen, maar je hebt geen zorgaanbieder gekozen.",
        "Wil je gegevens ophalen? Begin bij ‘Gegevens ophalen’.",
        retry=False,
    ),
    Situation.NIET_TERUGGEKEERD: Message(
        FailureReason.DIGID_CANCELLED,
        Tone.INFO,
        "Je bent niet teruggekomen",
        "Je bent naar {zorgaanbieder} gegaan om in te loggen, maar niet teruggekomen. "
        "Er zijn geen gegevens opgehaald.",
        "Wil je je gegevens toch ophalen? " + _TRY_AGAIN,
        retry=True,
    ),
    Situation.TOKEN_GEWEIGERD: Message(
        FailureReason.TOKEN_ERROR,
        Tone.ERROR,
        "Het ophalen is niet gelukt",
        "Je hebt toestemming gegeven, maar {zorgaanbieder} gaf ons daarna geen toegang "
        "tot je gegevens. Er zijn geen gegevens opgehaald.",
        _TRY_AGAIN + " Gebeurt dit vaker? Neem dan contact op met {helpdesk}.",
        retry=True,
    ),
    Situation.TOKEN_ONBEREIKBAAR: Message(
        FailureReason.TOKEN_ERROR,
        Tone.ERROR,
        "We konden de zorgaanbieder niet bereiken",
        "Je hebt toestemming gegeven, maar we kregen geen verbinding met {zorgaanbieder}. "
        "Er zijn geen gegevens opgehaald.",
        _LATER,
        retry=True,
    ),
    Situation.TOESTEMMING_VERLOPEN: Message(
        FailureReason.TOKEN_ERROR,
        Tone.INFO,
        "Geef opnieuw toestemming",
        "Je toestemming om gegevens van {zorgaanbieder} op te halen geldt niet meer. "
        "Misschien heb je die ingetrokken, of heb je je PGO lang niet gebruikt.",
        "Wil je je gegevens weer ophalen? Geef dan opnieuw toestemming.",
        retry=False,
        new_consent=True,
    ),
    Situation.OPHALEN_MISLUKT: Message(
        FailureReason.RESOURCE_ERROR,
        Tone.ERROR,
        "Niet alle gegevens zijn opgehaald",
        "Het ophalen van (een deel van) je gegevens bij {zorgaanbieder} is mislukt. "
        "Gegevens die je al had, blijven staan.",
        "Probeer opnieuw: we halen dan alleen op wat mislukte. "
        "Lukt het weer niet? Neem dan contact op met {zorgaanbieder}.",
        retry=True,
    ),
    Situation.ONLEESBAAR: Message(
        FailureReason.INVALID_CONTENT,
        Tone.ERROR,
        "We konden de gegevens niet lezen",
        "{zorgaanbieder} stuurde gegevens die niet kloppen. Die hebben we niet bewaard. "
        "Gegevens die je al had, blijven staan.",
        _LATER + " Gebeurt dit vaker? Neem dan contact op met {zorgaanbieder}.",
        retry=True,
    ),
    Situation.PGO_FOUT: Message(
        FailureReason.CLIENT_ERROR,
        Tone.ERROR,
        "Er ging bij ons iets mis",
        "Door een fout in je PGO is het ophalen mislukt. Gegevens die je al had, blijven staan.",
        _LATER + " Gebeurt dit vaker? Neem dan contact op met {helpdesk}.",
        retry=True,
    ),
    Situation.ONDERBROKEN: Message(
        FailureReason.CLIENT_ERROR,
        Tone.ERROR,
        "Het ophalen is onderbroken",
        "Je PGO werd herstart terwijl we je gegevens ophaalden. Gegevens die je al had, "
        "blijven staan.",
        _TRY_AGAIN,
        retry=True,
    ),
}

_ACCESS_DENIED = {
    "Authorization cancelled.": Situation.GEANNULEERD,
    "The request is not granted.": Situation.NIET_GEDEELD,
    "No such resources.": Situation.GEEN_GEGEVENS,
    "Authorization denied.": Situation.GEWEIGERD,
}


def situation_for_error(error: str, description: str | None) -> Situation:
    """The situation an OAuth error on the redirect URI stands for (table above)."""
    if error == "access_denied":
        return _ACCESS_DENIED.get((description or "").strip(), Situation.GEEN_TOEGANG)
    if error == "unauthorized_client":
        return Situation.DIGID_MISLUKT
    if error in ("server_error", "temporarily_unavailable"):
        return Situation.DVA_STORING
    return Situation.DVA_WEIGERT
