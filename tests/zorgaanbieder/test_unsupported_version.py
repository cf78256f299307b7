"""A fhirVersion the endpoint does not speak is refused with the version it does speak."""

from __future__ import annotations

import pytest

from medmij_stack.protocol.fhir import FhirVersion
from medmij_stack.zorgaanbieder.errors import UnsupportedVersion
from medmij_stack.zorgaanbieder.negotiation import negotiate


@pytest.mark.parametrize("served", list(FhirVersion))
@pytest.mark.parametrize(
    ("accept", "format_param"),
    [
        ("application/fhir+json; fhirVersion=9.9", None),
        ("application/fhir+xml; fhirVersion=1.0", None),
        (None, "application/fhir+json; fhirVersion=2.0"),
    ],
)
def test_the_refusal_names_the_version_served(
    served: FhirVersion, accept: str | None, format_param: str | None
) -> None:
    with pytest.raises(UnsupportedVersion) as refused:
        negotiate(accept, format_param, served)
    text = str(refused.value)
    assert text.startswith("Requested FHIR version not supported")
    assert f"fhirVersion={served.value}" in text
    assert served.release in text
