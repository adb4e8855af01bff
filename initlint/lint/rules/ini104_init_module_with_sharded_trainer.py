"""INI104: ``trainer.init_module()`` with a Trainer whose strategy shards the model."""

from __future__ import annotations

from collections.abc import Iterator

from initlint.lint import known
from initlint.lint.lazy import cst
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Valid
from initlint.lint.scopes import bound_to, method_calls, strategy_of

__all__ = ["InitModuleWithShardedTrainer"]


class InitModuleWithShardedTrainer(FileRule):
    """Flags ``with trainer.init_module():`` when the Trainer is statically FSDP or DeepSpeed."""

    code = "INI104"
    name = "init-module-with-sharded-trainer"
    what_it_does = (
        "Checks for `trainer.init_module()` used with a `Trainer` built in the same file with an FSDP or "
        "DeepSpeed strategy (`strategy=\"fsdp\"`, `\"deepspeed_stage_3\"`, `FSDPStrategy(...)`, ...)."
    )
    why_bad = (
        "With sharded strategies, Lightning's documentation says to build the layers in the "
        "LightningModule's `configure_model()` hook instead: the Trainer calls it under the right "
        "sharding context, so each rank only ever materializes its shard. `init_module()` builds the "
        "whole model on every rank first."
    )
    references = ("https://lightning.ai/docs/pytorch/stable/advanced/model_init.html",)
    VALID = (
        Valid(
            """\
import lightning as L

trainer = L.Trainer(accelerator="cuda", devices=8, strategy="fsdp")
model = MyLightningModule()  # layers are built in configure_model()
trainer.fit(model)
"""
        ),
        Valid(
            """\
import lightning as L

trainer = L.Trainer(accelerator="cuda", devices=1)
with trainer.init_module():
    model = MyLightningModule()
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import lightning as L

trainer = L.Trainer(accelerator="cuda", devices=8, strategy="deepspeed_stage_3")
with trainer.init_module(empty_init=True):
    model = MyLightningModule()
""",
            line=4,
            mentions=("`trainer`", "deepspeed", "configure_model()"),
        ),
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Needs a Trainer and ``init_module``."""
        return "Trainer" in text and "init_module" in text

    def check(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """Report each ``init_module`` call on a sharded Trainer."""
        sharded = {
            name: kind
            for name, call in bound_to(module, known.TRAINER_CLASSES, context.imports).items()
            if (kind := strategy_of(call, context.imports)) is not None
        }
        if not sharded:
            return
        for node, receiver in method_calls(module, "init_module", sharded):
            yield node, (
                f"`{receiver}` uses a {sharded[receiver]} strategy: build the layers in the "
                "LightningModule's `configure_model()` hook instead of under `init_module()`, so "
                "each rank only materializes its shard."
            )
