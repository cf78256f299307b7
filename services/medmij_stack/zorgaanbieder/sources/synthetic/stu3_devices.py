"""BgZ sections MedicalDevice (DeviceUseStatement) and PlannedCareActivity-DeviceRequest,
each with its Device (zib-MedicalDeviceProduct), which ``_include=…:device`` brings along.
"""

from __future__ import annotations

import random

from . import codes
from .context import Chart, professional_reference
from .fhir import Json, Term, concept, extension, record_identifier, reference
from .profiles import (
    MEDICAL_DEVICE,
    MEDICAL_DEVICE_ORGANIZATION,
    MEDICAL_DEVICE_PRODUCT,
    MEDICAL_DEVICE_REQUEST,
)
from .stu3_common import code_specification
from .stu3_pool import BgzPool, Plan

__all__ = ["medical_device", "planned_device"]


def _device(chart: Chart, kind: Term) -> Json:
    device = chart.new("Device", MEDICAL_DEVICE_PRODUCT)
    # zib-MedicalDeviceProduct wants the serial number typed SNO; the generator's serial
    # numbers are URNs, so the identifier also has a system.
    serial = {"type": concept(codes.SERIAL_NUMBER), **record_identifier(device)}
    device.update(
        identifier=[serial],
        status="available",
        type=concept(kind),
        patient=chart.patient_reference(),
    )
    return device


def medical_device(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    for kind in rng.sample(codes.DEVICES_IN_USE, rng.randint(1, 2)):
        device = _device(chart, kind)
        statement = chart.new("DeviceUseStatement", MEDICAL_DEVICE)
        if rng.random() < 0.5:
            statement["extension"] = [
                extension(
                    MEDICAL_DEVICE_ORGANIZATION,
                    "valueReference",
                    reference(pool.hospital, pool.hospital["name"]),
                )
            ]
        statement.update(
            identifier=[record_identifier(statement)],
            status="active",
            subject=chart.patient_reference(),
            whenUsed={"start": chart.past(rng, 15).isoformat()},
            device=reference(device, kind.display),
        )


def planned_device(chart: Chart, pool: BgzPool, plan: Plan, rng: random.Random) -> None:
    kind = rng.choice(codes.DEVICES_TO_REQUEST)
    device = _device(chart, kind)
    request = chart.new("DeviceRequest", MEDICAL_DEVICE_REQUEST)
    request.update(
        identifier=[record_identifier(request)],
        status="active",
        _status=code_specification(codes.REQUESTED),
        intent=concept(codes.ORDER),
        codeReference=reference(device, kind.display),
        subject=chart.patient_reference(),
        occurrenceDateTime=chart.future(rng, 90).isoformat(),
        authoredOn=chart.past(rng, 0.1).isoformat(),
        requester={"agent": professional_reference(plan.general_practitioner)},
    )
