"""INI108-INI110 follow the model's classes into the files that define them.

A training script imports its model (``from pkg import GPT``); the non-persistent buffers, the tied
weights and the ``nn.MultiheadAttention`` live in the package. Every scenario is also run under the
NaN-fill oracle: what the rule reports is what stays NaN, and the controls leave nothing NaN.
"""

from __future__ import annotations

import dataclasses
import runpy
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from initlint.config import load_config
from initlint.lint.engine import lint_paths

from .helpers import lint_tree, write_tree

PACKAGE = {
    "pkg/__init__.py": "from .model import GPT, Encoder\n",
    "pkg/layers.py": """\
        import torch
        from torch import nn

        class Rotary(nn.Module):
            def __init__(self, dim):
                super().__init__()
                inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
                self.register_buffer("inv_freq", inv_freq, persistent=False)

            def forward(self, x):
                return x * self.inv_freq.sum()
        """,
    "pkg/model.py": """\
        from torch import nn

        from .layers import Rotary

        class GPT(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(10, 4)
                self.rotary = Rotary(4)
                self.lm_head = nn.Linear(4, 10, bias=False)
                self.lm_head.weight = self.embed.weight

            def tie_weights(self):
                self.lm_head.weight = self.embed.weight

        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8)
        """,
}

LOADED = """\
    import torch
    from pkg import GPT

    with torch.device("meta"):
        model = GPT()
    model.to_empty(device="cpu")
    model.load_state_dict(torch.load("ckpt.pt"), strict=False)
    """

RESET_LOOP = """\
    import torch
    from pkg import Encoder

    with torch.device("meta"):
        model = Encoder()
    model.to_empty(device="cpu")
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    """

TIED_AGAIN = """\
    import torch
    from pkg import GPT

    with torch.device("meta"):
        model = GPT()
    model.to_empty(device="cpu")
    model.tie_weights()
    model.load_state_dict(torch.load("ckpt.pt"), strict=False)
    model.rotary.__init__(4)
    """


SELECT = {"select": ["INI108", "INI109", "INI110"]}  # INI001 (Rotary has no reset) and INI101 (strict=False) aside


def _codes(findings: list[Any]) -> list[tuple[str, int, str]]:
    return sorted((Path(f.path).name, f.line, f.code) for f in findings)


def test_a_script_importing_its_model_is_judged_on_the_package_classes(tmp_path: Path) -> None:
    found = lint_tree(tmp_path, {**PACKAGE, "train.py": LOADED, "reset.py": RESET_LOOP}, **SELECT)
    assert _codes(found) == [
        ("reset.py", 6, "INI110"),
        ("train.py", 6, "INI108"),
        ("train.py", 6, "INI109"),
    ]
    messages = {f.code: f.message for f in found}
    assert "`Rotary.inv_freq`" in messages["INI108"]
    assert "`GPT` ties" in messages["INI109"] and "self.lm_head.weight = self.embed.weight" in messages["INI109"]
    assert "`MultiheadAttention.in_proj_weight`" in messages["INI110"]


def test_only_the_script_given_still_reads_the_package(tmp_path: Path) -> None:
    # pre-commit passes the changed file alone
    found = lint_tree(tmp_path, {**PACKAGE, "train.py": LOADED}, targets=["train.py"], **SELECT)
    assert _codes(found) == [("train.py", 6, "INI108"), ("train.py", 6, "INI109")]


def test_a_model_that_nothing_breaks_is_left_alone(tmp_path: Path) -> None:
    # tied again after to_empty, buffers rebuilt: and a class outside the project ends the tree
    outside = "import torch\nfrom other_lib import GPT\n" + textwrap.dedent(LOADED).split("\n", 2)[2]
    found = lint_tree(tmp_path, {**PACKAGE, "tied.py": TIED_AGAIN, "outside.py": outside}, **SELECT)
    assert _codes(found) == []


def test_a_warm_run_sees_a_change_in_the_package(tmp_path: Path) -> None:
    write_tree(tmp_path, {**PACKAGE, "train.py": LOADED})
    (tmp_path / "pyproject.toml").touch()
    config = dataclasses.replace(load_config(tmp_path), **SELECT)

    def run() -> list[tuple[str, int, str]]:
        return _codes(lint_paths([tmp_path / "train.py"], config, cache=True).findings)

    assert run() == [("train.py", 6, "INI108"), ("train.py", 6, "INI109")]
    assert run() == [("train.py", 6, "INI108"), ("train.py", 6, "INI109")]  # from the cache
    layers = tmp_path / "pkg" / "layers.py"
    layers.write_text(layers.read_text().replace(", persistent=False", ""))
    assert run() == [("train.py", 6, "INI109")]


def test_noqa_and_select_apply_to_the_answers(tmp_path: Path) -> None:
    quiet = textwrap.dedent(LOADED).replace('model.to_empty(device="cpu")', 'model.to_empty(device="cpu")  # noqa: INI108')
    write_tree(tmp_path, {**PACKAGE, "train.py": quiet})
    (tmp_path / "pyproject.toml").touch()
    config = dataclasses.replace(load_config(tmp_path), **SELECT)
    assert _codes(lint_paths([tmp_path], config).findings) == [("train.py", 6, "INI109")]


# -- the same scenarios, executed --------------------------------------------------------------
def _nan_tensors(script: str, root: Path, monkeypatch: Any) -> list[str]:
    torch = pytest.importorskip("torch")
    checkpoint = object()  # torch.load gives it; the load fills every persistent tensor with real values
    original = torch.nn.Module.load_state_dict

    def load_state_dict(self: Any, state: Any, *args: Any, **kwargs: Any) -> Any:
        if state is checkpoint:  # a tied checkpoint stores the shared weight once
            state = {k: torch.randn(v.shape) for k, v in self.state_dict().items() if k != "lm_head.weight"}
        return original(self, state, *args, **kwargs)

    monkeypatch.setattr(torch, "load", lambda *a, **k: checkpoint)
    monkeypatch.setattr(torch.nn.Module, "load_state_dict", load_state_dict)
    monkeypatch.syspath_prepend(str(root))
    for name in [m for m in sys.modules if m == "pkg" or m.startswith("pkg.")]:
        monkeypatch.delitem(sys.modules, name)
    write_tree(root, {**PACKAGE, "script.py": script})
    deterministic = torch.are_deterministic_algorithms_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = True
    try:
        model = runpy.run_path(str(root / "script.py"))["model"]
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.utils.deterministic.fill_uninitialized_memory = fill
    return sorted(name for name, value in [*model.named_parameters(), *model.named_buffers()]
                  if value.is_floating_point() and bool(torch.isnan(value).any()))


@pytest.mark.parametrize(("script", "nan"), [
    (LOADED, ["lm_head.weight", "rotary.inv_freq"]),  # INI109 and INI108
    (RESET_LOOP, ["layer.self_attn.in_proj_bias", "layer.self_attn.in_proj_weight"]),  # INI110
    (TIED_AGAIN, []),
], ids=["loaded", "reset-loop", "tied-again"])
def test_what_the_rules_report_is_what_stays_nan(script: str, nan: list[str], tmp_path: Path, monkeypatch: Any) -> None:
    assert _nan_tensors(textwrap.dedent(script), tmp_path, monkeypatch) == nan


# -- transformers' model classes, from the generated table ----------------------------------------
ISSUE_34234 = """\
    import accelerate
    import torch
    import transformers

    with accelerate.init_empty_weights():
        config = transformers.LlamaConfig.from_pretrained("/models/llama_3.1/")
        model = transformers.LlamaForCausalLM._from_config(config)

    model.to_empty(device=torch.device("cuda:0"))
    model = accelerate.load_checkpoint_and_dispatch(model, "/models/llama_3.1/")
    """


def test_transformers_issue_34234_is_reported_where_to_empty_wipes_the_rotary_buffers(tmp_path: Path) -> None:
    # huggingface/transformers#34234: inv_freq left uninitialized by init_empty_weights + to_empty + a load
    found = lint_tree(tmp_path, {"repro.py": ISSUE_34234}, **SELECT)
    assert _codes(found) == [("repro.py", 9, "INI108")]
    assert "`LlamaRotaryEmbedding.inv_freq`" in found[0].message


@pytest.mark.parametrize("build", [
    "transformers.GPT2Model(config)",  # no non-persistent buffer, no tie
    "transformers.AutoModelForCausalLM.from_config(config)",  # which family is not known: not guessed
    "MyLlama(config)",  # a class of another library
])
def test_transformers_models_without_such_buffers_or_unknown_are_left_alone(build: str, tmp_path: Path) -> None:
    script = textwrap.dedent(ISSUE_34234).replace("transformers.LlamaForCausalLM._from_config(config)", build)
    script = script.replace("import transformers\n", "import transformers\nfrom other_lib import MyLlama\n")
    assert lint_tree(tmp_path, {"repro.py": script}, **SELECT) == []


def test_a_project_subclass_of_a_transformers_model_inherits_its_buffers(tmp_path: Path) -> None:
    files = {
        "mymodel.py": """\
            from transformers import MistralForCausalLM

            class Chat(MistralForCausalLM):
                pass
            """,
        "train.py": """\
            import torch
            from mymodel import Chat

            with torch.device("meta"):
                model = Chat(config)
            model.to_empty(device="cpu")
            model.load_state_dict(torch.load("ckpt.pt"))
            """,
    }
    found = lint_tree(tmp_path, files, **SELECT)
    assert _codes(found) == [("train.py", 6, "INI108")]
    assert "`MistralRotaryEmbedding.inv_freq`" in found[0].message


def test_a_transformers_model_that_ties_its_embeddings_by_default(tmp_path: Path) -> None:
    script = textwrap.dedent(ISSUE_34234).replace("LlamaForCausalLM._from_config", "GPT2LMHeadModel")
    found = lint_tree(tmp_path, {"repro.py": script}, **SELECT)
    assert _codes(found) == [("repro.py", 9, "INI109")]
    assert "`lm_head.weight = transformer.wte.weight`" in found[0].message


# -- pytorch/torchtitan#1371: generation loaded a DCP checkpoint into a to_empty'd model --------------
TORCHTITAN = {
    "models/__init__.py": "",
    "models/model.py": """\
        import torch
        from torch import nn

        def precompute_freqs_cis(dim, end, theta=10000.0):
            freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: (dim // 2)].float() / dim))
            t = torch.arange(end, device=freqs.device)
            return torch.polar(torch.ones_like(torch.outer(t, freqs)), torch.outer(t, freqs))

        class Transformer(nn.Module):
            def __init__(self, args):
                super().__init__()
                self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
                self.register_buffer(
                    "freqs_cis", precompute_freqs_cis(args.dim // args.n_heads, args.max_seq_len * 2), persistent=False
                )

            def init_weights(self, buffer_device=None):
                with torch.device(buffer_device or self.freqs_cis.device):
                    self.freqs_cis = precompute_freqs_cis(4, 16)
                nn.init.normal_(self.tok_embeddings.weight)
        """,
    "generate.py": """\
        import torch
        import torch.distributed.checkpoint as dcp

        from models.model import Transformer

        def main(args, checkpoint_path):
            with torch.device("meta"):
                model = Transformer(args)
            model.to_empty(device="cuda")
            state_dict = {"model": model.state_dict()}
            dcp.load(state_dict, checkpoint_id=checkpoint_path)
            return model
        """,
}


def test_torchtitan_1371_generation_without_init_weights(tmp_path: Path) -> None:
    found = lint_tree(tmp_path, TORCHTITAN, **SELECT)
    assert _codes(found) == [("generate.py", 9, "INI108")]
    assert "`Transformer.freqs_cis`" in found[0].message


def test_torchtitan_1371_fixed_by_init_weights_after_to_empty(tmp_path: Path) -> None:
    fixed = {**TORCHTITAN, "generate.py": TORCHTITAN["generate.py"].replace(
        'model.to_empty(device="cuda")\n', 'model.to_empty(device="cuda")\n            model.init_weights(buffer_device="cuda")\n')}
    assert lint_tree(tmp_path, fixed, **SELECT) == []
