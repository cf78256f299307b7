"""One bounded run of a load script of ours under node (`benchmarks/node/*.js`, autocannon):
its settings as JSON on standard input, its result as one JSON object on standard output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["NODE", "run_node_load"]

NODE = Path(__file__).resolve().parent / "node"


def run_node_load(script: str, settings: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The result of ``node benchmarks/node/<script>`` given ``settings``; SystemExit with
    the end of its error output when it fails."""
    finished = subprocess.run(  # noqa: S603 - node with our own script
        ["node", str(NODE / script)],  # noqa: S607
        input=json.dumps(settings).encode(),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if finished.returncode != 0:
        raise SystemExit(f"autocannon failed: {finished.stderr.decode(errors='replace')[-2000:]}")
    result = json.loads(finished.stdout)
    assert isinstance(result, dict)
    return result
