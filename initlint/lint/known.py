"""What the linter knows about the libraries it reads, as plain data (it never imports them).

The torch.nn built-in modules live in the generated ``torch_table``; this file holds the short,
hand-kept lists: constructors of parameters and buffers, optimizers, Lightning and accelerate names.
"""

from __future__ import annotations

__all__ = [
    "PARAMETER_CONSTRUCTORS",
    "BUFFER_CONSTRUCTORS",
    "PARAMETER_CONTAINERS",
    "MODULE_BASES_WITHOUT_RESET",
    "MODULE_BASES_BY_INIT_METHOD",
    "OPTIMIZER_PACKAGES",
    "NOT_OPTIMIZERS",
    "FABRIC_CLASSES",
    "FSDP_WRAPPERS",
    "FULLY_SHARD",
    "META_CONTEXTS",
    "LIGHTNING_MODULES",
    "SKIP_INIT",
    "VERIFIED_CONTEXTS",
    "READ_ONLY_CALLS",
    "is_optimizer",
]

PARAMETER_CONSTRUCTORS = frozenset(
    {
        "torch.nn.Parameter",
        "torch.nn.parameter.Parameter",
        "torch.nn.UninitializedParameter",
        "torch.nn.parameter.UninitializedParameter",
    }
)
BUFFER_CONSTRUCTORS = frozenset(
    {
        "torch.nn.Buffer",
        "torch.nn.parameter.Buffer",
        "torch.nn.UninitializedBuffer",
        "torch.nn.parameter.UninitializedBuffer",
    }
)
PARAMETER_CONTAINERS = frozenset(
    {
        "torch.nn.ParameterList",
        "torch.nn.ParameterDict",
        "torch.nn.modules.container.ParameterList",
        "torch.nn.modules.container.ParameterDict",
    }
)

LIGHTNING_MODULES = frozenset(
    f"{package}.{path}"
    for package in ("lightning", "lightning.pytorch", "pytorch_lightning")
    for path in ("LightningModule", "core.LightningModule", "core.module.LightningModule")
)

# nn.Module subclasses from other libraries that add no reset_parameters of their own.
MODULE_BASES_WITHOUT_RESET = LIGHTNING_MODULES | {"torch.jit.ScriptModule", "torch.jit._script.ScriptModule"}

# nn.Module subclasses of other libraries whose own init protocol is a method of another name: they count
# as module bases (whose subclasses are judged) once that method is in ``init-methods``. Without it a
# project of theirs keeps its own convention (mmengine's runner calls ``init_weights()``, not
# ``reset_parameters()``), and its classes are not judged by one they do not follow.
MODULE_BASES_BY_INIT_METHOD = {
    "init_weights": frozenset({
        "mmengine.model.BaseModule",
        "mmengine.model.base_module.BaseModule",
        "mmcv.runner.BaseModule",
        "mmcv.runner.base_module.BaseModule",
    }),
}

# Every class under these packages is an optimizer unless NOT_OPTIMIZERS names it.
OPTIMIZER_PACKAGES = (
    "torch.optim",
    "bitsandbytes.optim",
    "apex.optimizers",
    "deepspeed.ops.adam",
    "deepspeed.ops.lamb",
    "timm.optim",
    "torch_optimizer",
    "transformers.optimization",
    "lion_pytorch",
    "schedulefree",
    "heavyball",
    "came_pytorch",
    "galore_torch",
)
NOT_OPTIMIZERS = frozenset(
    {
        "lr_scheduler",
        "swa_utils",
        "Optimizer",
        "create_optimizer",
        "create_optimizer_v2",
        "get_scheduler",
        "get_linear_schedule_with_warmup",
        "get_cosine_schedule_with_warmup",
    }
)
_EXTRA_OPTIMIZERS = frozenset({"transformers.AdamW", "transformers.Adafactor"})


def is_optimizer(qualified: str | None, extra: frozenset[str] = frozenset()) -> bool:
    """Whether a qualified callable name creates an optimizer."""
    if qualified is None:
        return False
    if qualified in _EXTRA_OPTIMIZERS or qualified in extra:
        return True
    for package in OPTIMIZER_PACKAGES:
        if qualified.startswith(package + "."):
            rest = qualified[len(package) + 1 :].split(".")
            return not any(part in NOT_OPTIMIZERS for part in rest) and rest[-1][:1].isupper()
    return False


FABRIC_CLASSES = frozenset(
    {"lightning.Fabric", "lightning.fabric.Fabric", "lightning_fabric.Fabric", "lightning.fabric.fabric.Fabric"}
)
TRAINER_CLASSES = frozenset({"lightning.Trainer", "lightning.pytorch.Trainer", "pytorch_lightning.Trainer"})
FSDP_WRAPPERS = frozenset(
    {
        "torch.distributed.fsdp.FullyShardedDataParallel",
        "torch.distributed.fsdp.fully_sharded_data_parallel.FullyShardedDataParallel",
    }
)
FULLY_SHARD = frozenset(
    {
        "torch.distributed.fsdp.fully_shard",
        "torch.distributed._composable.fsdp.fully_shard",
        "torch.distributed._composable.fsdp.fully_shard.fully_shard",
        "torch.distributed.fsdp._fully_shard.fully_shard",
        "torch.distributed.fsdp._fully_shard._fully_shard.fully_shard",
    }
)
# Contexts that leave the parameters of the modules built inside them on the meta device.
META_CONTEXTS = frozenset(
    {
        "accelerate.init_empty_weights",
        "accelerate.big_modeling.init_empty_weights",
        "accelerate.utils.init_empty_weights",
    }
)
SKIP_INIT = frozenset({"torch.nn.utils.skip_init"})
VERIFIED_CONTEXTS = frozenset({"initlint.verified_empty_init", "initlint.runtime.verified_empty_init"})

# Calls that only read the tensors passed to them: using ``self.weight`` as an argument to one of
# these is not an initialization of it.
READ_ONLY_CALLS = frozenset(
    {
        "len",
        "isinstance",
        "print",
        "hasattr",
        "getattr",
        "id",
        "type",
        "str",
        "repr",
        "format",
        "_calculate_fan_in_and_fan_out",
        "_calculate_correct_fan",
        "calculate_gain",
        "warn",
        "debug",
        "info",
    }
)
