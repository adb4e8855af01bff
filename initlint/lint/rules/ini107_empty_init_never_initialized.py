"""INI107: a model built under empty init that nothing loads or initializes afterwards."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from initlint.lint import known
from initlint.lint.bindings import Bindings, bindings_of
from initlint.lint.gates import builds_under_empty_init
from initlint.lint.lazy import cst
from initlint.lint.names import ImportTable, dotted
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Valid
from initlint.lint.scopes import Call, Scope, initializes, model_root, scopes, strategies, unreached
from initlint.lint.summary import ClassSummary
from initlint.lint.torch_table import BUILTIN_MODULES
from initlint.lint.walk import iter_tree, source_of

__all__ = ["EmptyInitNeverInitialized"]

# Methods of the model, and functions given it, that neither use its values nor give it any.
_HARMLESS_METHODS = frozenset({
    "parameters", "named_parameters", "buffers", "named_buffers", "modules", "named_modules", "children",
    "named_children", "eval", "train", "requires_grad_", "state_dict", "register_forward_hook",
})
_HARMLESS_FUNCTIONS = frozenset({
    "print", "len", "sum", "repr", "str", "type", "id", "isinstance", "hasattr", "getattr", "info", "debug",
    "warning", "log", "save", "count_parameters", "num_parameters", "summary",
})
# Lightning calls that hand the model to a strategy; a sharded one materializes and resets it.
_HANDOVERS = frozenset({"setup", "setup_module", "fit", "validate", "test", "predict"})
_CLASSES = known.FABRIC_CLASSES | known.TRAINER_CLASSES


class EmptyInitNeverInitialized(FileRule):
    """Flags a model built under ``init_module(empty_init=True)`` (or ``skip_init``) that is used
    without a load or an initialization after the context."""

    code = "INI107"
    name = "empty-init-never-initialized"
    what_it_does = (
        "Checks that a model built under `fabric.init_module(empty_init=True)` or "
        "`trainer.init_module(empty_init=True)` (or with `torch.nn.utils.skip_init`) and then used is, after "
        "the context and in the same scope, loaded from a checkpoint or initialized (`reset_parameters()`, "
        "`apply(init_fn)`, a call named like a load or an init, `ckpt_path=`). A set-up by a Fabric or "
        "Trainer that may be sharded (FSDP, DeepSpeed: they reset the parameters) counts, and so does handing "
        "the model on (returned, stored in an attribute).\n\nAlso reports an initialization written *inside* the "
        "empty-init context, which that context turns into a no-op: `model.apply(init_fn)` where `init_fn` "
        "calls `torch.nn.init`, or `reset_parameters()` of a torch built-in.\n\n(`init_empty_weights()` and "
        "`torch.device(\"meta\")` are not reported here: a meta model fails loudly when used; nor is a "
        "`LightningModule` of this file that defines `configure_model`, whose layers are built outside the "
        "context.)"
    )
    why_bad = (
        "`empty_init=True` skips initialization on the promise that a full checkpoint is loaded next: "
        "without one, the model trains on uninitialized memory (NaN, huge values), and nothing fails. This "
        "is the NaN story behind Lightning's switch of the FSDP default to `empty_init=False`."
    )
    references = (
        "https://lightning.ai/docs/fabric/stable/advanced/model_init.html",
        "https://github.com/Lightning-AI/pytorch-lightning/pull/17627",
    )
    VALID = (
        Valid(
            """\
import torch
import lightning as L

fabric = L.Fabric(accelerator="cpu")
with fabric.init_module(empty_init=True):
    model = torch.nn.Linear(4, 4)
model.load_state_dict(torch.load("ckpt.pt"))  # a full checkpoint gives every tensor its value
model = fabric.setup(model)
"""
        ),
        Valid(
            """\
import torch
import lightning as L

def init_fn(module):
    if isinstance(module, torch.nn.Linear):
        torch.nn.init.normal_(module.weight)
        torch.nn.init.zeros_(module.bias)

fabric = L.Fabric(accelerator="cpu")
with fabric.init_module(empty_init=True):
    model = torch.nn.Linear(4, 4)
model.apply(init_fn)  # after the context: torch.nn.init runs
model = fabric.setup(model)
"""
        ),
        Valid(
            """\
import torch
import lightning as L

fabric = L.Fabric(strategy="fsdp")
with fabric.init_module(empty_init=True):
    model = torch.nn.Linear(4, 4)
model = fabric.setup(model)  # FSDP materializes the meta model and calls reset_parameters()
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import torch
import lightning as L

fabric = L.Fabric(accelerator="cpu")
with fabric.init_module(empty_init=True):
    model = torch.nn.Linear(4, 4)
model = fabric.setup(model)
optimizer = fabric.setup_optimizers(torch.optim.Adam(model.parameters()))
""",
            line=5,
            mentions=("`model`", "`fabric.init_module(empty_init=True)`", "empty_init=False"),
        ),
        Invalid(
            """\
import torch
import lightning as L

def init_fn(module):
    if isinstance(module, torch.nn.Linear):
        torch.nn.init.normal_(module.weight)

fabric = L.Fabric(accelerator="cpu")
with fabric.init_module(empty_init=True):
    model = torch.nn.Linear(4, 4)
    model.apply(init_fn)  # inside the context: torch.nn.init is skipped
print(model(torch.ones(1, 4)))
""",
            line=11,
            mentions=("`model.apply(init_fn)`", "inside", "no-op"),
        ),
        Invalid(
            """\
import lightning as L
from torch import nn

trainer = L.Trainer(accelerator="cpu", max_epochs=1)
with trainer.init_module(empty_init=True):
    model = nn.Linear(4, 4)
    model.reset_parameters()  # a built-in's reset uses torch.nn.init: skipped here
trainer.fit(model)
""",
            line=7,
            mentions=("`model.reset_parameters()`", "inside"),
        ),
        Invalid(
            """\
import torch
import lightning as L

def get_model(path=None):
    fabric = L.Fabric(accelerator="cpu")
    with fabric.init_module(empty_init=True):
        model = torch.nn.Linear(4, 4)
    model = fabric.setup(model)
    if path is not None:  # without a checkpoint, the weights stay garbage
        fabric.load_raw(path, model)
    print(model(torch.ones(1, 4)))
    return model
""",
            line=6,
            mentions=("`model`", "some paths", "`path is not None` is false"),
        ),
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Needs an empty-init context."""
        return "empty_init=True" in text or "skip_init(" in text

    @classmethod
    def wants(cls, tree: ast.Module, imports: ImportTable) -> bool:
        """Only a model built under an empty-init context can be affected."""
        return builds_under_empty_init(tree, imports)

    def check(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """Report each used empty-initialized model with no initialization after its context."""
        bindings: Bindings | None = None
        functions = {s.name.value: s for s in module.body if isinstance(s, cst.FunctionDef)}
        for scope in scopes(module, context.imports):
            for model, (kind, built_under, built_at) in scope.built.items():
                if kind != "empty" or built_at < 0 or model.startswith("self.") or not self._candidate(
                    scope, model, built_under, context.imports, context.classes
                ):
                    continue
                later = scope.calls_after(built_at)
                inside = [c for c in later if _inside(c, built_under)]
                after = [c for c in later if not _inside(c, built_under)]
                bindings = bindings or bindings_of(module)
                verdicts = {id(c): self._judge(c, model, functions, context.imports, bindings) for c in after}
                if "use" not in verdicts.values():
                    continue  # built and never run: counting parameters, printing the architecture
                # what may initialize it: a load or an init, or code it is handed to that may load it
                helped = [c for c in after if _initializes(c) or verdicts[id(c)] == "unknown"]
                origin = next((c for c in scope.calls if c.node is scope.values[model]), None)
                missing = unreached(origin, helped) if origin is not None else ("" if not helped else None)
                if missing is None:
                    continue
                if not missing and any(index >= built_at and name == model for index, name in scope.escapes):
                    continue  # returned or stored, never loaded here: whoever receives it may load it
                skipped = [c for c in inside if c.model == model and initializes(c.method)]
                shown = " ".join(source_of(built_under).split())
                if skipped:
                    if all(_skipped(c, scope, model, functions, context.imports) for c in skipped):
                        call = skipped[0]
                        yield call.node, (
                            f"`{_short(call.node)}` runs inside `{shown}`, which makes `torch.nn.init` a no-op: "
                            f"`{model}` keeps uninitialized memory. Move the call after the `with` block."
                        )
                    continue  # an initialization inside whose effect is unknown: trust it
                if missing:
                    yield built_under, (
                        f"`{model}` is built under `{shown}` (uninitialized memory), and what loads or "
                        f"initializes it afterwards runs only on some paths: when {missing}, it computes with "
                        f"garbage. Initialize it on that path too (`{model}.apply(init_fn)` after the block) or "
                        "use `empty_init=False` there."
                    )
                    continue
                yield built_under, (
                    f"`{model}` is built under `{shown}` (uninitialized memory) and used, but nothing in this "
                    "scope loads a checkpoint into it or initializes it afterwards: it computes with garbage. "
                    f"Load a full checkpoint, call `{model}.apply(init_fn)` after the block, or use "
                    "`empty_init=False`."
                )

    @staticmethod
    def _candidate(
        scope: Scope, model: str, built_under: cst.CSTNode, imports: ImportTable, classes: dict[str, ClassSummary]
    ) -> bool:
        """An empty-init context of Lightning or ``skip_init``, building the model by a plain call."""
        if isinstance(built_under, cst.Call) and imports.qualify(built_under.func) in known.VERIFIED_CONTEXTS:
            return False  # the runtime verifier reports what stays empty
        value = scope.values.get(model)
        if not isinstance(value, cst.Call):
            return False
        qualified = imports.qualify(value.func)
        if qualified in known.SKIP_INIT:
            return True
        summary = classes.get(qualified or "")
        if summary is not None and "configure_model" in summary.methods:
            return False  # its layers are built in configure_model, outside the empty-init context
        name = (dotted(value.func) or "").rpartition(".")[2]
        return not initializes(name) and "pretrained" not in name and "checkpoint" not in name

    @staticmethod
    def _judge(
        call: Call, model: str, functions: dict[str, cst.FunctionDef], imports: ImportTable, bindings: Bindings
    ) -> str:
        """``"use"`` (runs or trains the model), ``"unknown"`` (hands it to code that may initialize it)
        or ``""`` (neither)."""
        func = call.node.func
        if isinstance(func, cst.Name) and func.value == model:
            return "use"  # model(x)
        if call.on_receiver and call.model == model:
            return "" if call.method in _HARMLESS_METHODS else "use"
        if call.method in _HARMLESS_FUNCTIONS:
            return ""
        if not any(_is_model(arg.value, model) for arg in call.node.args):
            # an optimizer over model.parameters(): trained
            return "use" if any(_mentions(arg.value, model) for arg in call.node.args) else ""
        if isinstance(func, cst.Attribute) and call.method in _HANDOVERS:
            kinds = strategies(func.value, _CLASSES, imports, bindings)
            return "use" if kinds == {"other"} else "unknown"
        function = functions.get(func.value) if isinstance(func, cst.Name) else None
        if function is None:
            return "unknown"
        return "unknown" if any(_initializing(node) for node in iter_tree(function)) else "use"


def _inside(call: Call, context: cst.CSTNode) -> bool:
    return any(
        isinstance(statement, cst.With) and any(item.item is context for item in statement.items)
        for statement, _ in call.path
    )


def _is_model(argument: cst.BaseExpression, model: str) -> bool:
    """The model itself (or a submodule of it), not something computed from it."""
    return isinstance(argument, (cst.Name, cst.Attribute)) and model_root(argument) == model


def _mentions(expression: cst.BaseExpression, model: str) -> bool:
    return any(isinstance(node, cst.Name) and node.value == model for node in iter_tree(expression))


def _initializing(node: cst.CSTNode) -> bool:
    if not isinstance(node, cst.Call):
        return False
    name = (dotted(node.func) or "").rpartition(".")[2]
    if name in ("init_module", "init_empty_weights"):
        return False  # another empty-init context
    return initializes(name) or any(a.keyword is not None and a.keyword.value == "ckpt_path" for a in node.args)


def _initializes(call: Call) -> bool:
    if call.method in ("to_empty", "tie_weights"):
        return True  # to_empty: INI103 judges what follows it
    return _initializing(call.node)


def _skipped(
    call: Call, scope: Scope, model: str, functions: dict[str, cst.FunctionDef], imports: ImportTable
) -> bool:
    """Whether an initialization inside the empty-init context is certainly one it skips: an
    ``apply`` of a function of this file that calls ``torch.nn.init``, or ``reset_parameters()`` of a
    torch built-in module."""
    if call.method == "reset_parameters" and call.on_receiver:
        value = scope.values.get(model)
        receiver = call.node.func.value  # type: ignore[attr-defined]
        return isinstance(value, cst.Call) and imports.qualify(value.func) in BUILTIN_MODULES and dotted(receiver) == model
    if call.method != "apply" or not call.on_receiver or len(call.node.args) != 1:
        return False
    argument = call.node.args[0].value
    function = functions.get(argument.value) if isinstance(argument, cst.Name) else None
    if function is None:
        return False
    return any(
        isinstance(node, cst.Call) and (imports.qualify(node.func) or "").startswith("torch.nn.init.")
        for node in iter_tree(function)
    )


def _short(node: cst.CSTNode) -> str:
    text = " ".join(source_of(node).split())
    return text if len(text) <= 50 else text[:47] + "..."
