"""``validateProfileId``: the base FHIR structure, then each resource's ``meta.profile``.

docs/qualification.md#profile-validation: Touchstone and ConformanceLab validate with the Java HL7
validator and the Nictiz packages, neither of which is available here. This package does
an honest subset offline, and names what it leaves out (:class:`ValidationReport`).
"""

from medmij_stack.testscript.profiles.base import validate_base
from medmij_stack.testscript.profiles.report import Issue, ValidationReport
from medmij_stack.testscript.profiles.validator import ProfileValidator

__all__ = ["Issue", "ProfileValidator", "ValidationReport", "validate_base"]
