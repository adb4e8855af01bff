"""INI105: ``fabric.setup_optimizers()`` with a Fabric that uses DeepSpeed."""

from __future__ import annotations

from collections.abc import Iterator

from initlint.lint import known
from initlint.lint.lazy import cst
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Valid
from initlint.lint.scopes import bound_to, method_calls, strategy_of

__all__ = ["DeepSpeedSeparateOptimizerSetup"]


class DeepSpeedSeparateOptimizerSetup(FileRule):
    """Flags separate optimizer set-up where DeepSpeed needs the joint ``fabric.setup(model, opt)``."""

    code = "INI105"
    name = "deepspeed-separate-optimizer-setup"
    what_it_does = (
        "Checks for `fabric.setup_optimizers(...)` on a Fabric built in the same file with a DeepSpeed "
        "strategy."
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
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Needs DeepSpeed and a separate optimizer set-up."""
        return "setup_optimizers" in text and ("deepspeed" in text.lower())

    def check(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """Report each ``setup_optimizers`` call on a DeepSpeed Fabric."""
        deepspeed = {
            name
            for name, call in bound_to(module, known.FABRIC_CLASSES, context.imports).items()
            if strategy_of(call, context.imports) == "deepspeed"
        }
        for node, receiver in method_calls(module, "setup_optimizers", deepspeed):
            yield node, (
                f"`{receiver}` uses DeepSpeed, which sets the model and its optimizer up together: "
                "create the optimizer first, then `model, optimizer = fabric.setup(model, optimizer)`."
            )
