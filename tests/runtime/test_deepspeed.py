"""DeepSpeed ZeRO-3 for real, on CPU (``DS_ACCELERATOR=cpu``, gloo): models built under ``deepspeed.zero.Init``.

Every expectation is what the same scenario leaves as NaN without initlint, under torch's
``fill_uninitialized_memory`` (``g`` gathered after the scenario). The scenarios run in worker processes
(``deepspeed_worker.py``), all of one world size in one run: starting torch and DeepSpeed takes seconds.
"""

from __future__ import annotations

import importlib.util
import pytest

from ..distributed import run_ranks

# Found, not imported: importing DeepSpeed here would make every tracker in this process watch it.
_NEEDED = ("deepspeed", "hjson", "cpuinfo", "msgpack", "einops")
_MISSING = [name for name in _NEEDED if not importlib.util.find_spec(name)]
pytestmark = pytest.mark.skipif(
    bool(_MISSING),
    reason=f"DeepSpeed is not installed ({', '.join(_MISSING)} missing): "
    'pip install deepspeed==0.19.8 (in the test extras: pip install -e ".[test]")',
)
WORKER = "tests.runtime.deepspeed_worker"


SINGLE = (
    "empty", "train-empty", "train", "apply", "parent-init", "parent-apply", "gathered", "gathered-module",
    "gathered-other", "nan", "poison", "checkpoint-complete", "checkpoint-module", "checkpoint-module-only",
    "checkpoint-partial", "hf-initialized", "hf-missing", "zero2-empty", "zero2-complete",
)  # fmt: skip
PAIR = (
    "empty", "gathered", "gathered-other", "checkpoint-complete", "checkpoint-partial", "train", "hf-initialized",
    "hf-missing",
)  # fmt: skip


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Each scenario's result in one process."""
    tmp = tmp_path_factory.mktemp("deepspeed1")
    [results] = run_ranks(WORKER, tmp, ",".join(SINGLE), str(tmp / "checkpoints"), world_size=1)
    return results


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """Each scenario's results on 2 ranks, rank 0 first."""
    tmp = tmp_path_factory.mktemp("deepspeed2")
    ranks = run_ranks(WORKER, tmp, ",".join(PAIR), str(tmp / "checkpoints"))
    return {name: [rank[name] for rank in ranks] for name in PAIR}


def run(results: dict, scenario: str) -> list:
    return [results[scenario]] if isinstance(results[scenario], dict) else results[scenario]


def test_empty_parameter_under_zero_init_is_named_by_its_partition(single: dict) -> None:
    [result] = run(single, "empty")
    assert result["data"] == [0] and result["partition"] == [9]  # DeepSpeed emptied .data: the values are elsewhere
    assert not result["ok"]
    assert result["names"] == ["g"]  # and not fc, which Linear's constructor initialized
    assert result["statuses"] == ["never-written"]
    assert result["shapes"] == [[9]]  # the parameter's shape, not its empty .data's


def test_empty_parameter_is_named_at_the_first_forward_of_the_engine(single: dict) -> None:
    [result] = run(single, "train-empty")
    assert result["names"] == ["g"]


def test_complete_model_is_clean_through_initialize_and_a_training_step(single: dict) -> None:
    [result] = run(single, "train")
    assert result["ok"], result
    assert result["counts"] == [0, 3, 0, 8 * 8 + 8 + 9]


def test_module_apply_under_zero_init_keeps_what_it_gathers_but_does_not_write(single: dict) -> None:
    [result] = run(single, "apply")
    assert result["ok"], result


def test_parent_writing_a_partitioned_child_parameter_directly_is_named(single: dict) -> None:
    # zero.Init partitions Child when its constructor returns; the parent's nn.init.ones_ then writes the
    # empty .data and is lost: child.w is NaN without initlint too
    assert single["parent-init"]["names"] == ["child.w"]


def test_parent_writing_a_child_parameter_through_apply_is_clean(single: dict) -> None:
    assert single["parent-apply"]["ok"], single["parent-apply"]


def test_gathered_load_of_the_missing_tensor_is_clean(single: dict) -> None:
    [result] = run(single, "gathered")
    assert result["ok"], result


def test_gathered_load_into_one_of_several_gathered_parameters_is_clean(single: dict) -> None:
    # fc.weight, fc.bias and g share one gather buffer; only g is written, fc keeps its initialization
    [result] = run(single, "gathered-module")
    assert result["ok"], result


def test_gathered_load_of_another_parameter_leaves_the_empty_one_named(single: dict) -> None:
    [result] = run(single, "gathered-other")
    assert result["names"] == ["g"]


def test_nan_written_into_a_partition_is_named_non_finite(single: dict) -> None:
    [result] = run(single, "nan")
    assert result["names"] == ["g"] and result["statuses"] == ["non-finite"]


def test_poison_fills_and_finds_the_empty_partition(single: dict) -> None:
    [result] = run(single, "poison")
    assert result["names"] == ["g"] and result["statuses"] == ["never-written"]


def test_load_checkpoint_complete_is_clean(single: dict) -> None:
    [result] = run(single, "checkpoint-complete")
    assert result["ok"], result


def test_load_checkpoint_module_only_complete_is_clean(single: dict) -> None:
    [result] = run(single, "checkpoint-module")
    assert result["ok"], result


def test_load_checkpoint_module_only_loads_nothing_under_zero3_and_says_so(single: dict) -> None:
    # DeepSpeed's ZeRO-3 checkpoints keep the weights in the optimizer states; load_module_only=True reads
    # the module's empty tensors and leaves g as it was (NaN without initlint too)
    [result] = run(single, "checkpoint-module-only")
    assert result["names"] == ["g"]


def test_load_checkpoint_partial_names_the_missing_parameter(single: dict) -> None:
    [result] = run(single, "checkpoint-partial")
    assert result["names"] == ["g"]


def test_from_pretrained_under_hf_deepspeed_config_key_initialized_by_transformers_is_clean(single: dict) -> None:
    result = single["hf-initialized"]
    assert result["zero3"]  # transformers built it under zero.Init
    assert result["report"]["ok"], result


def test_from_pretrained_under_hf_deepspeed_config_names_the_custom_parameter_nobody_writes(single: dict) -> None:
    result = single["hf-missing"]
    assert result["zero3"]
    assert result["report"]["names"] == ["block.scale"]


def test_zero2_flat_buffer_keeps_each_parameter_origin(single: dict) -> None:
    # initialize moves every parameter into one flat buffer: g stays garbage, fc stays initialized
    assert single["zero2-empty"]["names"] == ["g"]
    assert single["zero2-complete"]["ok"], single["zero2-complete"]


@pytest.mark.distributed
def test_two_ranks_name_the_empty_parameter_on_every_rank(pair: dict) -> None:
    results = run(pair, "empty")
    assert [r["partition"] for r in results] == [[5], [5]]  # 9 elements: rank 1 holds 4 and a padding element
    assert all(r["names"] == ["g"] for r in results), results
    assert results[0]["counts"] == results[1]["counts"]
    assert "across all ranks" in results[0]["message"]


@pytest.mark.distributed
def test_two_ranks_gathered_load_by_rank_zero_is_clean_on_both(pair: dict) -> None:
    # rank 1 never sees the copy: it takes rank 0's account along with DeepSpeed's broadcast
    results = run(pair, "gathered")
    assert all(r["ok"] for r in results), results


@pytest.mark.distributed
def test_two_ranks_gathered_load_of_another_parameter_names_the_empty_one(pair: dict) -> None:
    results = run(pair, "gathered-other")
    assert all(r["names"] == ["g"] for r in results), results


@pytest.mark.distributed
def test_two_ranks_load_checkpoint_complete_and_partial(pair: dict) -> None:
    assert all(r["ok"] for r in run(pair, "checkpoint-complete"))
    results = run(pair, "checkpoint-partial")
    assert all(r["names"] == ["g"] for r in results), results


@pytest.mark.distributed
def test_two_ranks_complete_model_trains_clean(pair: dict) -> None:
    results = run(pair, "train")
    assert all(r["ok"] for r in results), results


@pytest.mark.distributed
def test_two_ranks_from_pretrained_under_hf_deepspeed_config(pair: dict) -> None:
    assert all(r["report"]["ok"] for r in run(pair, "hf-initialized"))
    assert all(r["report"]["names"] == ["block.scale"] for r in run(pair, "hf-missing"))
