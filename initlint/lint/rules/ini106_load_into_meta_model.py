"""INI106: ``load_state_dict`` into a model still on the meta device, without ``assign=True``."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from initlint.lint.gates import builds_under_empty_init
from initlint.lint.lazy import cst
from initlint.lint.names import ImportTable
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Valid
from initlint.lint.scopes import scopes
from initlint.lint.walk import source_of

__all__ = ["LoadIntoMetaModel"]

# Calls on a meta model that leave it on the meta device; any other use of it (a set-up, a helper,
# `to_empty`) may materialize it, and ends the search.
_KEEPS_META = frozenset({
    "eval", "train", "requires_grad_", "parameters", "named_parameters", "buffers", "named_buffers", "modules",
    "named_modules", "children", "named_children", "state_dict", "half", "float", "bfloat16", "double", "print",
    "len", "sum", "isinstance", "type", "id", "repr", "str", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "get_submodule", "config",
})


def _assigns(call: cst.Call) -> bool | None:
    """``True`` for ``assign=True``, ``None`` when it cannot be read (``assign=flag``, ``**kwargs``)."""
    for arg in call.args:
        if arg.star == "**":
            return None
        if arg.keyword is not None and arg.keyword.value == "assign":
            value = arg.value
            return None if not isinstance(value, cst.Name) else {"True": True, "False": False}.get(value.value)
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    return None if len(positional) > 2 else False  # load_state_dict(sd, strict, assign)


class LoadIntoMetaModel(FileRule):
    """Flags ``model.load_state_dict(...)`` on a model whose parameters are still on the meta device."""

    code = "INI106"
    name = "load-into-meta-model"
    what_it_does = (
        "Checks for `model.load_state_dict(state)` without `assign=True` on a model built in the same scope "
        "under `torch.device(\"meta\")` or `init_empty_weights()`, when nothing between the build and the "
        "load could have materialized it (`to_empty()`, a set-up, a helper given the model)."
    )
    why_bad = (
        "A meta tensor holds no data, so copying the checkpoint into it does nothing: the model stays on "
        "the meta device (torch only warns), and the `to_empty()` or sharded set-up that follows hands out "
        "uninitialized memory in place of the weights you loaded."
    )
    references = ("https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.load_state_dict",)
    VALID = (
        Valid(
            """\
import torch

with torch.device("meta"):
    model = torch.nn.Linear(4, 4)
model.load_state_dict(torch.load("ckpt.pt"), assign=True)  # the checkpoint's tensors replace the meta ones
"""
        ),
        Valid(
            """\
import torch
from accelerate import init_empty_weights

with init_empty_weights():
    model = torch.nn.Linear(4, 4)
model.to_empty(device="cpu")  # real memory first, then the copy fills it
model.load_state_dict(torch.load("ckpt.pt"))
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import torch

with torch.device("meta"):
    model = torch.nn.Linear(4, 4)
model.load_state_dict(torch.load("ckpt.pt"))
model.to_empty(device="cpu")
""",
            line=5,
            mentions=("`model`", "meta", "assign=True", "line 3"),
        ),
        Invalid(
            """\
import torch
from accelerate import init_empty_weights

def build(path):
    with init_empty_weights():
        model = torch.nn.Linear(4, 4)
    model.eval()
    model.load_state_dict(torch.load(path), strict=True)
    return model
""",
            line=8,
            mentions=("`model`", "`init_empty_weights()`"),
        ),
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Needs a load and a meta context."""
        return "load_state_dict(" in text and ("meta" in text or "init_empty_weights" in text)

    @classmethod
    def wants(cls, tree: ast.Module, imports: ImportTable) -> bool:
        """Only a model built under an empty-init context can be affected."""
        return builds_under_empty_init(tree, imports)

    def check(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """Report the first load into each meta model that nothing materialized before it."""
        for scope in scopes(module, context.imports):
            for model, (kind, built_under, built_at) in scope.built.items():
                if kind != "meta" or built_at < 0:
                    continue
                for call in scope.calls_on(model, built_at):
                    if call.method == "load_state_dict" and call.on_receiver:
                        if _assigns(call.node) is False:
                            shown = " ".join(source_of(built_under).split())
                            line = context.position(built_under)[0]
                            yield call.node, (
                                f"`{model}` was built under `{shown}` (line {line}), so its parameters are on the "
                                "meta device: this `load_state_dict` without `assign=True` copies nothing, and "
                                f"`{model}` stays empty. Pass `assign=True`, or call "
                                f"`{model}.to_empty(device=...)` before loading."
                            )
                        break
                    if call.method not in _KEEPS_META:
                        break
