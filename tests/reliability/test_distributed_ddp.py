"""DDP on gloo with 2 processes, after a verified empty init."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.distributed


def run(tmp_path: Path, full: str) -> list[dict]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    worker = Path(__file__).with_name("ddp_worker.py")
    out = str(tmp_path / "r")
    procs = [
        subprocess.Popen([sys.executable, str(worker), str(rank), str(port), full, out],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for rank in range(2)
    ]
    logs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)
    return [json.loads(Path(f"{out}.{rank}.json").read_text()) for rank in range(2)]


def test_ddp_full_load(tmp_path: Path) -> None:
    results = run(tmp_path, "full")
    assert all(r["ok"] for r in results) and results[0]["counts"] == [0, 8, 0, 2 * (32 + 8 + 16 + 2)]


def test_ddp_partial_load_fails_on_both_ranks(tmp_path: Path) -> None:
    results = run(tmp_path, "partial")
    assert [r["names"] for r in results] == [["1.bias"], ["1.bias"]]
