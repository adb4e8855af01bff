"""Run by test_deepspeed.py in 1 or 2 processes: DeepSpeed ZeRO-3 on CPU with gloo, under the verifier.

Scenarios run one after another in the same processes (starting torch and DeepSpeed costs seconds);
each has its own tracker, model and engine. The expectations in the tests are what the same scenario
leaves as NaN when run without initlint under torch's ``fill_uninitialized_memory``.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DS_ACCELERATOR", "cpu")  # before DeepSpeed picks an accelerator

import torch
from torch import nn

from initlint import UninitializedWeightsError, verified_empty_init
from tests.distributed import serve_rank


def config(world_size: int, stage: int = 3) -> dict:
    """ZeRO (stage 3 unless said) with a plain torch optimizer (DeepSpeed's fused ones need a compiled op)."""
    return {
        "train_batch_size": 2 * world_size,
        "zero_optimization": {"stage": stage},
        "zero_allow_untested_optimizer": True,
    }


class Net(nn.Module):
    """An initialized layer and a parameter nobody writes (9 elements: padded on 2 ranks)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.g = nn.Parameter(torch.empty(9))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) * self.g[:8]


class Complete(Net):
    """``Net`` with ``g`` written in its constructor."""

    def __init__(self) -> None:
        super().__init__()
        nn.init.ones_(self.g)


class Applied(Net):
    """Writes ``g`` through ``module.apply`` in its constructor, as transformers' ``post_init`` does: under
    ``zero.Init`` DeepSpeed gathers ``fc`` (already partitioned) for the function, which leaves it as it is."""

    def __init__(self) -> None:
        super().__init__()
        self.apply(self._init)

    def _init(self, module: nn.Module) -> None:
        if module is self:
            nn.init.ones_(self.g)


class Child(nn.Module):
    """A parameter its own constructor leaves empty: its parent writes it."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.empty(4))


class ParentInit(nn.Module):
    """Writes ``child.w`` directly: under ``zero.Init`` the child is partitioned already and the write is lost."""

    def __init__(self) -> None:
        super().__init__()
        self.child = Child()
        nn.init.ones_(self.child.w)


class ParentApply(nn.Module):
    """Writes ``child.w`` through ``apply``, which DeepSpeed gathers for: the write is kept."""

    def __init__(self) -> None:
        super().__init__()
        self.child = Child()
        self.apply(lambda module: nn.init.ones_(module.w) if isinstance(module, Child) else None)


class WithoutG(nn.Module):
    """``Net`` without ``g``: its checkpoints miss it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def engine(model: nn.Module, world_size: int, stage: int = 3) -> object:
    import deepspeed

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    result, *_ = deepspeed.initialize(model=model, config=config(world_size, stage), optimizer=optimizer)
    return result


def save(cls: type, world_size: int, directory: str) -> None:
    """A ZeRO-3 checkpoint of ``cls``, built and saved without initlint."""
    import deepspeed

    with deepspeed.zero.Init(config_dict_or_path=config(world_size)):
        model = cls()
    engine(model, world_size).save_checkpoint(directory, tag="t")


def gathered_copy(params: list, writes: dict) -> None:
    """Transformers' way into a ZeRO-3 model: gather, rank 0 copies, DeepSpeed broadcasts and repartitions."""
    import deepspeed

    with deepspeed.zero.GatheredParameters(params, modifier_rank=0):
        if torch.distributed.get_rank() == 0:
            with torch.no_grad():
                for param, value in writes.items():
                    param.copy_(value)


def from_pretrained(scenario: str, world_size: int, directory: str) -> dict:
    """transformers' ``from_pretrained`` with an active ``HfDeepSpeedConfig`` at stage 3: it builds under
    ``zero.Init`` and loads each module through ``GatheredParameters(..., modifier_rank=0)``."""
    from pathlib import Path

    from transformers import LlamaForCausalLM
    from transformers.integrations import HfDeepSpeedConfig

    from tests.runtime.hf_models import drop_keys, save_llama

    path = Path(directory)
    cls = _empty_scale_model() if scenario == "hf-missing" else LlamaForCausalLM
    if torch.distributed.get_rank() == 0:  # one checkpoint, written once
        if scenario == "hf-missing":  # a custom parameter nobody writes, missing from the checkpoint
            cls(cls.config_class()).save_pretrained(path)
            drop_keys(path, "block.scale")
        else:  # transformers initializes the missing key itself
            save_llama(path)
            drop_keys(path, "model.norm.weight")
    torch.distributed.barrier()
    active = HfDeepSpeedConfig(config(world_size))  # transformers holds it weakly: keep it alive
    with verified_empty_init() as tracker:
        model = cls.from_pretrained(path)
    zero3 = hasattr(next(model.parameters()), "ds_tensor")
    del active
    return {"zero3": zero3, "report": _verdict(tracker.check)}


def _empty_scale_model() -> type:
    from transformers import PretrainedConfig, PreTrainedModel

    class EmptyScaleConfig(PretrainedConfig):
        model_type = "initlint-empty-scale"

        def __init__(self, d: int = 8, **kwargs: object) -> None:
            self.d = d
            super().__init__(**kwargs)

    class EmptyScaleBlock(nn.Module):
        def __init__(self, d: int) -> None:
            super().__init__()
            self.lin = nn.Linear(d, d)
            self.scale = nn.Parameter(torch.empty(d))

    class EmptyScaleModel(PreTrainedModel):
        config_class = EmptyScaleConfig

        def __init__(self, config: EmptyScaleConfig) -> None:
            super().__init__(config)
            self.block = EmptyScaleBlock(config.d)
            self.post_init()

        def _init_weights(self, module: nn.Module) -> None:  # nothing for block.scale
            if isinstance(module, nn.Linear):
                module.weight.data.normal_(0, 0.02)
                module.bias.data.zero_()

    return EmptyScaleModel


def _verdict(check: Any) -> dict:
    try:
        report = check()
    except UninitializedWeightsError as error:
        failures = error.report.failures
        return {"ok": False, "names": sorted(r.name for r in failures), "message": str(error)}
    return {"ok": report.ok, "names": []}


def work(rank: int, world_size: int, scenarios: str, directory: str) -> dict:
    """Run the comma-separated ``scenarios`` one after another (each with its own tracker); their results by name."""
    import deepspeed

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size))  # as a launcher sets
    deepspeed.init_distributed(dist_backend="gloo")
    return {name: scenario(rank, world_size, name, os.path.join(directory, name)) for name in scenarios.split(",")}


def scenario(rank: int, world_size: int, scenario: str, directory: str) -> dict:
    """One scenario under ``verified_empty_init(deepspeed.zero.Init(...))``: what the verifier said."""
    import deepspeed

    if scenario.startswith("hf-"):
        return from_pretrained(scenario, world_size, directory)
    cfg = config(world_size)
    cls = {"train": Complete, "nan": Complete, "apply": Applied}.get(scenario, Net)
    if scenario.startswith("zero2-"):  # whole parameters, moved into one flat buffer by initialize
        with verified_empty_init() as tracker:
            model = Complete() if scenario == "zero2-complete" else Net()
        model.fc.reset_parameters()  # g, in Net: nobody writes it
        trained = engine(model, world_size, stage=2)
        try:
            trained(torch.randn(2, 8))  # the first forward checks
        except UninitializedWeightsError as error:
            return {"ok": False, "names": sorted(r.name for r in error.report.failures)}
        return {"ok": tracker.verdict.ok, "names": []}
    if scenario.startswith("parent-"):
        with verified_empty_init(deepspeed.zero.Init(config_dict_or_path=cfg)) as tracker:
            model = ParentInit() if scenario == "parent-init" else ParentApply()
        return {**_verdict(tracker.check), "model": type(model).__name__}
    if scenario.startswith("checkpoint"):
        save(WithoutG if scenario.endswith("partial") else Complete, world_size, directory)
    with verified_empty_init(deepspeed.zero.Init(config_dict_or_path=cfg), poison="poison" in scenario) as tracker:
        model = cls()
    extra: dict = {"partition": list(model.g.ds_tensor.shape), "data": list(model.g.data.shape)}
    if scenario == "gathered":
        gathered_copy([model.g], {model.g: torch.ones(9)})
    elif scenario == "gathered-module":  # one coalesced gather of both; only g written
        gathered_copy(list(model.parameters()), {model.g: torch.ones(9)})
    elif scenario == "gathered-other":  # only fc written: g stays garbage, fc stays initialized
        gathered_copy(list(model.parameters()), {model.fc.weight: torch.ones(8, 8)})
    elif scenario == "nan":
        gathered_copy([model.g], {model.g: torch.full((9,), float("nan"))})
    try:
        if scenario in ("train", "train-empty") or scenario.startswith("checkpoint"):
            trained = engine(model, world_size)
            if scenario == "checkpoint-complete":
                trained.load_checkpoint(directory, tag="t")
            elif scenario == "checkpoint-module-only":  # ZeRO-3 saves no module weights: nothing is loaded
                trained.load_checkpoint(directory, tag="t", load_module_only=True)
            elif scenario.startswith("checkpoint"):  # module weights only, as in a warm start
                strict = not scenario.endswith("partial")
                trained.load_checkpoint(
                    directory, tag="t", load_module_strict=strict, load_optimizer_states=False,
                    load_lr_scheduler_states=False,
                )  # fmt: skip
            loss = trained(torch.randn(2, 8)).sum()  # the first forward checks
            trained.backward(loss)
            trained.step()
            report = tracker.verdict
        else:
            report = tracker.check()
    except UninitializedWeightsError as error:
        failures = error.report.failures
        return {
            "rank": rank,
            "ok": False,
            "names": sorted(r.name for r in failures),
            "statuses": sorted(r.status for r in failures),
            "shapes": [list(r.shape) for r in failures],
            "counts": error.report.global_counts,
            "message": str(error),
            **extra,
        }
    return {"rank": rank, "ok": report.ok, "names": [], "counts": report.global_counts, **extra}


if __name__ == "__main__":
    serve_rank(work)
