"""INI105: ``fabric.setup_optimizers()`` with a Fabric that uses DeepSpeed."""

from __future__ import annotations

from collections.abc import Iterator

from initlint.lint import known
from initlint.lint.bindings import bindings_of
from initlint.lint.lazy import cst
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Valid
from initlint.lint.scopes import method_calls, sharded_message, strategies
from initlint.lint.walk import source_of

__all__ = ["DeepSpeedSeparateOptimizerSetup"]


class DeepSpeedSeparateOptimizerSetup(FileRule):
    """Flags separate optimizer set-up where DeepSpeed needs the joint ``fabric.setup(model, opt)``."""

    code = "INI105"
    name = "deepspeed-separate-optimizer-setup"
    what_it_does = (
        "Checks for `fabric.setup_optimizers(...)` on a Fabric built with a DeepSpeed strategy. The Fabric is "
        "the one the name is bound to where the call is made, found the way Python finds it: the binding of "
        "the same function that reaches the call (any branch of an `if`), else the enclosing function's, else "
        "the module's. A parameter or the result of an unknown call is not judged."
    )
    why_bad = (
        "DeepSpeed wraps the model and its optimizer together into one engine; Lightning Fabric refuses "
        "to set them up separately with DeepSpeed. Create the optimizer first and call "
        "`model, optimizer = fabric.setup(model, optimizer)`."
    )
    references = ("https://lightning.ai/docs/fabric/stable/api/fabric_methods.html#setup",)
    VALID = (
        Valid(
            """\
import torch
import lightning as L

fabric = L.Fabric(strategy="deepspeed_stage_2")
model = torch.nn.Linear(4, 4)
optimizer = torch.optim.Adam(model.parameters())
model, optimizer = fabric.setup(model, optimizer)
"""
        ),
        Valid(
            """\
import torch
import lightning as L

def train_deepspeed(model):
    fabric = L.Fabric(strategy="deepspeed_stage_3")
    optimizer = torch.optim.Adam(model.parameters())
    return fabric.setup(model, optimizer)

def train_fsdp(model):
    fabric = L.Fabric(strategy="fsdp")  # this function's own Fabric: separate set-up is right
    model = fabric.setup_module(model)
    optimizer = fabric.setup_optimizers(torch.optim.Adam(model.parameters()))
    return model, optimizer
"""
        ),
        Valid(
            """\
import torch
import lightning as L

fabric = L.Fabric(strategy="deepspeed")

def train(fabric, model):  # a parameter shadows the module's Fabric
    model = fabric.setup_module(model)
    return fabric.setup_optimizers(torch.optim.Adam(model.parameters()))
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import torch
import lightning as L

fabric = L.Fabric(strategy="deepspeed_stage_3")
model = fabric.setup_module(torch.nn.Linear(4, 4))
optimizer = fabric.setup_optimizers(torch.optim.Adam(model.parameters()))
""",
            line=6,
            mentions=("`fabric`", "fabric.setup(model, optimizer)"),
        ),
        Invalid(
            """\
import torch
import lightning as L

fabric = L.Fabric(strategy="deepspeed_stage_2")

def train(model):
    model = fabric.setup_module(model)  # the module's Fabric, used in a function
    optimizer = fabric.setup_optimizers(torch.optim.Adam(model.parameters()))
    return model, optimizer

def evaluate(model):
    fabric = L.Fabric(strategy="ddp")
    return fabric.setup_module(model)
""",
            line=8,
            mentions=("`fabric`", "DeepSpeed"),
        ),
        Invalid(
            """\
import torch
import lightning as L
from lightning.fabric.strategies import DeepSpeedStrategy

def main(big):
    fabric = L.Fabric(strategy="ddp")
    if big:
        fabric = L.Fabric(strategy=DeepSpeedStrategy(stage=3))
    model = fabric.setup_module(torch.nn.Linear(4, 4))
    optimizer = fabric.setup_optimizers(torch.optim.Adam(model.parameters()))
""",
            line=10,
            mentions=("DeepSpeed on some paths",),
        ),
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Needs DeepSpeed and a separate optimizer set-up."""
        return "setup_optimizers" in text and ("deepspeed" in text.lower())

    def check(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """Report each ``setup_optimizers`` call on a Fabric that uses DeepSpeed where it is called."""
        for node, receiver in method_calls(module, "setup_optimizers"):
            kinds = strategies(receiver, known.FABRIC_CLASSES, context.imports, bindings_of(module))
            kind = sharded_message(kinds, ("deepspeed",))
            if kind is None:
                continue
            paths = " on some paths" if kind != "deepspeed" else ""
            yield node, (
                f"`{source_of(receiver)}` uses DeepSpeed{paths}, which sets the model and its optimizer up "
                "together: create the optimizer first, then `model, optimizer = fabric.setup(model, optimizer)`."
            )
