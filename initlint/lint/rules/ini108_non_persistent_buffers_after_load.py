"""INI108: ``to_empty()`` then a checkpoint load, with non-persistent buffers nothing recomputes."""

from __future__ import annotations

from collections.abc import Iterator

from initlint.lint.lazy import cst
from initlint.lint.modeltree import ModelTree, materialized
from initlint.lint.rules.base import FileContext, Invalid, TreeRule, Valid
from initlint.lint.scopes import initializes, scopes
from initlint.lint.summary import ClassSummary

__all__ = ["NonPersistentBuffersAfterLoad"]


def _is_load(name: str) -> bool:
    lowered = name.lower()
    return "load" in lowered or lowered in ("set_model_state_dict", "restore")


class NonPersistentBuffersAfterLoad(TreeRule):
    """Flags ``model.to_empty(...)`` followed only by loads, when the model has non-persistent buffers."""

    code = "INI108"
    name = "non-persistent-buffers-after-load"
    what_it_does = (
        "Checks a model built under `torch.device(\"meta\")` (or another empty-init context), moved with "
        "`to_empty()` and then only loaded from a checkpoint: when one of its classes (in any file of the "
        "project, or torch) registers a buffer with `persistent=False` (rotary `inv_freq`, a causal mask) that "
        "its `forward` does not recompute, the load cannot fill it. transformers' model classes "
        "(`LlamaForCausalLM(config)`, `.from_config(config)`) are judged from a table generated from the "
        "pinned transformers; an `Auto...` class is not (which family it builds is not known)."
    )
    why_bad = (
        "A checkpoint holds the persistent tensors only: `state_dict()` leaves out every "
        "`persistent=False` buffer, so after `to_empty()` the load restores the weights and leaves those "
        "buffers as uninitialized memory. The model runs, with garbage rotary frequencies or masks."
    )
    references = ("https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.register_buffer",)
    VALID = (
        Valid(
            """\
import torch
from torch import nn

class Rotary(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.register_buffer("inv_freq", torch.ones(dim // 2), persistent=False)

    def reset_parameters(self):
        self.inv_freq.copy_(1.0 / 10000 ** (torch.arange(0, self.inv_freq.numel()) / self.inv_freq.numel()))

with torch.device("meta"):
    model = Rotary(8)
model.to_empty(device="cpu")
model.load_state_dict(torch.load("ckpt.pt"))
for module in model.modules():  # recomputes the buffers no checkpoint holds
    if hasattr(module, "reset_parameters"):
        module.reset_parameters()
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.register_buffer("scale", torch.ones(4))  # persistent: the checkpoint holds it

with torch.device("meta"):
    model = Net()
model.to_empty(device="cpu")
model.load_state_dict(torch.load("ckpt.pt"))
"""
        ),
        Valid(
            """\
import torch
from transformers import GPT2Config, GPT2Model

config = GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=64)
with torch.device("meta"):
    model = GPT2Model(config)  # registers no buffer a checkpoint leaves out
model.to_empty(device="cpu")
model.load_state_dict(torch.load("ckpt.pt"))
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import torch
from torch import nn

class Rotary(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        inv_freq = 1.0 / 10000 ** (torch.arange(0, dim, 2).float() / dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

with torch.device("meta"):
    model = Rotary(8)
model.to_empty(device="cpu")
model.load_state_dict(torch.load("ckpt.pt"))
""",
            line=13,
            mentions=("`model`", "`Rotary.inv_freq`", "persistent=False"),
        ),
        Invalid(
            """\
import torch
from transformers import LlamaConfig, LlamaForCausalLM

config = LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                     num_key_value_heads=2, vocab_size=64)
with torch.device("meta"):
    model = LlamaForCausalLM(config)
model.to_empty(device="cpu")
model.load_state_dict(torch.load("ckpt.pt"))  # the rotary frequencies are in no checkpoint
""",
            line=8,
            mentions=("`model`", "`LlamaRotaryEmbedding.inv_freq`", "persistent=False"),
        ),
    )

    def ask(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str, str]]:
        """Each ``to_empty`` whose model is only loaded afterwards, with nothing that recomputes buffers."""
        for scope, call, qualified in materialized(scopes(module, context.imports), context.imports):
            later = [c.method for c in scope.calls_after(call.index) if initializes(c.method)]
            if not later or not all(_is_load(name) for name in later):
                continue  # nothing (INI103's) or something besides a load
            if not scope.reads_after("reset_parameters", call.index):
                yield call.node, call.model, qualified

    def judge(self, model: str, tree: ModelTree) -> str | None:
        """Name the non-persistent buffers of the model's classes that no load fills."""
        from initlint.lint.hf_models import NON_PERSISTENT_BUFFERS  # transformers' model classes

        buffers = {
            f"`{name.rpartition('.')[2]}.{tensor}`"
            for name, summary in tree if summary is not None
            for tensor in unfilled_buffers(summary)
        }
        buffers.update(f"`{buffer}`" for name, summary in tree if summary is None
                       for buffer in NON_PERSISTENT_BUFFERS.get(name.rpartition(".")[2], ()))
        if not buffers:
            return None
        return (
            f"`{model}` is moved with `to_empty()` and then only loaded, but it registers "
            f"{', '.join(sorted(buffers))} with persistent=False: no checkpoint holds them, so they "
            "stay uninitialized memory. Recompute them after the load (call the modules' "
            "`reset_parameters()` or the code that builds them), or build the model on the real device."
        )


def unfilled_buffers(summary: ClassSummary) -> list[str]:
    """Non-persistent buffers the class's ``forward`` (or a method it calls) does not rewrite."""
    forward = summary.methods.get("forward")
    rewritten: set[str] = set()
    if forward is not None:
        rewritten.update(forward.writes)
        for name in forward.self_calls:
            if name in summary.methods:
                rewritten.update(summary.methods[name].writes)
    return [t.name for t in summary.tensors if t.kind == "buffer" and not t.persistent and t.name not in rewritten]
