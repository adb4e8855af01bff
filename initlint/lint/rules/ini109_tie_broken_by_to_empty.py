"""INI109: weights tied in ``__init__``, untied by ``to_empty()`` and never tied again."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from initlint.lint.gates import builds_under_empty_init
from initlint.lint.lazy import cst
from initlint.lint.modeltree import class_defs, materialized, tree_of
from initlint.lint.names import ImportTable, dotted
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Valid
from initlint.lint.scopes import scopes
from initlint.lint.walk import iter_tree

__all__ = ["TieBrokenByToEmpty"]

_TIE = re.compile(r"\.(weight|bias)\s*=\s*\w+\.")


class TieBrokenByToEmpty(FileRule):
    """Flags ``model.to_empty(...)`` on a model whose class ties weights in ``__init__``, with no
    ``tie_weights()`` after it."""

    code = "INI109"
    name = "tie-broken-by-to-empty"
    what_it_does = (
        "Checks a model built under `torch.device(\"meta\")` (or another empty-init context) and moved with "
        "`to_empty()`, when a class of its tree defined in this file ties two weights in `__init__` "
        "(`self.lm_head.weight = self.embed.weight`): after `to_empty()` something must tie them again "
        "(`tie_weights()`, a call named like it, or the same assignment on the model)."
    )
    why_bad = (
        "`to_empty()` gives every module a new tensor of its own, so two modules that shared one parameter "
        "now hold two: a checkpoint that stores the shared weight once fills one of them and leaves the "
        "other uninitialized, and training updates them apart."
    )
    references = ("https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.to_empty",)
    VALID = (
        Valid(
            """\
import torch
from torch import nn

class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.lm_head = nn.Linear(4, 10, bias=False)
        self.tie_weights()

    def tie_weights(self):
        self.lm_head.weight = self.embed.weight

with torch.device("meta"):
    model = LM()
model.to_empty(device="cpu")
model.tie_weights()  # one tensor again, before anything fills it
model.load_state_dict(torch.load("ckpt.pt"), strict=False)
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.lm_head = nn.Linear(4, 10, bias=False)
        self.lm_head.weight = self.embed.weight

with torch.device("meta"):
    model = LM()
model.to_empty(device="cpu")
model.lm_head.weight = model.embed.weight  # the same tie, on the new tensors
torch.nn.init.normal_(model.embed.weight)
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import torch
from torch import nn

class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.lm_head = nn.Linear(4, 10, bias=False)
        self.lm_head.weight = self.embed.weight

with torch.device("meta"):
    model = LM()
model.to_empty(device="cpu")
model.load_state_dict(torch.load("ckpt.pt"), strict=False)  # a tied checkpoint stores embed.weight only
""",
            line=13,
            mentions=("`model.to_empty(...)`", "`LM`", "`self.lm_head.weight = self.embed.weight`", "tie_weights"),
        ),
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Needs ``to_empty`` and an assignment of a weight from another module."""
        return "to_empty(" in text and _TIE.search(text) is not None

    @classmethod
    def wants(cls, tree: ast.Module, imports: ImportTable) -> bool:
        """Only a model built under an empty-init context can be affected."""
        return builds_under_empty_init(tree, imports)

    def check(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """Report each ``to_empty`` on a model with ties in ``__init__`` that nothing ties again."""
        defs: dict[str, cst.ClassDef] | None = None
        for scope, call, qualified in materialized(scopes(module, context.imports), context.imports):
            if any("tie" in c.method.lower() for c in scope.calls_after(call.index)):
                continue
            if any(index >= call.index and name == call.model for index, name in scope.escapes):
                continue  # an assignment from the model after to_empty: maybe the tie again
            defs = defs if defs is not None else class_defs(module)
            for name, summary in tree_of(qualified, context.classes):
                node = defs.get(name.rpartition(".")[2]) if summary is not None else None
                tie = _tie_in_init(node) if node is not None else None
                if tie is not None:
                    yield call.node, (
                        f"`{call.model}.to_empty(...)` unties the weights `{name.rpartition('.')[2]}` ties in "
                        f"`__init__` (`{tie}`): each module now holds a tensor of its own, and a checkpoint "
                        f"that stores the shared one once leaves the other uninitialized. Call "
                        f"`{call.model}.tie_weights()` (or repeat the assignment) right after `to_empty()`."
                    )
                    break


def _tie_in_init(node: cst.ClassDef) -> str | None:
    """``self.a.weight = self.b.weight`` in the class's ``__init__``, as written."""
    init = next((s for s in node.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"), None)
    if init is None:
        return None
    for sub in iter_tree(init, prune=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        if not isinstance(sub, cst.Assign) or len(sub.targets) != 1:
            continue
        target, value = dotted(sub.targets[0].target), dotted(sub.value)
        if target is None or value is None:
            continue
        left, right = target.split("."), value.split(".")
        if len(left) >= 3 and len(right) >= 3 and left[0] == right[0] == "self" and left[-1] == right[-1] and (
            left[-1] in ("weight", "bias") and left != right
        ):
            return f"{target} = {value}"
    return None
