"""The virtual clock of a simulation world, under the wiring's name.

The clock lives in the runtime kit (:mod:`medmij_stack.runtime.clock`), so that every
service can take it without importing the wiring; this module names the same objects for
``medmij simulate`` and the roles. What follows the clock is everything: in a simulation
world (``simulation = true``, which must be a development world) ``medmij_stack.wiring.roles``
hands one :class:`VirtualClock` of the data dir to every role it builds:

* the PGOs: funnel events and ketenlog records, web sessions, the state of an attempt at
  the DVA, the sweep of abandoned attempts, the refresh of langdurige toestemming and its
  lapse;
* the authorisation servers: consents, authorization codes, access and refresh tokens
  (issued-at, expiry, the six-month lapse of a refresh token), browser sessions and flows,
  DigiD artifacts, introspection (``active``, ``exp``, ``iat``), revocations, the
  housekeeping purge and the ketenlog;
* the resource servers: the ketenlog, the expiry of an introspected token and the age of
  its cached answer, the beschikbaarheidstoets' age rule, the CapabilityStatement's date;
* the collector: the moment a record was received;
* the Stelselnode: the Tijdstempel of the lists it publishes; and every node's list
  holders, which refuse a list whose Tijdstempel lies more than an hour ahead of their
  own clock, so publisher and receivers judge on the same time.

So the DVA's records of a simulation fall in the same virtual months as the PGO's, and the
report's reconciliation of the two holds per month. Durations (timeouts, latency, retry
delays) stay on the monotonic clock. A data dir that ran a simulation keeps lists with a
Tijdstempel in the virtual future; start a world without simulation on a fresh data dir.
"""

from __future__ import annotations

from medmij_stack.runtime.clock import (
    CLOCK_FILE,
    ClockError,
    VirtualClock,
    advance_to,
    read_offset,
)

__all__ = ["CLOCK_FILE", "ClockError", "VirtualClock", "advance_to", "read_offset"]
