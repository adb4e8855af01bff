"""INI101: a partial checkpoint load into a model built under empty init."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from initlint.lint import known
from initlint.lint.bindings import bindings_of
from initlint.lint.gates import builds_under_empty_init
from initlint.lint.lazy import cst
from initlint.lint.names import ImportTable
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Valid
from initlint.lint.scopes import Call, Scope, scopes, strategies
from initlint.lint.walk import source_of

__all__ = ["PartialLoadAfterEmptyInit"]

_LOADS = frozenset({"load_state_dict", "load_checkpoint"})
# After the load, any of these on the model (or mentioning it) means the missing tensors get values.
_INITIALIZERS = frozenset({"reset_parameters", "apply", "init_weights", "_init_weights", "initialize_weights",
                           "post_init", "tie_weights"})


def _not_strict(call: cst.Call) -> bool:
    return any(
        arg.keyword is not None and arg.keyword.value == "strict"
        and isinstance(arg.value, cst.Name) and arg.value.value == "False"
        for arg in call.args
    )


class PartialLoadAfterEmptyInit(FileRule):
    """Flags ``load_state_dict(..., strict=False)`` into a model built without initialization."""

    code = "INI101"
    name = "partial-load-after-empty-init"
    what_it_does = (
        "Checks for `load_state_dict(..., strict=False)` (or `load_checkpoint(..., strict=False)`) on a "
        "model built in the same scope under an empty-init context (`fabric.init_module(empty_init=True)`, "
        "`trainer.init_module(empty_init=True)`, `init_empty_weights()`, `torch.device(\"meta\")`, "
        "`verified_empty_init(...)`, `skip_init`), when nothing afterwards checks `missing_keys` or "
        "initializes the model. A `fabric.setup_module(model)` before the load, with a Fabric that is FSDP "
        "(or ModelParallel) on every path, initializes it: Lightning materializes the model there and calls "
        "`reset_parameters()`."
    )
    why_bad = (
        "Lightning's documentation warns about exactly this: with `empty_init=True` the model's memory "
        "is uninitialized, and a partial checkpoint leaves every tensor it lacks that way (or on the meta "
        "device). `strict=False` also silences the missing keys that would have told you."
    )
    references = ("https://lightning.ai/docs/fabric/stable/advanced/model_init.html",)
    VALID = (
        Valid(
            """\
import torch
import lightning as L

fabric = L.Fabric()
with fabric.init_module(empty_init=True):
    model = torch.nn.Linear(4, 4)
result = model.load_state_dict(torch.load("ckpt.pt"), strict=False)
if result.missing_keys:
    raise RuntimeError(f"checkpoint lacks {result.missing_keys}")
"""
        ),
        Valid(
            """\
import torch

model = torch.nn.Linear(4, 4)  # initialized normally: a partial load keeps the initial values
model.load_state_dict(torch.load("ckpt.pt"), strict=False)
"""
        ),
        Valid(
            """\
import torch

with torch.device("meta"):
    model = torch.nn.Linear(4, 4)
model.to_empty(device="cpu")
model.reset_parameters()
model.load_state_dict(torch.load("adapter.pt"), strict=False)  # the rest was initialized first
"""
        ),
        Valid(
            """\
import torch
import lightning as L

def finetune(path):
    fabric = L.Fabric(strategy="fsdp")
    with fabric.init_module(empty_init=True):
        model = torch.nn.Linear(4, 4)
    model = fabric.setup_module(model)  # FSDP materializes it and calls reset_parameters()
    model.load_state_dict(torch.load(path), strict=False)
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import torch
import lightning as L

def finetune_fsdp(path):
    fabric = L.Fabric(strategy="fsdp")
    with fabric.init_module(empty_init=True):
        model = torch.nn.Linear(4, 4)
    model = fabric.setup_module(model)
    model.load_state_dict(torch.load(path), strict=False)

def finetune_ddp(path):
    fabric = L.Fabric(strategy="ddp")  # DDP's set-up initializes nothing
    with fabric.init_module(empty_init=True):
        model = torch.nn.Linear(4, 4)
    model = fabric.setup_module(model)
    model.load_state_dict(torch.load(path), strict=False)
""",
            line=16,
            mentions=("`model`", "strict=False"),
        ),
        Invalid(
            """\
import torch
import lightning as L

fabric = L.Fabric()
with fabric.init_module(empty_init=True):
    model = torch.nn.Linear(4, 4)
model.load_state_dict(torch.load("ckpt.pt"), strict=False)
""",
            line=7,
            mentions=("`model`", "strict=False", "line 5"),
        ),
        Invalid(
            """\
import torch
from accelerate import init_empty_weights

def load(path):
    with init_empty_weights():
        model = torch.nn.Linear(4, 4)
    model.load_state_dict(torch.load(path), strict=False, assign=True)
    return model
""",
            line=7,
            mentions=("`init_empty_weights()`",),
        ),
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Needs a non-strict load."""
        return "strict=False" in text

    @classmethod
    def wants(cls, tree: ast.Module, imports: ImportTable) -> bool:
        """Only a model built under an empty-init context can be affected."""
        return builds_under_empty_init(tree, imports)

    def check(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """Report each non-strict load into an empty-initialized model nothing repairs."""
        for scope in scopes(module, context.imports):
            for call in scope.calls:
                if call.method not in _LOADS or call.model not in scope.built or not _not_strict(call.node):
                    continue
                kind, built_under, built_at = scope.built[call.model]
                if built_at > call.index or self._repaired(scope, call):
                    continue
                if _materialized_by_setup(scope, call, module, context):
                    continue
                line = context.position(built_under)[0]
                yield call.node, (
                    f"`{call.model}` was built under `{_short(built_under)}` (line {line}), so its memory is "
                    f"uninitialized{' (meta)' if kind == 'meta' else ''}; this load with strict=False leaves "
                    "every tensor the checkpoint lacks that way. Check the result's `missing_keys`, or "
                    f"initialize `{call.model}` before or after loading."
                )

    @staticmethod
    def _repaired(scope: Scope, call: Call) -> bool:
        """Missing keys checked after the load, or the model initialized around it."""
        if scope.reads_after("missing_keys", call.index - 1):
            return True
        built_at = scope.built[call.model][2]  # type: ignore[index]
        return any(
            c.method in _INITIALIZERS and c.model == call.model and c.index > built_at for c in scope.calls
        )


def _materialized_by_setup(scope: Scope, call: Call, module: cst.Module, context: FileContext) -> bool:
    """``fabric.setup_module(model)`` before the load, with a Fabric that is FSDP (or ModelParallel) on
    every path: Lightning materializes the model there and calls each module's ``reset_parameters()``."""
    built_at = scope.built[call.model][2]  # type: ignore[index]
    for setup in scope.calls:
        if setup.method not in ("setup", "setup_module") or setup.on_receiver or setup.model != call.model:
            continue
        if not built_at < setup.index < call.index or not isinstance(setup.node.func, cst.Attribute):
            continue
        kinds = strategies(setup.node.func.value, known.FABRIC_CLASSES, context.imports, bindings_of(module))
        if kinds <= {"fsdp", "modelparallel"}:
            return True
    return False


def _short(node: cst.CSTNode) -> str:
    text = " ".join(source_of(node).split())
    return text if len(text) <= 50 else text[:47] + "..."
