"""INI104: ``trainer.init_module()`` with a Trainer whose strategy shards the model."""

from __future__ import annotations

from collections.abc import Iterator

from initlint.lint import known
from initlint.lint.bindings import bindings_of
from initlint.lint.lazy import cst
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Valid
from initlint.lint.scopes import method_calls, sharded_message, strategies
from initlint.lint.walk import source_of

__all__ = ["InitModuleWithShardedTrainer"]


class InitModuleWithShardedTrainer(FileRule):
    """Flags ``with trainer.init_module():`` when the Trainer is statically FSDP or DeepSpeed."""

    code = "INI104"
    name = "init-module-with-sharded-trainer"
    what_it_does = (
        "Checks for `trainer.init_module()` used with a `Trainer` built with an FSDP or DeepSpeed strategy "
        "(`strategy=\"fsdp\"`, `\"deepspeed_stage_3\"`, `FSDPStrategy(...)`, or a variable bound to one). "
        "The Trainer is the one the name is bound to where `init_module()` is called, found the way Python "
        "finds it: the binding of the same function that reaches the call (any branch of an `if`), else the "
        "enclosing function's, else the module's. A parameter or the result of an unknown call is not judged."
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
        Valid(
            """\
import lightning as L

trainer = L.Trainer(strategy="fsdp")  # the module's Trainer: not the one the function uses

def evaluate():
    trainer = L.Trainer(devices=1)
    with trainer.init_module():
        model = MyLightningModule()
    trainer.validate(model)
"""
        ),
        Valid(
            """\
import lightning as L

def build(trainer: L.Trainer):  # a parameter: its strategy is not known here
    with trainer.init_module():
        return MyLightningModule()

build(L.Trainer(strategy="fsdp"))
"""
        ),
        Valid(
            """\
import lightning as L

trainer = L.Trainer(strategy="fsdp")
trainer = L.Trainer(devices=1)  # re-bound before use
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
        Invalid(
            """\
import lightning as L

def pretrain():
    trainer = L.Trainer(strategy="fsdp")
    with trainer.init_module():
        model = MyLightningModule()
    trainer.fit(model)

def finetune():
    trainer = L.Trainer(strategy="ddp")  # this function's own Trainer
    with trainer.init_module():
        model = MyLightningModule()
    trainer.fit(model)
""",
            line=5,
            mentions=("`trainer`", "fsdp"),
        ),
        Invalid(
            """\
import lightning as L
from lightning.pytorch.strategies import FSDPStrategy

trainer = L.Trainer(strategy=FSDPStrategy())

def main():
    with trainer.init_module():  # the module's Trainer
        model = MyLightningModule()
    trainer.fit(model)
""",
            line=7,
            mentions=("fsdp",),
        ),
        Invalid(
            """\
import lightning as L

def main(devices):
    if devices > 1:
        strategy = "deepspeed_stage_3"
    else:
        strategy = "auto"
    trainer = L.Trainer(devices=devices, strategy=strategy)
    with trainer.init_module():
        model = MyLightningModule()
    trainer.fit(model)
""",
            line=9,
            mentions=("deepspeed (on some paths)",),
        ),
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Needs a Trainer and ``init_module``."""
        return "Trainer" in text and "init_module" in text

    def check(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """Report each ``init_module`` call on a Trainer that is sharded where it is called."""
        for node, receiver in method_calls(module, "init_module"):
            kinds = strategies(receiver, known.TRAINER_CLASSES, context.imports, bindings_of(module))
            kind = sharded_message(kinds)
            if kind is None:
                continue
            yield node, (
                f"`{source_of(receiver)}` uses a {kind} strategy: build the layers in the "
                "LightningModule's `configure_model()` hook instead of under `init_module()`, so "
                "each rank only materializes its shard."
            )
