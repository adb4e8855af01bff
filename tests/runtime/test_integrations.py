"""The verifier wrapped around the real empty-init contexts of Lightning and accelerate."""

from __future__ import annotations

import pytest
import torch

from initlint import UninitializedWeightsError, verified_empty_init

from .models import Net, Tied, reset_all

lightning = pytest.importorskip("lightning")
accelerate = pytest.importorskip("accelerate")


def test_fabric_init_module_empty_init_full_load_passes() -> None:
    fabric = lightning.Fabric(accelerator="cpu", devices=1)
    state = Net().state_dict()
    with verified_empty_init(fabric.init_module(empty_init=True)) as tracker:
        model = Net()
    model.load_state_dict(state)
    model = fabric.setup(model)
    model(torch.tensor([1, 2]))  # the first forward checks, through Fabric's wrapper
    assert tracker.report().ok


def test_fabric_init_module_partial_checkpoint_fails_at_forward() -> None:
    fabric = lightning.Fabric(accelerator="cpu", devices=1)
    state = {k: v for k, v in Net().state_dict().items() if k != "embed.weight"}
    with verified_empty_init(fabric.init_module(empty_init=True)):
        model = Net()
    model.load_state_dict(state, strict=False)
    model = fabric.setup(model)
    with pytest.raises(UninitializedWeightsError) as error:
        model(torch.tensor([1, 2]))
    assert {r.name for r in error.value.report.failures} == {"embed.weight"}


def test_trainer_init_module_empty_init() -> None:
    class Lit(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = Net()

    trainer = lightning.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False)
    state = Lit().state_dict()
    del state["net.fc2.bias"]
    with verified_empty_init(trainer.init_module(empty_init=True)) as tracker:
        model = Lit()
    model.load_state_dict(state, strict=False)
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    assert {r.name for r in error.value.report.failures} == {"net.fc2.bias"}


def test_accelerate_init_empty_weights_assign_load_passes() -> None:
    state = Net().state_dict()
    with verified_empty_init(accelerate.init_empty_weights()) as tracker:
        model = Net()
    assert all(p.is_meta for p in model.parameters())
    model.load_state_dict(state, assign=True)
    assert tracker.check().ok


def test_accelerate_partial_assign_load_leaves_meta() -> None:
    state = {k: v for k, v in Net().state_dict().items() if k != "fc1.weight"}
    with verified_empty_init(accelerate.init_empty_weights()) as tracker:
        model = Net()
    model.load_state_dict(state, assign=True, strict=False)
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    assert [(r.name, r.status) for r in error.value.report.failures] == [("fc1.weight", "on-meta")]


def test_accelerate_breaks_ties_and_we_say_so() -> None:
    with verified_empty_init(accelerate.init_empty_weights()) as tracker:
        model = Tied()
    model.to_empty(device="cpu")
    reset_all(model)
    with pytest.raises(UninitializedWeightsError) as error:
        tracker.check()
    broken = [r for r in error.value.report.failures if r.status == "tie-broken"]
    assert [(r.name, r.detail) for r in broken] == [("embed.weight", "head.weight")]
    assert "tie_weights" in str(error.value)
