"""FSDP2 for real: 2 processes on CPU with gloo, meta init -> fully_shard -> to_empty -> reset."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.distributed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_ranks(tmp_path: Path, reset: str) -> list[dict]:
    port = _free_port()
    out = str(tmp_path / "result")
    worker = Path(__file__).with_name("fsdp_worker.py")
    procs = [
        subprocess.Popen([sys.executable, str(worker), str(rank), "2", str(port), reset, out],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for rank in range(2)
    ]
    logs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)
    return [json.loads(Path(f"{out}.{rank}.json").read_text()) for rank in range(2)]


def test_fsdp2_meta_init_with_reset_passes(tmp_path: Path) -> None:
    results = run_ranks(tmp_path, "all")
    assert all(r["ok"] for r in results), results
    assert results[0]["counts"] == results[1]["counts"] == [0, 8, 0, 2 * (8 * 16 + 16 + 16 * 4 + 4)]


def test_fsdp2_missing_bias_init_fails_on_every_rank_with_global_names(tmp_path: Path) -> None:
    results = run_ranks(tmp_path, "weights-only")  # rank 1 initializes only the weights
    assert not any(r["ok"] for r in results), results
    assert results[1]["names"] == ["0.bias", "2.bias"]
    assert results[0]["names"] == []  # rank 0 is fine locally, but the global count fails it too
    assert results[0]["counts"][0] == 2
    assert "across all ranks" in results[0]["message"]
