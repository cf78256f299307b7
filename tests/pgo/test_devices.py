"""The device of a funnel event: the hidden field, else the User-Agent."""

from __future__ import annotations

import pytest

from medmij_stack.pgo.devices import device_of
from medmij_stack.protocol.funnel import Device

FIREFOX_DESKTOP = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.mark.parametrize(
    ("agent", "field", "device"),
    [
        (FIREFOX_DESKTOP, None, Device.PC),
        (SAFARI_IPHONE, None, Device.WEB),
        (f"{SAFARI_IPHONE} MedMijPGO-App/2.1", None, Device.APP),
        (FIREFOX_DESKTOP, "app", Device.APP),
        (SAFARI_IPHONE, "pc", Device.PC),
        (FIREFOX_DESKTOP, "system", Device.PC),  # a person's form cannot claim "system"
        (None, None, Device.PC),
        (FIREFOX_DESKTOP, "nonsense", Device.PC),
    ],
)
def test_device_of(agent: str | None, field: str | None, device: Device) -> None:
    assert device_of(agent, field) is device
