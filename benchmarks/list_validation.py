"""Benchmark: reading a hostile MedMij list costs time in proportion to its size.

A node validates every list it fetches (`medmij_stack.protocol.lists.reader.parse_list`).
A list with many repeated entries must not cost more per entry than a small one: a
Whitelist of 200,000 copies of one Hostname used to take minutes, because every schema
error cost time in proportion to the number of entries before it. This script builds
Whitelist documents of N entries and times `parse_list` on each, so that the growth can
be read off: linear growth keeps "µs per entry" flat from the smallest size to the largest.

Cases (all under the default 20 MiB size limit at 200,000 entries):

* ``duplicates``: current shape, every MedMijNode has the same Hostname (the schema's
  HostnameIsUniek rule; refused);
* ``invalid``: current shape, every Hostname is uppercase (one pattern error per entry;
  refused);
* ``few-duplicates``: current shape, distinct but for the last 100 entries, copies of the
  first (refused; few enough problems that each is given its line, which takes a second
  pass over the parsed tree);
* ``old-shape``: the old shape (host name as text), all distinct (the reader's own
  uniqueness check for that shape; accepted);
* ``valid``: current shape, all distinct (accepted; the baseline).

Method: one document per case and size, built in memory; `parse_list` timed with
perf_counter, best of `--repeat` runs. Single thread, no I/O.

    .venv/bin/python benchmarks/list_validation.py                      # 10k / 40k / 200k
    .venv/bin/python benchmarks/list_validation.py --sizes 1000,10000 --cases duplicates
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

from medmij_stack.protocol.lists import WHITELIST_NAMESPACE, ListKind, parse_list
from medmij_stack.protocol.lists.errors import ListValidationError

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<Whitelist xmlns="{WHITELIST_NAMESPACE}">\n'
    "  <Tijdstempel>2026-03-01T09:30:00Z</Tijdstempel>\n"
    "  <Volgnummer>1</Volgnummer>\n"
    "  <MedMijNodes>\n"
)
_TAIL = "  </MedMijNodes>\n</Whitelist>\n"


def _document(entries: Callable[[int, int], str], size: int) -> bytes:
    return (_HEAD + "".join(entries(i, size) for i in range(size)) + _TAIL).encode()


def _current(hostname: Callable[[int, int], str]) -> Callable[[int, int], str]:
    return lambda i, size: (
        f"    <MedMijNode><Hostname>{hostname(i, size)}</Hostname></MedMijNode>\n"
    )


FEW = 100

CASES: dict[str, Callable[[int, int], str]] = {
    "duplicates": _current(lambda i, size: "node.example.nl"),
    "invalid": _current(lambda i, size: f"NODE{i}.EXAMPLE.NL"),
    "few-duplicates": _current(lambda i, size: f"node{0 if i >= size - FEW else i}.example.nl"),
    "old-shape": lambda i, size: f"    <MedMijNode>node{i}.example.nl</MedMijNode>\n",
    "valid": _current(lambda i, size: f"node{i}.example.nl"),
}


def _time(data: bytes, repeat: int) -> tuple[float, str]:
    best = float("inf")
    verdict = ""
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            parse_list(ListKind.WHITELIST, data)
            verdict = "accepted"
        except ListValidationError as exc:
            verdict = f"refused: {exc.problem[:60]}…"
        best = min(best, time.perf_counter() - started)
    return best, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,40000,200000")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print(
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}, "
        f"Python {platform.python_version()}"
    )
    print("| case | entries | MB | seconds | µs per entry | result |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for case in args.cases.split(","):
        for size in sizes:
            data = _document(CASES[case], size)
            seconds, verdict = _time(data, args.repeat)
            print(
                f"| {case} | {size:,} | {len(data) / 1e6:.1f} | {seconds:.2f} | "
                f"{seconds / size * 1e6:.1f} | {verdict} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
