"""INI110: a ``reset_parameters()`` loop after ``to_empty()`` over a model holding ``nn.MultiheadAttention``."""

from __future__ import annotations

from collections.abc import Iterator

from initlint.lint.lazy import cst
from initlint.lint.modeltree import ModelTree, materialized
from initlint.lint.names import dotted
from initlint.lint.rules.base import FileContext, Invalid, TreeRule, Valid
from initlint.lint.scopes import Call, Scope, initializes, scopes
from initlint.lint.torch_table import RESET_LOOP_MISSES

__all__ = ["ResetLoopMissesBuiltins"]

_OVER_MODULES = frozenset({"modules", "named_modules", "children", "named_children"})


class ResetLoopMissesBuiltins(TreeRule):
    """Flags a loop calling each module's ``reset_parameters()`` after ``to_empty()`` on a model that
    holds torch built-ins without one (``nn.MultiheadAttention``)."""

    code = "INI110"
    name = "reset-loop-misses-builtins"
    what_it_does = (
        "Checks a model built under `torch.device(\"meta\")` (or another empty-init context), moved with "
        "`to_empty()` and then initialized only by a loop that calls `reset_parameters()` on each of its "
        "modules, when its tree (the project's classes, in any file, and torch's) holds a torch built-in whose "
        "tensors no `reset_parameters()` covers: `nn.MultiheadAttention` (and the `nn.Transformer*` layers "
        "that build it) initializes `in_proj_weight` in `_reset_parameters()` only."
    )
    why_bad = (
        "`hasattr(module, \"reset_parameters\")` is false for `nn.MultiheadAttention`, so the loop skips it "
        "and its `in_proj_weight` and `in_proj_bias` keep the uninitialized memory `to_empty()` gave them: "
        "attention computes with garbage (open_clip models under meta init hit this)."
    )
    references = ("https://github.com/pytorch/pytorch/blob/main/torch/nn/modules/activation.py",)
    VALID = (
        Valid(
            """\
import torch
from torch import nn

with torch.device("meta"):
    model = nn.TransformerEncoderLayer(d_model=8, nhead=2)
model.to_empty(device="cpu")
for module in model.modules():
    if isinstance(module, nn.MultiheadAttention):
        module._reset_parameters()  # its own initializer, under its private name
    elif hasattr(module, "reset_parameters"):
        module.reset_parameters()
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import torch
from torch import nn

class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, 2)
        self.mlp = nn.Linear(dim, dim)

with torch.device("meta"):
    model = Block(8)
model.to_empty(device="cpu")
for module in model.modules():
    if hasattr(module, "reset_parameters"):
        module.reset_parameters()
""",
            line=12,
            mentions=("`model`", "`MultiheadAttention.in_proj_weight`", "_reset_parameters"),
        ),
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Needs ``to_empty`` and a reset (the built-in may be built in another file)."""
        return super().applies_to(text) and "reset_parameters" in text

    def ask(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str, str]]:
        """Each ``to_empty`` whose only initialization is a loop of ``reset_parameters()`` calls."""
        for scope, call, qualified in materialized(scopes(module, context.imports), context.imports):
            later = [c for c in scope.calls_after(call.index) if initializes(c.method)]
            if later and all(_in_reset_loop(c, scope, call) for c in later):
                yield call.node, call.model, qualified

    def judge(self, model: str, tree: ModelTree) -> str | None:
        """Name the tensors of the torch built-ins in the tree that such a loop leaves unwritten."""
        missed = sorted({tensor for name, _ in tree for tensor in RESET_LOOP_MISSES.get(name, ())})
        if not missed:
            return None
        shown = ", ".join(f"`{t}`" for t in missed if t.endswith(("in_proj_weight", "in_proj_bias")))
        return (
            f"`{model}` is initialized after `to_empty()` only by calling each module's "
            f"`reset_parameters()`, but it holds torch modules that have none: {shown or missed[0]} "
            "keep uninitialized memory. Call `_reset_parameters()` on each `nn.MultiheadAttention` "
            "too, or initialize the model with its own init function."
        )


def _in_reset_loop(call: Call, scope: Scope, origin: Call) -> bool:
    """``module.reset_parameters()`` (or ``reset()`` from ``getattr``) in a loop over the model's modules."""
    if call.method not in ("reset_parameters", "reset"):
        return False
    for statement, _ in call.path[len(origin.path):]:
        if isinstance(statement, cst.For) and isinstance(statement.iter, cst.Call):
            func = statement.iter.func
            if isinstance(func, cst.Attribute) and func.attr.value in _OVER_MODULES:
                return (dotted(func.value) or "").partition(".")[0] == origin.model
    return False
