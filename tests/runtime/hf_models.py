"""Tiny Hugging Face models built in the tests and saved with ``save_pretrained`` (nothing from a hub)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import torch
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig, LlamaForCausalLM


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


def _demo() -> ModuleType:
    """``examples/transformers_demo.py``: its model is the custom-parameter case the tests load."""
    path = Path(__file__).resolve().parents[2] / "examples" / "transformers_demo.py"
    spec = importlib.util.spec_from_file_location("initlint_transformers_demo", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_DEMO = _demo()
ScaleConfig = _DEMO.ScaleConfig
ScaleModel = _DEMO.ScaleModel  # ScaleBlock.scale: an explicit parameter its _init_weights never writes
