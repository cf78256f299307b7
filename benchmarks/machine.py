"""How busy the whole machine was over a measurement, and the rate its CPU allows.

A benchmark that misses its target says what bounds it. When the machine's cores were (nearly)
all busy, the bound is the CPU that one unit of work costs everywhere on the machine (every
process of the stack, the load generator, the database): at ``c`` CPU-seconds per unit, ``n``
cores allow at most ``n / c`` units per second, however the work is spread over processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

__all__ = ["MachineReading", "cpu_seconds", "machine_jiffies", "role_processes"]


def role_processes(stack_pid: int, role: str) -> list[psutil.Process]:
    """The processes of ``serve <role>`` under the stack (the role's parent and workers)."""
    found = []
    for process in psutil.Process(stack_pid).children(recursive=True):
        try:
            arguments = process.cmdline()
        except psutil.Error:
            continue
        if "serve" in arguments and arguments[arguments.index("serve") + 1 :][:1] == [role]:
            found.append(process)
    return found


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU seconds so far of ``processes`` together."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def machine_jiffies() -> tuple[float, float]:
    """(busy, total) CPU time of the whole machine so far, every core."""
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    total = sum(times)
    return total - idle, total


@dataclass(frozen=True)
class MachineReading:
    """The machine's CPU time at one moment; two of them give a measurement's share."""

    busy: float
    total: float

    @classmethod
    def now(cls) -> MachineReading:
        return cls(*machine_jiffies())

    def until(self, later: MachineReading, units: int, unit: str) -> str:
        """One line: how busy the machine was since this reading, the CPU-seconds per
        ``unit`` of all of it, and the rate that allows on this machine's cores."""
        cores = os.cpu_count() or 1
        busy = later.busy - self.busy
        share = busy / max(later.total - self.total, 1e-9)
        per_unit = busy / max(units, 1)
        allowed = cores / per_unit if per_unit else float("inf")
        return (
            f"machine: {share * 100:.0f}% busy ({share * cores:.2f} of {cores} cores); "
            f"{per_unit * 1000:.0f} ms CPU per {unit} on the whole machine, so at most "
            f"{allowed:.1f} {unit}s/s on its {cores} cores"
        )
