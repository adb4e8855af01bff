"""DDP on gloo with 2 processes, after a verified empty init."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..distributed import run_ranks

pytestmark = pytest.mark.distributed
WORKER = "tests.reliability.ddp_worker"


def test_ddp_full_load(tmp_path: Path) -> None:
    results = run_ranks(WORKER, tmp_path, "full")
    assert all(r["ok"] for r in results) and results[0]["counts"] == [0, 8, 0, 2 * (32 + 8 + 16 + 2)]


def test_ddp_partial_load_fails_on_both_ranks(tmp_path: Path) -> None:
    results = run_ranks(WORKER, tmp_path, "partial")
    assert [r["names"] for r in results] == [["1.bias"], ["1.bias"]]
