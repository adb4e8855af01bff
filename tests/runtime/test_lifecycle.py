"""The verifier's life cycle: it leaves torch as it found it once nothing it watches is alive, checks every
surviving module whoever dropped its parent, and never changes how a model pickles or copies."""

from __future__ import annotations

import copy
import gc
import io
import pickle
import warnings

import pytest
import torch
from torch import nn
from torch.nn.modules import module as hooks

from initlint import UninitializedWeightsError, verified_empty_init

from .models import Net, WithEmptyParameter


def global_state() -> tuple[int, ...]:
    return (
        torch._C._len_torch_function_stack(),
        len(hooks._global_forward_pre_hooks),
        len(hooks._global_forward_hooks),
        len(hooks._global_module_registration_hooks),
        len(hooks._global_parameter_registration_hooks),
        len(hooks._global_buffer_registration_hooks),
    )


def failed(error: pytest.ExceptionInfo[UninitializedWeightsError]) -> set[str]:
    return {r.name for r in error.value.report.failures}


def test_hundreds_of_models_built_and_dropped_unchecked_leave_nothing_behind() -> None:
    before = global_state()
    gc.collect()
    for i in range(300):
        with verified_empty_init() as tracker:
            model = Net()
        if i % 3 == 0:  # some checked, most never forwarded
            model.load_state_dict(Net().state_dict())
            model(torch.zeros(1, 3, dtype=torch.long))
        del model, tracker
        if i == 50:
            gc.collect()
            objects = len(gc.get_objects())
    gc.collect()
    assert global_state() == before
    assert len(gc.get_objects()) < objects + 500  # memory flat: no per-model leftovers


def test_a_live_unchecked_model_is_watched_until_it_dies() -> None:
    before = global_state()
    with verified_empty_init() as tracker:
        model = Net()
    assert torch._C._len_torch_function_stack() == before[0] + 1
    del model
    assert global_state() == before
    assert tracker.verdict is None  # released, never checked


def test_a_module_built_without_tensors_releases_at_once() -> None:
    """Lightning's configure_model pattern: nothing to check at construction, nothing stays on the stack."""

    class Shell(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net: nn.Module | None = None

    before = global_state()
    with verified_empty_init() as tracker:
        shell = Shell()
    assert global_state() == before and tracker.models == 0
    shell.net = nn.Linear(2, 2)
    shell.net(torch.ones(1, 2))


def test_lightning_configure_model_trains_and_leaves_nothing_behind() -> None:
    lightning = pytest.importorskip("lightning")

    class Late(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(4, 1)  # built under init_module(empty_init=True): garbage until loaded
            self.body: nn.Module | None = None

        def configure_model(self) -> None:
            if self.body is None:
                self.body = nn.Linear(4, 4)

        def training_step(self, batch: list[torch.Tensor], index: int) -> torch.Tensor:
            return self.head(self.body(batch[0])).sum()  # children directly: the root's forward never runs

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    trainer = lightning.Trainer(
        accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    before = global_state()
    with verified_empty_init(trainer.init_module(empty_init=True)) as tracker:
        model = Late()
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(4, 4)), batch_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(UninitializedWeightsError) as error:
            trainer.fit(model, data)
    assert failed(error) == {"head.weight", "head.bias"}
    assert global_state() == before


def test_a_module_whose_wrapper_was_dropped_is_still_checked() -> None:
    with verified_empty_init() as tracker:
        net = nn.Sequential(nn.Linear(3, 3))
        wrapper = nn.ModuleDict({"inner": net})
    del wrapper
    assert tracker.models == 1
    with pytest.raises(UninitializedWeightsError) as error:
        net(torch.randn(1, 3))
    assert failed(error) == {"0.weight", "0.bias"}


def test_peft_adapter_injected_into_the_base_is_checked() -> None:
    peft = pytest.importorskip("peft")
    config = peft.LoraConfig(r=2, target_modules=["fc1"], init_lora_weights=True)
    with verified_empty_init() as tracker:
        base = Net()
        base = peft.inject_adapter_in_model(config, base)  # the wrapper it builds is thrown away
    checkpoint = {k.replace("fc1.", "fc1.base_layer."): v for k, v in Net().state_dict().items()}
    missing = base.load_state_dict(checkpoint, strict=False).missing_keys  # the base's: no adapter weights
    assert sorted(missing) == ["fc1.lora_A.default.weight", "fc1.lora_B.default.weight"]
    with pytest.raises(UninitializedWeightsError) as error:
        base(torch.zeros(1, 3, dtype=torch.long))
    assert failed(error) == {"fc1.lora_A.default.weight"}  # lora_B is zeros: a real value


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "torch.save"])
def test_tracked_models_pickle_and_copy_like_untracked_ones(how: str) -> None:
    with verified_empty_init() as tracker:
        model = Net()
    if how == "pickle":
        clone = pickle.loads(pickle.dumps(model))
    elif how == "deepcopy":
        clone = copy.deepcopy(model)
    else:
        buffer = io.BytesIO()
        torch.save(model, buffer)
        buffer.seek(0)
        clone = torch.load(buffer, weights_only=False)
    assert not clone._forward_pre_hooks and not clone._forward_hooks
    model.load_state_dict(Net().state_dict())
    assert tracker.check().ok


def test_one_tracker_never_changes_the_next_ones_verdict() -> None:
    lazy = pytest.importorskip("colossalai.lazy")

    def complete() -> None:
        with verified_empty_init(lazy.LazyInitContext()) as tracker:
            model = nn.Sequential(nn.Linear(3, 3))
        lazy.LazyInitContext.materialize(model)
        model.load_state_dict(nn.Sequential(nn.Linear(3, 3)).state_dict())
        assert tracker.check().ok

    def garbage() -> set[str]:
        with verified_empty_init(lazy.LazyInitContext()) as tracker:
            model = WithEmptyParameter()
        lazy.LazyInitContext.materialize(model)
        with pytest.raises(UninitializedWeightsError) as error:
            tracker.check()
        return failed(error)

    alone = garbage()
    complete()
    assert garbage() == alone == {"gain"}
