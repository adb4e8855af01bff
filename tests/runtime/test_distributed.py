"""FSDP2 for real: 2 processes on CPU with gloo, meta init -> fully_shard -> to_empty -> reset."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..distributed import run_ranks

pytestmark = pytest.mark.distributed
WORKER = "tests.runtime.fsdp_worker"


def test_fsdp2_meta_init_with_reset_passes(tmp_path: Path) -> None:
    results = run_ranks(WORKER, tmp_path, "all")
    assert all(r["ok"] for r in results), results
    assert results[0]["counts"] == results[1]["counts"] == [0, 8, 0, 2 * (8 * 16 + 16 + 16 * 4 + 4)]


def test_fsdp2_missing_bias_init_fails_on_every_rank_with_global_names(tmp_path: Path) -> None:
    results = run_ranks(WORKER, tmp_path, "weights-only")  # rank 1 initializes only the weights
    assert not any(r["ok"] for r in results), results
    assert results[1]["names"] == ["0.bias", "2.bias"]
    assert results[0]["names"] == []  # rank 0 is fine locally, but the global count fails it too
    assert results[0]["counts"][0] == 2
    assert "across all ranks" in results[0]["message"]


def test_fsdp2_meta_to_empty_then_dcp_load_passes(tmp_path: Path) -> None:
    results = run_ranks(WORKER, tmp_path, "dcp-complete", str(tmp_path / "dcp"))
    assert all(r["ok"] and r["equal"] for r in results), results


def test_fsdp2_dcp_load_missing_key_names_it_on_every_rank(tmp_path: Path) -> None:
    results = run_ranks(WORKER, tmp_path, "dcp-partial", str(tmp_path / "dcp"))
    assert not any(r["ok"] for r in results), results
    assert all(r["names"] == ["2.bias"] for r in results), results


@pytest.mark.parametrize("how", ["full", "broadcast"])
@pytest.mark.parametrize("world_size", [1, 2])
def test_fsdp2_full_state_dict_load_into_meta_passes(tmp_path: Path, how: str, world_size: int) -> None:
    """distribute_tensor / broadcast write each shard through a collective: those are writes."""
    results = run_ranks(WORKER, tmp_path, how, world_size=world_size)
    assert all(r["ok"] and r["equal"] for r in results), results


@pytest.mark.parametrize("how", ["full-partial", "broadcast-partial"])
def test_fsdp2_partial_full_state_dict_names_exactly_the_missing_key_on_every_rank(tmp_path: Path, how: str) -> None:
    results = run_ranks(WORKER, tmp_path, how)
    assert all(not r["ok"] and r["names"] == ["2.bias"] for r in results), results
