"""The ketenlog collector: MedMij's central log ("EagleEye") for a local world.

Every participant delivers its ketenlog records here in batches over mutual TLS
(``POST /v1/logs``, :mod:`.batch`); each is stored once (:mod:`.store`) and read back for the
monthly figures (``GET /v1/records``, or the database directly). Nodes deliver with
:mod:`medmij_stack.runtime.ketenlog_delivery`.
"""
