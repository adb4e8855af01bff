"""INI102: a model on the meta device moved with ``.to()`` instead of ``.to_empty()``."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from initlint.lint.gates import builds_under_empty_init
from initlint.lint.lazy import cst
from initlint.lint.names import ImportTable, dotted
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Valid
from initlint.lint.scopes import scopes
from initlint.lint.summary import Edit, Fix
from initlint.lint.walk import iter_tree, source_of

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
    fix_safety = (
        "Unsafe. The fix turns the move into `.to_empty(device=...)` and adds, after the statement, a loop "
        "that calls `reset_parameters()` on every submodule that has one: the model gets freshly "
        "initialized weights, which is what it would have had without the meta device, but a model whose "
        "modules lack `reset_parameters()` (see INI001) keeps some garbage, and one meant to be loaded from a "
        "checkpoint pays for an initialization it overwrites. Offered when the move is a statement of its "
        "own (`model.cuda()`, `model = model.to(device)`) and its one argument is a device, not a dtype."
    )
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
        Valid(
            """\
import torch

with torch.device("meta"):
    model = torch.nn.Linear(4, 4)

def train(model):  # a parameter: not the module's meta model
    model.to("cuda")

def evaluate():
    model = torch.nn.Linear(4, 4)  # this function's own model
    model.cuda()
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import torch

with torch.device("meta"):
    model = torch.nn.Linear(4, 4)

def main():
    return model.to("cuda")  # the module's model, still on the meta device
""",
            line=7,
            mentions=('`model.to("cuda")`',),
        ),
        Invalid(
            """\
import torch

with torch.device("meta"):
    model = torch.nn.Linear(4, 4)
model = model.to("cuda")
""",
            line=5,
            mentions=('`model.to("cuda")`', "to_empty"),
            fixed="""\
import torch

with torch.device("meta"):
    model = torch.nn.Linear(4, 4)
model = model.to_empty(device="cuda")
for submodule in model.modules():
    if hasattr(submodule, "reset_parameters"):
        submodule.reset_parameters()
""",
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
            fixed="""\
import torch
from accelerate import init_empty_weights

with init_empty_weights():
    model = torch.nn.Linear(4, 4)
model.to_empty(device="cuda")
for submodule in model.modules():
    if hasattr(submodule, "reset_parameters"):
        submodule.reset_parameters()
""",
        ),
        Invalid(
            """\
import torch

def build(device):
    with torch.device("meta"):
        model = torch.nn.Linear(4, 4)
    return model.to(device)  # not a statement of its own: no fix
""",
            line=6,
            mentions=("`model.to(device)`",),
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
                        shown = " ".join(source_of(call.node).split())
                        yield call.node, (
                            f"`{shown}` copies a model whose parameters are on the meta device: it fails with "
                            f"\"Cannot copy out of meta tensor\". Use `{model}.to_empty(device=...)`, then load "
                            "a checkpoint or call `reset_parameters()`."
                        ), _to_empty_fix(module, call.node, context)
                        break


_DTYPES = re.compile(r"(^|\.)(u?int\d*|float\d*|bfloat16|half|double|long|short|bool|complex\d*|dtype|float8\w*)$")


def _device_argument(call: cst.Call) -> str | None:
    """The source of the device a move goes to, if that is all its arguments say."""
    method = call.func.attr.value  # type: ignore[attr-defined]
    if method in ("cuda", "cpu"):
        return None if call.args else f'"{method}"'
    if len(call.args) != 1 or call.args[0].star:
        return None
    arg = call.args[0]
    if arg.keyword is not None and arg.keyword.value != "device":
        return None
    value = arg.value
    if isinstance(value, (cst.Name, cst.Attribute)) and _DTYPES.search(dotted(value) or "dtype"):
        return None
    if not isinstance(value, (cst.SimpleString, cst.Name, cst.Attribute, cst.Call, cst.FormattedString)):
        return None
    return source_of(value)


def _to_empty_fix(module: cst.Module, call: cst.Call, context: FileContext) -> Fix | None:
    """``model.to(device)`` -> ``model.to_empty(device=device)`` and a reset loop after the statement."""
    device = _device_argument(call)
    statement = _statement_of(module, call)
    if device is None or statement is None or context.span is None or context.source is None:
        return None
    receiver = source_of(call.func.value)  # type: ignore[attr-defined]
    line, col, end_line, end_col = context.span(call)
    last = context.span(statement)[2]
    indent, step = context.source.indent(context.span(statement)[0]), module.default_indent
    newline = context.source.newline
    reset = (
        f"{indent}for submodule in {receiver}.modules():{newline}"
        f'{indent}{step}if hasattr(submodule, "reset_parameters"):{newline}'
        f"{indent}{step}{step}submodule.reset_parameters(){newline}"
    )
    edits = (
        Edit(line, col, end_line, end_col, f"{receiver}.to_empty(device={device})"),
        context.source.insert_lines(last + 1, reset),
    )
    return Fix(f"Use `{receiver}.to_empty(device={device})` and reset the parameters", "unsafe", edits)


def _statement_of(module: cst.Module, call: cst.Call) -> cst.SimpleStatementLine | None:
    """The line whose only statement is ``call`` or ``name = call``."""
    for node in iter_tree(module):
        if isinstance(node, cst.SimpleStatementLine) and len(node.body) == 1:
            small = node.body[0]
            if isinstance(small, cst.Expr) and small.value is call:
                return node
            if isinstance(small, cst.Assign) and small.value is call and len(small.targets) == 1:
                return node
    return None

