"""INI103: ``to_empty()`` with nothing that initializes the model afterwards."""

from __future__ import annotations

from collections.abc import Iterator

from initlint.lint.lazy import cst
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Valid
from initlint.lint.scopes import scopes

__all__ = ["ToEmptyWithoutInit"]

# Calls after to_empty that give the tensors values: on the model, or with the model as an argument.
_INITIALIZES = frozenset({
    "reset_parameters", "apply", "init_weights", "_init_weights", "initialize_weights", "load_state_dict",
    "load_checkpoint", "load", "set_model_state_dict", "load_model", "load_sharded_checkpoint",
    "post_init", "init_parameters",
})


def _initializes(name: str) -> bool:
    """A call that may give tensors values: a known one, or one named like it (``reset_method()``)."""
    lowered = name.lower()
    return name in _INITIALIZES or any(word in lowered for word in ("reset", "init", "load"))


class ToEmptyWithoutInit(FileRule):
    """Flags ``model.to_empty(...)`` never followed by a reset, an init or a load in the same scope."""

    code = "INI103"
    name = "to-empty-without-init"
    what_it_does = (
        "Checks that `model.to_empty(...)` is followed, in the same scope, by something that gives the "
        "model's tensors values: `reset_parameters()`, `model.apply(init_fn)`, `init_weights()`, or a "
        "checkpoint load."
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
    model = torch.nn.Transformer()
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
    )
    INVALID = (
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
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Needs a ``to_empty`` call."""
        return "to_empty(" in text

    def check(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """Report each ``to_empty`` that no initializing call follows."""
        for scope in scopes(module, context.imports):
            for call in scope.calls:
                if call.method != "to_empty" or not call.on_receiver or call.model is None:
                    continue
                later = scope.calls_after(call.index)
                if any(_initializes(c.method) for c in later) or scope.reads_after("reset_parameters", call.index):
                    continue  # on this model, a submodule of it, or a helper given it: trust it
                yield call.node, (
                    f"`{call.model}.to_empty(...)` allocates uninitialized memory and nothing in this scope "
                    "initializes it afterwards. Call `reset_parameters()` on its modules, "
                    f"`{call.model}.apply(init_fn)`, or load a checkpoint before using it."
                )
