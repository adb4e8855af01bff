"""Run a worker function in several processes on the loopback address and read their results.

A worker module defines ``work(rank, world_size, *args) -> dict`` and ends with
``if __name__ == "__main__": serve_rank(work)``; a test calls ``run_ranks("tests.x.worker", tmp_path, ...)``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[1]


def run_ranks(module: str, tmp_path: Path, *args: str, world_size: int = 2) -> list[dict]:
    """Run ``python -m module RANK WORLD PORT *args OUT`` once per rank; return each rank's result."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = str(tmp_path / "result")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", module, str(rank), str(world_size), str(port), *args, out],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(world_size)
    ]
    logs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)
    return [json.loads(Path(f"{out}.{rank}.json").read_text()) for rank in range(world_size)]


def serve_rank(work: Callable[..., dict[str, Any]]) -> NoReturn:
    """A worker's entry point: join the gloo group, run ``work``, write its result as JSON, leave."""
    import torch.distributed as dist

    rank, world_size, port = (int(a) for a in sys.argv[1:4])
    *args, out = sys.argv[4:]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    try:
        dist.init_process_group("gloo", rank=rank, world_size=world_size)
        result = work(rank, world_size, *args)
        Path(f"{out}.{rank}.json").write_text(json.dumps(result), encoding="utf-8")
        dist.barrier()
    except BaseException:
        traceback.print_exc()
        sys.stdout.flush()
        os._exit(1)
    # torch 2.13's gloo backend can abort at interpreter exit ("terminate called without an active
    # exception"), also without initlint; the results are written, so leave right away.
    sys.stdout.flush()
    os._exit(0)
