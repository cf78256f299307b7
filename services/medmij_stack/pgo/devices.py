"""Which device a person uses the PGO on: ``app``, ``pc`` or ``web`` (funnel events).

The DVP-rapportage counts attempts per device (docs: "AantalApp / AantalPC / AantalWeb /
AantalSystem"). Readings taken: ``app`` is the PGO's own app, which says so in the hidden
form field ``apparaat`` (or in its User-Agent, product token ``MedMijPGO-App``); ``pc`` is
a browser on a desktop or laptop; ``web`` a browser on a phone or tablet (the pilot's own
query labels these two the other way round, which the digest reads as a slip). A value in
the hidden field wins over the User-Agent; anything unreadable counts as ``pc``.
"""

from __future__ import annotations

import re

from medmij_stack.protocol.funnel import Device

__all__ = ["APP_TOKEN", "FIELD", "device_of"]

FIELD = "apparaat"
APP_TOKEN = "MedMijPGO-App"  # noqa: S105 - a User-Agent product token

_PERSON_DEVICES = {
    Device.APP.value: Device.APP,
    Device.PC.value: Device.PC,
    Device.WEB.value: Device.WEB,
}
_MOBILE = re.compile(r"Mobi|Android|iPhone|iPad|iPod|Tablet|Silk|Kindle|Opera Mini", re.IGNORECASE)


def device_of(user_agent: str | None, field: str | None = None) -> Device:
    """The device of a request: the hidden field when it names one, else the User-Agent."""
    if field is not None:
        chosen = _PERSON_DEVICES.get(field.strip().lower())
        if chosen is not None:
            return chosen
    agent = (user_agent or "")[:512]
    if APP_TOKEN.lower() in agent.lower():
        return Device.APP
    if _MOBILE.search(agent):
        return Device.WEB
    return Device.PC
