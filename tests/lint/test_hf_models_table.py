"""The table of transformers' non-persistent buffers (INI108) matches the pinned transformers: generated from
its source, and checked against execution on a sample of families."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from initlint.lint.hf_models import NON_PERSISTENT_BUFFERS, TRANSFORMERS_VERSION

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
         "num_key_value_heads": 2, "vocab_size": 64, "max_position_embeddings": 32, "n_embd": 16, "n_layer": 1,
         "n_head": 2, "d_model": 16, "d_ff": 32, "num_layers": 1, "num_heads": 2, "ffn_dim": 32,
         "word_embed_proj_dim": 16}


def _installed() -> str:
    try:
        installed = importlib.metadata.version("transformers")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("transformers is not installed")
    if installed != TRANSFORMERS_VERSION:
        pytest.skip(f"table is for transformers {TRANSFORMERS_VERSION}, installed {installed}")
    return installed


def _twins(name: str, model_type: str) -> tuple[object, object]:
    """A small model of class ``name`` built normally, and one built on meta and ``to_empty``'d with every
    allocation NaN-filled (integers: a sentinel)."""
    _installed()
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = transformers.AutoConfig.for_model(model_type)
    for key, value in SMALL.items():
        if hasattr(config, key):
            setattr(config, key, value)
    cls = getattr(transformers, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twin = cls(config)
        with torch.device("meta"):
            model = cls(config)
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = True
    try:
        model.to_empty(device="cpu")
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.utils.deterministic.fill_uninitialized_memory = False
    return twin, model


@pytest.mark.slow
def test_table_matches_installed_transformers() -> None:
    _installed()
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_hf_models_table.py"), "--check"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("name", "model_type"), [
    ("LlamaForCausalLM", "llama"), ("MistralForCausalLM", "mistral"), ("Qwen2ForCausalLM", "qwen2"),
    ("GPTNeoXForCausalLM", "gpt_neox"), ("PhiForCausalLM", "phi"), ("RobertaModel", "roberta"),
    ("BertModel", "bert"), ("GPT2LMHeadModel", "gpt2"), ("OPTForCausalLM", "opt"),
    ("BloomForCausalLM", "bloom"), ("T5ForConditionalGeneration", "t5"),
])
def test_what_the_table_names_is_what_a_load_after_to_empty_leaves_unwritten(name: str, model_type: str) -> None:
    """Build on meta, ``to_empty``, load every key of a twin built normally: the buffers that still differ
    from the twin are the ones no checkpoint fills (NaN for floats, a sentinel for integers)."""
    torch = pytest.importorskip("torch")
    twin, model = _twins(name, model_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.load_state_dict(twin.state_dict(), strict=False)
    expected = dict(twin.named_buffers())
    unwritten = {buffer.rpartition(".")[2] for buffer, value in model.named_buffers()
                 if not torch.equal(value, expected[buffer])}
    listed = {entry.rpartition(".")[2] for entry in NON_PERSISTENT_BUFFERS.get(name, ())}
    assert listed <= unwritten  # everything the table names stays unwritten: no false alarm
    assert bool(listed) == bool(unwritten)  # and a model that keeps some is in the table


@pytest.mark.parametrize(("name", "model_type"), [
    ("GPT2LMHeadModel", "gpt2"), ("OPTForCausalLM", "opt"), ("BertForMaskedLM", "bert"),
    ("GemmaForCausalLM", "gemma"), ("T5ForConditionalGeneration", "t5"), ("LlamaForCausalLM", "llama"),
    ("Qwen2ForCausalLM", "qwen2"),
])
def test_the_tie_the_table_names_is_what_to_empty_breaks(name: str, model_type: str) -> None:
    """Build on meta, ``to_empty``, load what ``save_pretrained`` stores (each tied weight once): the tied
    weight the table names stays unwritten; a class it does not name keeps none."""
    from initlint.lint.hf_models import TIED_WEIGHTS

    torch = pytest.importorskip("torch")
    twin, model = _twins(name, model_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stored = dict(twin.named_parameters())  # one key per tensor, as a tied checkpoint holds them
        model.load_state_dict(stored, strict=False)
    unwritten = sorted(key for key, value in model.named_parameters()
                       if key not in stored or not torch.equal(value, stored[key]))
    tie = TIED_WEIGHTS.get(name)
    if tie is None:
        assert unwritten == []
    else:
        assert tie.split(" = ")[0] in unwritten and bool(torch.isnan(model.get_parameter(tie.split(" = ")[0])).any())
