"""The FHIR versions and formats MedMij exchanges: one type each for the whole stack.

Every gegevensdienst this stack knows speaks FHIR STU3 or R4 (``catalogue``: BgZ 48 is
STU3, Vaccinaties 63 is R4), and each side of the stack writes that version in its own
way. :class:`FhirVersion` knows all of them:

* its value is the major.minor number a FHIR MIME type carries as ``fhirVersion``
  (``application/fhir+json; fhirVersion=3.0``, http://hl7.org/fhir/R4/http.html#version-parameter),
  as the MedMij Accept header, the catalogue and the resource server's store write it;
* :attr:`FhirVersion.full` is the technical version a CapabilityStatement states
  (``3.0.2``, ``4.0.1``: http://hl7.org/fhir/directory.html);
* :attr:`FhirVersion.release` is the release name (``STU3``, ``R4``) that the Nictiz
  TestScript folders and their ``properties.json`` use, and the ``--server STU3=…`` option;
* :attr:`FhirVersion.models_package` is the fhir.resources package of Python models of
  that release. R4 is read with ``fhir.resources.R4B``: the package ships no R4 models
  (STU3, R4B and, at its top level, R5), and R4B keeps the R4 elements of the resources
  MedMij's R4 gegevensdiensten exchange.

Named by a string only: importing fhir.resources is left to the code that validates.

:class:`FhirFormat` is the representation, JSON or XML, by the name FHIR's ``_format``
parameter gives it, with its MIME type (http://hl7.org/fhir/R4/http.html#mime-type).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = ["FhirFormat", "FhirRelease", "FhirVersion"]

#: A FHIR release name, as :attr:`FhirVersion.release` gives it.
FhirRelease = Literal["STU3", "R4"]


class FhirVersion(StrEnum):
    """A FHIR version, by its ``fhirVersion`` MIME parameter (``"3.0"``, ``"4.0"``)."""

    STU3 = "3.0"
    R4 = "4.0"

    @property
    def release(self) -> FhirRelease:
        """``STU3`` or ``R4``."""
        return "STU3" if self is FhirVersion.STU3 else "R4"

    @property
    def full(self) -> str:
        """The last technical version of the release, as a CapabilityStatement states it."""
        return "3.0.2" if self is FhirVersion.STU3 else "4.0.1"

    @property
    def models_package(self) -> str:
        """The fhir.resources package that models this release (see the module docstring)."""
        return "fhir.resources.STU3" if self is FhirVersion.STU3 else "fhir.resources.R4B"

    @classmethod
    def from_release(cls, name: str) -> FhirVersion | None:
        """The version with this release name (``STU3``, ``r4``: any case), else None."""
        wanted = name.upper()
        return next((version for version in cls if version.release == wanted), None)

    @classmethod
    def from_number(cls, number: str) -> FhirVersion | None:
        """The version a ``fhirVersion`` value names on its major.minor (``4.0`` and
        ``4.0.1`` are R4), else None."""
        major_minor = ".".join(number.split(".")[:2])
        return next((version for version in cls if version.value == major_minor), None)


class FhirFormat(StrEnum):
    """A FHIR representation, by its short ``_format`` name."""

    JSON = "json"
    XML = "xml"

    @property
    def media_type(self) -> str:
        """``application/fhir+json`` or ``application/fhir+xml``."""
        return f"application/fhir+{self.value}"
