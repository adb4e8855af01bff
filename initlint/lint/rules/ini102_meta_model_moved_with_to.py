"""INI102: a model on the meta device moved with ``.to()`` instead of ``.to_empty()``."""

from __future__ import annotations

import ast
from collections.abc import Iterator

import libcst as cst

from initlint.lint.gates import builds_under_empty_init
from initlint.lint.names import ImportTable
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Valid
from initlint.lint.scopes import scopes

__all__ = ["MetaModelMovedWithTo"]

_MOVES = frozenset({"to", "cuda", "cpu"})
_MATERIALIZE = frozenset({"to_empty", "load_state_dict"})


class MetaModelMovedWithTo(FileRule):
    """Flags ``.to()``/``.cuda()``/``.cpu()`` on a model whose parameters are on the meta device."""

    code = "INI102"
    name = "meta-model-moved-with-to"
    what_it_does = (
        "Checks for `.to(...)`, `.cuda()` or `.cpu()` on a model built in the same scope under "
        "`torch.device(\"meta\")` or `init_empty_weights()`, before anything materialized it "
        "(`to_empty()`, a load)."
    )
    why_bad = (
        "Meta tensors hold no data, so there is nothing to copy: `.to()` fails at run time with "
        "\"Cannot copy out of meta tensor; no data!\". Allocate with `model.to_empty(device=...)`, then "
        "load a checkpoint or call `reset_parameters()`."
    )
    fix_safety = "No automatic fix yet: `.to_empty()` alone leaves garbage, so a reset or a load must follow."
    references = ("https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.to_empty",)
    VALID = (
        Valid(
            """\
import torch

with torch.device("meta"):
    model = torch.nn.Linear(4, 4)
model.to_empty(device="cuda")
model.reset_parameters()
model.to(torch.bfloat16)
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import torch

with torch.device("meta"):
    model = torch.nn.Linear(4, 4)
model = model.to("cuda")
""",
            line=5,
            mentions=('`model.to("cuda")`', "to_empty"),
        ),
        Invalid(
            """\
import torch
from accelerate import init_empty_weights

with init_empty_weights():
    model = torch.nn.Linear(4, 4)
model.cuda()
""",
            line=6,
            mentions=("`model.cuda()`",),
        ),
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Needs a meta context."""
        return '"meta"' in text or "'meta'" in text or "init_empty_weights" in text

    @classmethod
    def wants(cls, tree: ast.Module, imports: ImportTable) -> bool:
        """Only a model built under an empty-init context can be affected."""
        return builds_under_empty_init(tree, imports)

    def check(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """Report the first move of each meta model that was not materialized before it."""
        for scope in scopes(module, context.imports):
            for model, (kind, _, built_at) in scope.built.items():
                if kind != "meta":
                    continue
                for call in scope.calls_on(model, built_at):
                    if call.method in _MATERIALIZE:
                        break
                    if call.on_receiver and call.method in _MOVES:
                        shown = " ".join(_source(call.node).split())
                        yield call.node, (
                            f"`{shown}` copies a model whose parameters are on the meta device: it fails with "
                            f"\"Cannot copy out of meta tensor\". Use `{model}.to_empty(device=...)`, then load "
                            "a checkpoint or call `reset_parameters()`."
                        )
                        break


def _source(node: cst.CSTNode) -> str:
    from initlint.lint.walk import source_of

    return source_of(node)
