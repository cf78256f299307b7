"""Benchmark: DVA flows (the front-channel screens) and the server CPU each one costs.

A flow is what a person does to give a PGO a code: authorization request, landingspagina,
DigiD simulator (page and login), back with the artifact (resolved on the back channel, then
the beschikbaarheidstoets at the resource server), toestemmingsverklaring, consent, code. The
browser is benchmarks/token_peer.py's (one cookie jar and keep-alive connection per person).

Reported per round, one person at a time and ``--people`` at once: flows/s, and CPU
milliseconds per flow summed over the authorisation server's processes (its workers) and over
the resource server's (the beschikbaarheidstoets). CPU per flow is what to compare across
code versions on a machine shared with other work: it hardly moves with the load, the rate
does. Rounds alternate the two levels so that both see the same load.

    .venv/bin/python benchmarks/dva_flows.py --flows 100 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from machine import MachineReading, cpu_seconds, role_processes
from running_stack import dienst_when_healthy, start_stack, stop, until_every_worker_serves
from token_exchange import ZORGAANBIEDER
from token_peer import mint_codes

STARTUP_LIMIT = 300.0


def profile(pid: int, to: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling one worker (``<to>.<pid>``, raw collapsed stacks; ``--gil``: only the
    thread holding the interpreter, so a thread waiting on a lock or a socket counts not)."""
    spy = Path(sys.executable).parent / "py-spy"
    command = [str(spy), "record", "-r", "100", "-f", "raw", "--nonblocking", "--gil"]
    return subprocess.Popen(  # noqa: S603 - our own profiler on our own server
        [*command, "-o", f"{to}.{pid}", "--pid", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=100, help="flows per round and level")
    parser.add_argument("--people", type=int, default=8, help="persons at once, second level")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--workers", type=int, default=None, help="per DVA server (medmij up)")
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy raw profile of the authserver here"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dva-flows-") as tmp:
        extra = [] if args.workers is None else ["--workers", str(args.workers)]
        process, info = start_stack(Path(tmp), *extra, "--timeout", "250", limit=STARTUP_LIMIT)
        try:
            return run(process.pid, info, args)
        finally:
            stop(process)


def run(stack_pid: int, info: dict[str, Any], args: argparse.Namespace) -> int:
    dienst = dienst_when_healthy(info, ZORGAANBIEDER, "48", limit=STARTUP_LIMIT)
    until_every_worker_serves(info)
    endpoint = dienst.authorization_endpoint
    assert endpoint is not None
    authserver = role_processes(stack_pid, "authserver")
    resource = role_processes(stack_pid, "zorgaanbieder")
    print(f"authserver processes {[p.pid for p in authserver]}, resource {len(resource)}")
    mint_codes(info, endpoint, args.warmup, 1)
    spies = [] if args.profile is None else [profile(p.pid, args.profile) for p in authserver]
    totals: dict[int, list[float]] = {}
    for round_number in range(args.rounds):
        for people in (1, args.people):
            load = os.getloadavg()
            before = cpu_seconds(authserver), cpu_seconds(resource)
            machine = MachineReading.now()
            codes, seconds = mint_codes(info, endpoint, args.flows, people)
            after = cpu_seconds(authserver), cpu_seconds(resource)
            machine_after = MachineReading.now()
            assert len(set(codes)) == args.flows
            auth_ms = (after[0] - before[0]) * 1000 / args.flows
            res_ms = (after[1] - before[1]) * 1000 / args.flows
            totals.setdefault(people, []).extend([seconds, auth_ms, res_ms])
            print(
                f"round {round_number + 1} {people} at once: {args.flows / seconds:6.1f} flows/s,"
                f" authserver {auth_ms:5.1f} ms CPU/flow, resource server {res_ms:4.1f} ms;"
                f" load {load[0]:.1f}",
                flush=True,
            )
            # The browser (this process) and every server: what the whole flow costs.
            print(f"  {machine.until(machine_after, args.flows, 'flow')}", flush=True)
    for spy in spies:
        spy.send_signal(signal.SIGINT)  # py-spy writes its profile and ends
        spy.wait(60)
    for people, values in totals.items():
        seconds, auth, res = values[0::3], values[1::3], values[2::3]
        print(
            f"{people} at once: {args.flows * len(seconds) / sum(seconds):.1f} flows/s;"
            f" authserver CPU/flow median {sorted(auth)[len(auth) // 2]:.1f} ms"
            f" (min {min(auth):.1f}); resource {sorted(res)[len(res) // 2]:.1f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
