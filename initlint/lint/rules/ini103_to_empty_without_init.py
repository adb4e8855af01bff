"""INI103: ``to_empty()`` with nothing that initializes the model afterwards."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from initlint.lint.gates import calls_to_empty_on_a_name
from initlint.lint.lazy import cst
from initlint.lint.names import ImportTable
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Valid
from initlint.lint.scopes import Call, Scope, function_scopes, initializes, unreached
from initlint.lint.walk import iter_tree

__all__ = ["ToEmptyWithoutInit"]

class ToEmptyWithoutInit(FileRule):
    """Flags ``model.to_empty(...)`` never followed by a reset, an init or a load in the same scope."""

    code = "INI103"
    name = "to-empty-without-init"
    what_it_does = (
        "Checks that `model.to_empty(...)` is followed, in the same scope, by something that gives the "
        "model's tensors values: `reset_parameters()`, `model.apply(init_fn)`, `init_weights()`, or a "
        "checkpoint load, on every path: a load under `if path is not None:` leaves the model garbage when "
        "the test is false, unless the `else` initializes it too (or raises). A test of a module's kind "
        "(`if hasattr(m, \"reset_parameters\")`) inside a loop over modules is a dispatch, not a path. "
        "An override of `to_empty` is never a finding (it implements it), and a function "
        "whose last act is `to_empty` hands the duty to its callers: a call of it in the same file that "
        "nothing initializes afterwards is reported instead."
    )
    why_bad = (
        "`to_empty()` allocates memory without initializing it: the model now holds garbage (huge values "
        "or NaN), and training on it goes wrong silently."
    )
    references = ("https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.to_empty",)
    VALID = (
        Valid(
            """\
import torch

with torch.device("meta"):
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
model.to_empty(device="cpu")
for module in model.modules():
    if hasattr(module, "reset_parameters"):
        module.reset_parameters()
"""
        ),
        Valid(
            """\
def materialize(model, device):
    model.to_empty(device=device)
    for module in model.modules():
        if callable(reset := getattr(module, "reset_parameters", None)):
            reset()
"""
        ),
        Valid(
            """\
def materialize(model, state):
    model.to_empty(device="cuda")
    model.load_state_dict(state)
"""
        ),
        Valid(
            """\
import torch

def build(path=None):
    with torch.device("meta"):
        model = torch.nn.Linear(4, 4)
    model.to_empty(device="cpu")
    if path is not None:
        model.load_state_dict(torch.load(path))
    else:
        model.reset_parameters()  # the other path initializes too
    return model
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class LoRALinear(nn.Module):
    def to_empty(self, *, device, recurse=True):  # an override implements to_empty itself
        self.lora_a.to_empty(device=device, recurse=recurse)
        self.lora_b.to_empty(device=device, recurse=recurse)
        return self
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class Layer(nn.Module):
    def _init_empty_weights(self, cls, *args, device="cpu", **kwargs):
        cls.__init__(self, *args, device="meta", **kwargs)
        self.to_empty(device=device)  # its last act: the caller fills the memory

    def __init__(self, base):
        self._init_empty_weights(nn.Linear, 4, 4)
        self.load_state_dict(base.state_dict())
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import torch

def materialize(model, device):
    model.to_empty(device=device)  # hands the empty memory to its caller

def main():
    with torch.device("meta"):
        model = torch.nn.Linear(4, 4)
    materialize(model, "cpu")
    print(model(torch.ones(1, 4)))
""",
            line=9,
            mentions=("`materialize(...)`", "`model`"),
        ),
        Invalid(
            """\
import torch

with torch.device("meta"):
    model = torch.nn.Linear(4, 4)
model.to_empty(device="cpu")
print(model(torch.ones(1, 4)))
""",
            line=5,
            mentions=("`model.to_empty(...)`", "reset_parameters"),
        ),
        Invalid(
            """\
import torch

def build(path=None):
    with torch.device("meta"):
        model = torch.nn.Linear(4, 4)
    model.to_empty(device="cpu")
    if path is not None:  # no checkpoint: the weights stay garbage
        model.load_state_dict(torch.load(path))
    return model
""",
            line=6,
            mentions=("`model.to_empty(...)`", "some paths", "`path is not None` is false"),
        ),
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Needs a ``to_empty`` call."""
        return "to_empty(" in text

    @classmethod
    def wants(cls, tree: ast.Module, imports: ImportTable) -> bool:
        """The call must be code, on a model's name (the rule judges calls whose receiver is named)."""
        return calls_to_empty_on_a_name(tree)

    def check(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """Report each ``to_empty`` that no initializing call follows, and each call of a helper that
        ends with one (it hands the duty to its caller) that nothing initializes after."""
        found = list(function_scopes(module, context.imports))
        helpers: set[str] = set()
        for function, scope in found:
            if function is not None and function.name.value == "to_empty":
                continue  # an override implements to_empty: its callers initialize
            for call in scope.calls:
                if call.method != "to_empty" or not call.on_receiver or call.model is None:
                    continue
                missing = _uninitialized_path(scope, call)
                if missing is None:
                    continue  # on this model, a submodule of it, or a helper given it: trust it
                if function is not None and _is_last_act(function, call.node):
                    helpers.add(function.name.value)  # its callers receive the empty memory
                    continue
                if missing:
                    yield call.node, (
                        f"`{call.model}.to_empty(...)` allocates uninitialized memory, and what initializes it "
                        f"afterwards runs only on some paths: when {missing}, `{call.model}` keeps garbage. "
                        "Initialize it on that path too (`reset_parameters()` on its modules, or "
                        f"`{call.model}.apply(init_fn)`) or fail there."
                    )
                    continue
                yield call.node, (
                    f"`{call.model}.to_empty(...)` allocates uninitialized memory and nothing in this scope "
                    "initializes it afterwards. Call `reset_parameters()` on its modules, "
                    f"`{call.model}.apply(init_fn)`, or load a checkpoint before using it."
                )
        if helpers:
            yield from self._helper_calls(found, helpers)

    @staticmethod
    def _helper_calls(
        found: list[tuple[cst.FunctionDef | None, Scope]], helpers: set[str]
    ) -> Iterator[tuple[cst.CSTNode, str]]:
        for function, scope in found:
            seen: set[int] = set()
            for call in scope.calls:
                if call.method not in helpers or id(call.node) in seen or _initialized_after(scope, call):
                    continue
                if function is not None and function.name.value in helpers:
                    continue  # one helper handing over to another: judged at the outer caller
                seen.add(id(call.node))
                shown = call.model or "its result"
                yield call.node, (
                    f"`{call.method}(...)` ends with `to_empty(...)`, which leaves `{shown}` uninitialized, and "
                    "nothing in this scope initializes it afterwards. Call `reset_parameters()` on its modules, "
                    "apply an init function, or load a checkpoint before using it."
                )


def _initialized_after(scope: Scope, call: Call) -> bool:
    return _uninitialized_path(scope, call) is None


def _uninitialized_path(scope: Scope, call: Call) -> str | None:
    """``None`` when every path from ``call`` reaches something that initializes the model; else ``""``
    (no path does) or the ``if`` test whose branch goes without (``"path is not None" is false``)."""
    later = [c for c in scope.calls_after(call.index) if initializes(c.method) or _synchronizes(c.node)]
    if not any(c.method == "reset_parameters" for c in later) and scope.reads_after("reset_parameters", call.index):
        return None  # ``reset = module.reset_parameters``: read, called under another name
    return unreached(call, later)


def _synchronizes(node: cst.Call) -> bool:
    """A broadcast of the weights from the rank that loaded them (``sync_module_states=True``)."""
    name = (node.func.attr.value if isinstance(node.func, cst.Attribute) else getattr(node.func, "value", "")) or ""
    if "broadcast" in name or "sync" in name.lower():
        return True
    return any(arg.keyword is not None and arg.keyword.value == "sync_module_states" for arg in node.args)


def _is_last_act(function: cst.FunctionDef, call: cst.Call) -> bool:
    """Whether ``call`` is in the function's last statement (or the one before a bare ``return x``)."""
    body = function.body.body if isinstance(function.body, cst.IndentedBlock) else ()
    last = list(body[-2:])
    if len(last) == 2 and not _returns_a_name(last[1]):
        last = last[1:]
    return any(node is call for statement in last for node in iter_tree(statement))


def _returns_a_name(statement: cst.BaseStatement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    return isinstance(small, cst.Return) and (small.value is None or isinstance(small.value, cst.Name))
