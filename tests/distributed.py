"""Start a worker script in 2 processes on the loopback address and read their JSON results."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path


def run_ranks(worker: Path, tmp_path: Path, *args: str, world_size: int = 2) -> list[dict]:
    """Run ``worker RANK WORLD PORT *args OUT`` once per rank; return each rank's ``OUT.RANK.json``."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = str(tmp_path / "result")
    procs = [
        subprocess.Popen(
            [sys.executable, str(worker), str(rank), str(world_size), str(port), *args, out],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(world_size)
    ]
    logs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)
    return [json.loads(Path(f"{out}.{rank}.json").read_text()) for rank in range(world_size)]
