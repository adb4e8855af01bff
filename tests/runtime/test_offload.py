"""accelerate's CPU and disk offload: tensors left on meta are judged by what their hook loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from initlint import Status, UninitializedWeightsError, verified_empty_init

accelerate = pytest.importorskip("accelerate")


def net() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))


def failures(error: pytest.ExceptionInfo[UninitializedWeightsError]) -> dict[str, str]:
    return {r.name: r.status for r in error.value.report.failures}


@pytest.mark.parametrize("partial", [False, True])
def test_cpu_offload_is_judged_by_the_offloaded_values(partial: bool) -> None:
    with verified_empty_init() as tracker:
        model = net()
    source = model[0] if partial else model
    source.load_state_dict((nn.Linear(4, 4) if partial else net()).state_dict())
    accelerate.cpu_offload(model, execution_device="cpu")
    assert all(p.is_meta for p in model.parameters())
    if not partial:
        model(torch.ones(1, 4))
        assert tracker.verdict.ok
        return
    with pytest.raises(UninitializedWeightsError) as error:
        model(torch.ones(1, 4))
    assert failures(error) == {"1.weight": Status.NEVER_WRITTEN, "1.bias": Status.NEVER_WRITTEN}


@pytest.mark.parametrize("drop", [None, "1.bias"])
def test_disk_offload_of_a_checkpoint(tmp_path: Path, drop: str | None) -> None:
    state = {k: v for k, v in net().state_dict().items() if k != drop}
    torch.save(state, tmp_path / "model.bin")
    with verified_empty_init(accelerate.init_empty_weights()) as tracker:
        model = net()
    model = accelerate.load_checkpoint_and_dispatch(
        model, str(tmp_path / "model.bin"), device_map={"0": "cpu", "1": "disk"},
        offload_folder=str(tmp_path / "offload"), strict=False,
    )  # fmt: skip
    if drop is None:
        model(torch.ones(1, 4))
        assert tracker.verdict.ok
        return
    with pytest.raises(UninitializedWeightsError) as error:  # without initlint: KeyError in the hook
        model(torch.ones(1, 4))
    assert failures(error) == {"1.bias": Status.ON_META}
