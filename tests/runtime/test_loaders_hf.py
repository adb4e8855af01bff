"""transformers and accelerate loaders under the verifier: tiny models saved in the test, no hub."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from initlint import UninitializedWeightsError, verified_empty_init
from initlint.runtime import Status

from .models import Net

transformers = pytest.importorskip("transformers")
accelerate = pytest.importorskip("accelerate")

from .hf_models import ScaleConfig, ScaleModel, drop_keys, save_llama, tiny_llama_config  # noqa: E402

LLAMA_KEY = "model.layers.1.mlp.up_proj.weight"


@pytest.fixture(autouse=True)
def quiet_transformers() -> None:
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def failed(error: pytest.ExceptionInfo) -> set[str]:
    return {r.name for r in error.value.report.failures}


def test_from_pretrained_complete_checkpoint_passes(tmp_path: Path) -> None:
    state = save_llama(tmp_path)
    with verified_empty_init() as tracker:
        model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path)
    model(torch.tensor([[1, 2, 3]]))
    report = tracker.verdict
    assert report.ok and len(report) >= len(state)
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value), key


def test_from_pretrained_missing_key_is_initialized_by_transformers_exactly_as_without_initlint(tmp_path: Path) -> None:
    save_llama(tmp_path)
    drop_keys(tmp_path, LLAMA_KEY)
    torch.manual_seed(123)
    bare = transformers.AutoModelForCausalLM.from_pretrained(tmp_path)
    torch.manual_seed(123)
    with verified_empty_init() as tracker:
        model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path)
    report = tracker.check()
    assert report.ok
    assert report.by_name()[LLAMA_KEY].origin == "initialized"
    assert report.by_name()["model.layers.0.mlp.up_proj.weight"].origin == "loaded"
    for key, value in bare.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key  # bitwise: the loader ran as without us


@pytest.mark.parametrize("drop", [False, True])
def test_from_pretrained_custom_parameter_no_init_weights_handles(tmp_path: Path, drop: bool) -> None:
    ScaleModel(ScaleConfig()).save_pretrained(tmp_path)
    if drop:
        drop_keys(tmp_path, "block.scale")
    with verified_empty_init() as tracker:
        model = ScaleModel.from_pretrained(tmp_path)
    if not drop:
        model(torch.ones(1, 8))
        assert tracker.verdict.ok
        return
    with pytest.raises(UninitializedWeightsError) as error:
        model(torch.ones(1, 8))
    assert failed(error) == {"block.scale"}  # block.lin was loaded; _init_weights never writes scale
    assert "_init_weights" in str(error.value)


@pytest.mark.parametrize("drop", [False, True])
def test_from_config_then_load_state_dict(tmp_path: Path, drop: bool) -> None:
    state = save_llama(tmp_path)
    if drop:
        state = {k: v for k, v in state.items() if k != LLAMA_KEY}
    with verified_empty_init() as tracker:
        model = transformers.AutoModelForCausalLM.from_config(tiny_llama_config())
    model.load_state_dict(state, strict=False)
    if drop:
        with pytest.raises(UninitializedWeightsError) as error:
            model(torch.tensor([[1, 2]]))
        assert failed(error) == {LLAMA_KEY}
    else:
        model(torch.tensor([[1, 2]]))
        assert tracker.verdict.ok


@pytest.mark.parametrize("loader", ["dispatch", "in_model"])
@pytest.mark.parametrize("drop", [None, "fc2.bias"])
def test_accelerate_loaders_after_init_empty_weights(tmp_path: Path, loader: str, drop: str | None) -> None:
    from safetensors.torch import save_file

    reference = Net()
    state = {k: v.contiguous() for k, v in reference.state_dict().items() if k != drop}
    save_file(state, tmp_path / "net.safetensors", metadata={"format": "pt"})
    with verified_empty_init(accelerate.init_empty_weights()) as tracker:
        model = Net()
    if loader == "dispatch" and drop:
        # accelerate itself refuses to dispatch a meta tensor, with or without initlint: nothing hidden.
        with pytest.raises(NotImplementedError, match="meta tensor"):
            accelerate.load_checkpoint_and_dispatch(model, str(tmp_path / "net.safetensors"), device_map={"": "cpu"})
        tracker.close()
        return
    if loader == "dispatch":
        model = accelerate.load_checkpoint_and_dispatch(model, str(tmp_path / "net.safetensors"), device_map={"": "cpu"})
    else:
        accelerate.utils.load_checkpoint_in_model(model, str(tmp_path / "net.safetensors"), device_map={"": "cpu"})
    if drop:
        with pytest.raises(UninitializedWeightsError) as error:
            tracker.check()
        assert failed(error) == {drop}
        assert error.value.report.by_name()[drop].status == Status.ON_META
    else:
        assert tracker.check().ok
        for key, value in state.items():
            assert torch.equal(model.state_dict()[key], value), key


def test_poison_fills_only_memory_nobody_wrote(tmp_path: Path) -> None:
    ScaleModel(ScaleConfig()).save_pretrained(tmp_path)
    drop_keys(tmp_path, "block.scale")
    with verified_empty_init(poison=True, strict=False) as tracker:
        model = ScaleModel.from_pretrained(tmp_path)
    assert torch.isnan(model.block.scale).all()
    assert not torch.isnan(model.block.lin.weight).any()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = tracker.check()
    assert {r.name for r in report.failures} == {"block.scale"}


def test_reinitialized_by_init_weights_after_load_is_warned(tmp_path: Path) -> None:
    ScaleModel(ScaleConfig()).save_pretrained(tmp_path)
    with verified_empty_init() as tracker:
        model = ScaleModel.from_pretrained(tmp_path)
    model._init_weights(model.block.lin)  # what transformers #46620 did to loaded weights
    with pytest.warns(Warning, match="block.lin.weight"):
        report = tracker.check()
    assert report.ok and report.by_name()["block.lin.weight"].status == Status.REINITIALIZED


@pytest.mark.parametrize("drop", [False, True])
@pytest.mark.parametrize("keep", ["merge_and_unload", "base_model"])
def test_peft_adapter_loaded_then_wrapper_dropped(tmp_path: Path, keep: str, drop: bool) -> None:
    """PeftModel.from_pretrained inside the context, then only the merged or the base model is kept."""
    peft = pytest.importorskip("peft")
    from safetensors.torch import load_file, save_file

    save_llama(tmp_path / "base")
    base = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "base")
    config = peft.LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft.get_peft_model(base, config).save_pretrained(tmp_path / "adapter")
    adapter = tmp_path / "adapter" / "adapter_model.safetensors"
    lora_a = "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"
    if drop:
        state = load_file(adapter)
        del state[lora_a]
        save_file(state, adapter, metadata={"format": "pt"})
    with verified_empty_init() as tracker:
        wrapped = peft.PeftModel.from_pretrained(
            transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "base"), tmp_path / "adapter"
        )
    model = wrapped.merge_and_unload() if keep == "merge_and_unload" else wrapped.base_model.model
    del wrapped
    if not drop:
        model(torch.tensor([[1, 2, 3]]))
        assert tracker.verdict.ok
        return
    with pytest.raises(UninitializedWeightsError) as error:
        model(torch.tensor([[1, 2, 3]]))
    if keep == "merge_and_unload":  # the merge computed the weight from the unwritten lora_A
        assert {(r.name, r.origin) for r in error.value.report.failures} == {
            ("model.layers.1.self_attn.q_proj.weight", "derived")
        }
    else:
        assert failed(error) == {"model.layers.1.self_attn.q_proj.lora_A.default.weight"}


class _BufferConfig(transformers.PretrainedConfig):
    model_type = "initlint-buffer"

    def __init__(self, hidden: int = 8, **kwargs: object) -> None:
        self.hidden = hidden
        super().__init__(**kwargs)


class _BufferModel(transformers.PreTrainedModel):
    """transformers#48892: a non-persistent buffer its _init_weights does not cover."""

    config_class = _BufferConfig
    base_model_prefix = ""

    def __init__(self, config: _BufferConfig) -> None:
        super().__init__(config)
        self.lin = nn.Linear(config.hidden, config.hidden)
        self.register_buffer("pos", torch.arange(config.hidden, dtype=torch.float32), persistent=False)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            module.weight.data.normal_()
            module.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) + self.pos


def test_from_pretrained_non_persistent_buffer_left_uninitialized_is_named(tmp_path: Path) -> None:
    """transformers 5.24 still materializes it with empty_like (NaN under fill_uninitialized_memory)."""
    _BufferModel(_BufferConfig()).save_pretrained(tmp_path)
    with verified_empty_init() as tracker:
        model = _BufferModel.from_pretrained(tmp_path)
    with pytest.raises(UninitializedWeightsError) as error:
        model(torch.ones(1, 8))
    assert failed(error) == {"pos"}
    del tracker


def test_init_empty_weights_to_empty_then_load_state_dict_leaves_rope_inv_freq(tmp_path: Path) -> None:
    """transformers#34234: to_empty() re-allocates the buffers init_empty_weights had computed."""
    state = save_llama(tmp_path)
    with verified_empty_init(accelerate.init_empty_weights()) as tracker:
        model = transformers.LlamaForCausalLM(tiny_llama_config())
    model.to_empty(device="cpu")
    model.load_state_dict(state)
    with pytest.raises(UninitializedWeightsError) as error:
        model(torch.tensor([[1, 2, 3]]))
    assert failed(error) == {"model.rotary_emb.inv_freq", "model.rotary_emb.original_inv_freq"}  # persistent=False
    del tracker
