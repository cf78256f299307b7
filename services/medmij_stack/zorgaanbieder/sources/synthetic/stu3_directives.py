"""BgZ sections TreatmentDirective and AdvanceDirective: Consents (zib2017).

The BgZ queries find them by category: 11291000146105 (behandelaanwijzing) and
11341000146107 (wilsverklaring), which the zib profiles fix.
"""

from __future__ import annotations

import random

from . import codes
from .context import Chart
from .fhir import concept, extension, record_identifier
from .profiles import (
    ADVANCE_DIRECTIVE,
    COMMENT,
    TREATMENT_DIRECTIVE,
    TREATMENT_DIRECTIVE_PERMITTED,
    TREATMENT_DIRECTIVE_RESTRICTIONS,
    TREATMENT_DIRECTIVE_TREATMENT,
    TREATMENT_DIRECTIVE_VERIFICATION,
)
from .stu3_pool import BgzPool, Plan

__all__ = ["advance_directive", "treatment_directive"]

# The Wet op de geneeskundige behandelingsovereenkomst (Burgerlijk Wetboek 7, afdeling 5).
_POLICY = "https://wetten.overheid.nl/BWBR0005290"


def treatment_directive(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    treatments = rng.sample(codes.TREATMENTS, rng.randint(1, 2))
    for treatment in treatments:
        day = chart.past(rng, 6, adult=True).isoformat()
        permitted = rng.choices(("JA", "JA_MAAR", "NEE"), weights=(2, 2, 5))[0]
        verification = {
            "url": TREATMENT_DIRECTIVE_VERIFICATION,
            "extension": [
                extension("Verified", "valueBoolean", True),
                extension("VerifiedWith", "valueCodeableConcept", concept(codes.PATIENT_PERSON)),
                extension("VerificationDate", "valueDateTime", day),
            ],
        }
        consent = chart.new("Consent", TREATMENT_DIRECTIVE)
        consent.update(
            extension=[
                verification,
                extension(
                    TREATMENT_DIRECTIVE_TREATMENT, "valueCodeableConcept", concept(treatment)
                ),
            ],
            modifierExtension=[
                extension(
                    TREATMENT_DIRECTIVE_PERMITTED,
                    "valueCodeableConcept",
                    concept(codes.PERMITTED[permitted]),
                )
            ],
            identifier=record_identifier(consent),
            status="active",
            category=[concept(codes.TREATMENT_DIRECTIVE)],
            patient=chart.patient_reference(),
            dateTime=day,
            period={"start": day},
            policy=[{"uri": _POLICY}],
        )
        if permitted == "JA_MAAR":
            restriction = rng.choice(codes.RESTRICTIONS)
            consent["except"] = [
                {
                    "extension": [
                        extension(TREATMENT_DIRECTIVE_RESTRICTIONS, "valueString", restriction)
                    ],
                    "type": "deny",
                }
            ]


def advance_directive(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    kind = rng.choice(codes.LIVING_WILLS)
    consent = chart.new("Consent", ADVANCE_DIRECTIVE)
    day = chart.past(rng, 10, adult=True).isoformat()
    if rng.random() < 0.5:
        consent["extension"] = [extension(COMMENT, "valueString", "Origineel ligt bij de huisarts")]
    consent.update(
        identifier=record_identifier(consent),
        status="active",
        category=[concept(codes.LIVING_WILL), concept(kind)],
        patient=chart.patient_reference(),
        dateTime=day,
        consentingParty=[chart.patient_reference()],
        policy=[{"uri": _POLICY}],
    )
