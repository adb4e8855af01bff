"""The shared entry-point patching (``initlint.runtime.patching``) on the real libraries, in this process."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from initlint import UninitializedWeightsError, verified_empty_init
from initlint.runtime.patching import EntryPoints

from .models import Net, WithEmptyParameter


@pytest.fixture
def trackers() -> Iterator[list]:
    """Every tracker armed while the entry points are patched, as ``initlint run`` sees them."""
    armed: list = []
    patches = EntryPoints(strict=True, on_tracker=armed.append)
    patches.start()
    try:
        yield armed
    finally:
        patches.undo()
        for tracker in armed:
            tracker.close()


def partial_state() -> dict[str, torch.Tensor]:
    return {k: v for k, v in Net().state_dict().items() if k != "fc2.bias"}


def test_accelerate_init_empty_weights_yields_what_accelerate_yields(trackers: list) -> None:
    accelerate = pytest.importorskip("accelerate")
    with accelerate.init_empty_weights() as given:
        model = Net()
    assert given is None  # as without initlint, never the tracker
    model.load_state_dict(partial_state(), strict=False, assign=True)
    with pytest.raises(UninitializedWeightsError, match="meta"):
        model(torch.ones(1, 4))
    assert len(trackers) == 1


def test_init_on_device_keeps_its_signature_and_works_as_a_decorator(trackers: list) -> None:
    accelerate = pytest.importorskip("accelerate")
    original = accelerate.init_on_device._initlint_original
    assert inspect.signature(accelerate.init_on_device) == inspect.signature(original)
    assert accelerate.init_on_device.__doc__ == original.__doc__

    @accelerate.init_on_device(device=torch.device("meta"))
    def build() -> nn.Module:
        return Net()

    first, second = build(), build()  # a fresh verified context per call, as contextlib's decorator does
    assert first.fc1.weight.is_meta and second.fc1.weight.is_meta
    assert len(trackers) == 2 and trackers[0] is not trackers[1]
    with accelerate.init_on_device("cpu") as given:  # not meta: the original context, untouched
        Net()
    assert given is None and len(trackers) == 2


def test_peft_copy_of_init_empty_weights_is_verified(trackers: list) -> None:
    integrations = pytest.importorskip("peft.utils.integrations")
    with integrations.init_empty_weights():
        model = Net()
    model.load_state_dict(partial_state(), strict=False, assign=True)
    with pytest.raises(UninitializedWeightsError, match="fc2.bias"):
        model(torch.ones(1, 4))


def test_from_pretrained_is_verified_without_any_edit(trackers: list, tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    from .hf_models import ScaleConfig, ScaleModel, drop_keys

    transformers.logging.set_verbosity_error()
    ScaleModel(ScaleConfig()).save_pretrained(tmp_path)
    complete = ScaleModel.from_pretrained(tmp_path)
    complete(torch.ones(1, 8))
    assert trackers[-1].verdict.ok and trackers[-1].models == 1
    drop_keys(tmp_path, "block.scale")
    partial = ScaleModel.from_pretrained(tmp_path)
    with pytest.raises(UninitializedWeightsError) as error:
        partial(torch.ones(1, 8))
    assert {r.name for r in error.value.report.failures} == {"block.scale"}


def test_from_pretrained_loads_bitwise_as_without_initlint(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    from .hf_models import drop_keys, save_llama

    transformers.logging.set_verbosity_error()
    save_llama(tmp_path)
    drop_keys(tmp_path, "model.layers.1.mlp.up_proj.weight")  # transformers initializes it
    torch.manual_seed(7)
    bare = transformers.AutoModelForCausalLM.from_pretrained(tmp_path)
    armed: list = []
    patches = EntryPoints(on_tracker=armed.append)
    patches.start()
    try:
        torch.manual_seed(7)
        model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path)
        model(torch.tensor([[1, 2, 3]]))
    finally:
        patches.undo()
    assert len(armed) == 1 and armed[0].verdict.ok
    for key, value in bare.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_from_config_under_no_init_weights(trackers: list) -> None:
    transformers = pytest.importorskip("transformers")
    from transformers.initialization import no_init_weights

    from .hf_models import tiny_llama_config

    with no_init_weights():
        model = transformers.AutoModelForCausalLM.from_config(tiny_llama_config())
    state = {k: v for k, v in transformers.AutoModelForCausalLM.from_config(tiny_llama_config()).state_dict().items()}
    del state["lm_head.weight"]
    model.load_state_dict(state, strict=False)
    with pytest.raises(UninitializedWeightsError, match="lm_head.weight"):
        model(torch.tensor([[1, 2]]))


def test_lightning_init_module_and_no_second_tracker_inside_a_verified_one(trackers: list) -> None:
    lightning = pytest.importorskip("lightning")
    fabric = lightning.Fabric(accelerator="cpu", devices=1)
    with fabric.init_module(empty_init=True):
        model = Net()
    model.load_state_dict(partial_state(), strict=False)
    with pytest.raises(UninitializedWeightsError, match="fc2.bias"):
        model(torch.ones(1, 4))
    with verified_empty_init(fabric.init_module(empty_init=True)) as tracker:  # the user's own wrapping
        model = Net()
    assert trackers[-1] is tracker and len(trackers) == 2
    with fabric.init_module(empty_init=False):
        Net()
    assert len(trackers) == 2


def test_colossalai_lazy_init_context(trackers: list) -> None:
    lazy = pytest.importorskip("colossalai.lazy")
    with lazy.LazyInitContext():
        model = WithEmptyParameter()
    lazy.LazyInitContext.materialize(model)
    with pytest.raises(UninitializedWeightsError) as error:
        model(torch.ones(2, 3))
    assert {r.name for r in error.value.report.failures} == {"gain"}


def test_everything_is_restored_after_undo() -> None:
    accelerate = pytest.importorskip("accelerate")
    lightning = pytest.importorskip("lightning")
    transformers = pytest.importorskip("transformers")
    before = (
        accelerate.init_on_device,
        torch.nn.Module.to_empty,
        vars(lightning.Fabric)["init_module"],
        vars(transformers.PreTrainedModel)["get_init_context"],
        verified_empty_init.__enter__,
    )
    patches = EntryPoints()
    patches.start()
    assert accelerate.init_on_device is not before[0]
    patches.undo()
    after = (
        accelerate.init_on_device,
        torch.nn.Module.to_empty,
        vars(lightning.Fabric)["init_module"],
        vars(transformers.PreTrainedModel)["get_init_context"],
        verified_empty_init.__enter__,
    )
    assert all(a is b for a, b in zip(after, before))
