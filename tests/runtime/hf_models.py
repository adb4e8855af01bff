"""Tiny Hugging Face models built in the tests and saved with ``save_pretrained`` (nothing from a hub)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM, PretrainedConfig, PreTrainedModel


def tiny_llama_config() -> LlamaConfig:
    """A two-layer Llama small enough to build in milliseconds."""
    return LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=32,
    )


def save_llama(path: Path, seed: int = 0) -> dict[str, torch.Tensor]:
    """Save a tiny Llama; return its state dict."""
    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_llama_config())
    model.save_pretrained(path)
    return {k: v.clone() for k, v in model.state_dict().items()}


def drop_keys(path: Path, *keys: str) -> None:
    """Rewrite ``path/model.safetensors`` without ``keys``: a partial checkpoint."""
    file = path / "model.safetensors"
    state = load_file(file)
    for key in keys:
        del state[key]
    save_file(state, file, metadata={"format": "pt"})


class ScaleConfig(PretrainedConfig):
    """Config of ``ScaleModel``."""

    model_type = "initlint-scale"

    def __init__(self, d: int = 8, **kwargs: object) -> None:
        self.d = d
        super().__init__(**kwargs)


class ScaleBlock(nn.Module):
    """A block with an explicit parameter that the model's ``_init_weights`` does not handle."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.lin = nn.Linear(d, d)
        self.scale = nn.Parameter(torch.ones(d))


class ScaleModel(PreTrainedModel):
    """The bug transformers users hit: ``block.scale`` is left as uninitialized memory by ``from_pretrained``."""

    config_class = ScaleConfig
    base_model_prefix = "model"

    def __init__(self, config: ScaleConfig) -> None:
        super().__init__(config)
        self.block = ScaleBlock(config.d)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(0, 0.02)
            module.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block.lin(x) * self.block.scale
