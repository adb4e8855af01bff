"""INI003: an optimizer is created over a model's parameters before a set-up call replaces them."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from initlint.lint import known
from initlint.lint.bindings import Bindings, bindings_of
from initlint.lint.gates import builds_optimizer_and_sets_up
from initlint.lint.lazy import cst
from initlint.lint.names import ImportTable, dotted
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Valid
from initlint.lint.scopes import empty_init_kind, model_root, strategies
from initlint.lint.summary import Fix
from initlint.lint.walk import blocks_of, iter_tree, source_of

__all__ = ["OptimizerBeforeSetup"]


_SETUP_WORDS = (".setup(", ".setup_module(", "fully_shard", "FullyShardedDataParallel", "FSDP(", "to_empty(")


@dataclass
class _Optimizer:
    var: str
    model: str
    node: cst.Call
    where: _Where | None = None  # its statement, if it stands alone on its lines
    many: bool = False  # a list of optimizers (``[Adam([p]) for p in ...]``, appended in a loop)

    def passed(self) -> str:
        """How the optimizer is passed to a set-up call: ``opt`` or ``*optimizers``."""
        return f"*{self.var}" if self.many else self.var


@dataclass(frozen=True)
class _Where:
    """A one-statement line and the block that holds it."""

    block: Sequence[cst.BaseStatement]
    statement: cst.SimpleStatementLine

    def index(self) -> int:
        return next(i for i, statement in enumerate(self.block) if statement is self.statement)


@dataclass
class _Setup:
    model: str
    node: cst.Call
    kind: str  # "joint", "separate" or "replace"
    joint_optimizers: tuple[str, ...] = ()


class OptimizerBeforeSetup(FileRule):
    """Flags optimizers that hold parameters a later set-up call replaces."""

    code = "INI003"
    name = "optimizer-before-setup"
    what_it_does = (
        "Checks for an optimizer created over a model's parameters before, in the same scope, the model goes "
        "through a call that replaces or re-wraps those parameters.\n\n"
        "An optimizer is created over the model's parameters when it is built from:\n\n"
        "- `model.parameters()`, `named_parameters()`, or parameter groups built from them;\n"
        "- a list of optimizers, such as `[Adam([p]) for p in model.parameters()]`, or one per layer;\n"
        "- a factory handed the model or its parameters: `model.configure_optimizers(...)`, "
        "`hydra.utils.instantiate(cfg.optimizer, params=model.parameters())`.\n\n"
        "The calls that replace or re-wrap the parameters are `fully_shard(model)`, `FSDP(model)`, "
        "`model.to_empty(...)`, `fabric.setup_module(model)`, and `fabric.setup(model)` without that optimizer, "
        "wherever the call stands (`return fabric.setup_module(model), ...`).\n\n"
        "The model is followed through wrappers that keep its parameters (`model = parallelize_module(model, ...)`, "
        "`torch.compile(model)`) and through other names for it (`enc, dec = models` after "
        "`models = [encoder, decoder]`). The Fabric is the one the name is bound to at the call, found by scope "
        "as Python finds it.\n\n"
        "The joint `fabric.setup(model, optimizer)` is fine, unless the model was built on the meta device in the "
        "same scope: under `torch.device(\"meta\")`, or under `fabric.init_module(empty_init=...)` with a flag "
        "that may be true and a Fabric whose strategy is FSDP on some path (or not known); the message says when "
        "it breaks."
    )
    why_bad = (
        "Sharding, wrapping and materializing create new parameter tensors. An optimizer created before "
        "holds the old ones: it steps tensors the model no longer uses (or meta tensors), so the model "
        "never trains, or fails with an obscure error. Lightning's order for separate set-up is: set up "
        "the model, create the optimizer, then `fabric.setup_optimizers(optimizer)`. With parameters on "
        "the meta device, even the joint `fabric.setup(model, optimizer)` is refused at run time."
    )
    fix_safety = (
        "Safe. The fix moves the optimizer's statement, with the statements that build the parameter "
        "lists it takes, to just after the set-up call. It is offered only when all of them stand in the "
        "same block as the set-up call, each alone on its line, and nothing in between reads what they "
        "bind (a scheduler built on the optimizer, say) or rebinds what they read. The joint "
        "`fabric.setup(model, optimizer)` after a meta-device build gets no fix: it needs a different set-up."
    )
    references = (
        "https://lightning.ai/docs/fabric/stable/api/fabric_methods.html#setup",
        "https://lightning.ai/docs/fabric/stable/advanced/model_parallel/fsdp.html",
        "https://pytorch.org/docs/stable/distributed.fsdp.fully_shard.html",
    )

    VALID = (
        Valid(
            """\
import torch
import lightning as L

fabric = L.Fabric(accelerator="cpu")
model = torch.nn.Linear(8, 8)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
model, optimizer = fabric.setup(model, optimizer)  # joint set-up: Fabric rewires the optimizer
"""
        ),
        Valid(
            """\
import torch
from lightning.fabric import Fabric

fabric = Fabric(strategy="fsdp")
with fabric.init_module(empty_init=True):
    model = torch.nn.Transformer()
model = fabric.setup_module(model)
optimizer = torch.optim.Adam(model.parameters())
optimizer = fabric.setup_optimizers(optimizer)
"""
        ),
        Valid(
            """\
import torch
from torch.distributed.fsdp import fully_shard

def build(model: torch.nn.Module) -> torch.optim.Optimizer:
    for layer in model.layers:
        fully_shard(layer)
    fully_shard(model)
    return torch.optim.AdamW(model.parameters(), lr=3e-4)
"""
        ),
        Valid(
            """\
import lightning as L

fabric = L.Fabric(accelerator="cpu")
model = MyLightningModule()
optimizer = model.configure_optimizers()
model, optimizer = fabric.setup(model, optimizer)
"""
        ),
        Valid(
            """\
import torch
import lightning as L

fabric = L.Fabric(strategy="deepspeed_stage_3")
with fabric.init_module(empty_init=True):
    model = torch.nn.Linear(8, 8)
optimizer = torch.optim.Adam(model.parameters())
model, optimizer = fabric.setup(model, optimizer)  # DeepSpeed requires the joint set-up
"""
        ),
        Valid(
            """\
import torch
import lightning as L

def train_deepspeed():
    fabric = L.Fabric(strategy="deepspeed_stage_3")
    with fabric.init_module(empty_init=True):
        model = torch.nn.Linear(8, 8)
    optimizer = torch.optim.Adam(model.parameters())
    model, optimizer = fabric.setup(model, optimizer)  # DeepSpeed requires the joint set-up

def train_ddp():
    fabric = L.Fabric(strategy="ddp")  # another function's Fabric does not change the one above
    with fabric.init_module(empty_init=True):  # DDP allocates real (uninitialized) memory, not meta
        model = torch.nn.Linear(8, 8)
    fabric.load("checkpoint.ckpt", {"model": model})
    optimizer = torch.optim.Adam(model.parameters())
    model, optimizer = fabric.setup(model, optimizer)
"""
        ),
        Valid(
            """\
import torch

def configure(fabric, model, head):
    optimizers = [torch.optim.Adam([p]) for p in head.parameters()]  # a different model
    model = fabric.setup_module(model)
    optimizers += [torch.optim.SGD(layer.parameters()) for layer in model.layers]  # after the set-up
    return model, fabric.setup_optimizers(*optimizers)
"""
        ),
        Valid(
            """\
import torch
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from torch.distributed.tensor.parallel import parallelize_module

def shard(model, mesh, plan):
    model = parallelize_module(model, mesh, plan)
    model = FSDP(model)  # the wrap first
    return model, torch.optim.AdamW(model.parameters())

def rebuilt(config):
    model = Transformer(config)
    optimizer = torch.optim.AdamW(model.parameters())
    model = Transformer(config.bigger())  # a new model under the old name: the optimizer keeps the old one
    model = FSDP(model)
    return model, optimizer
"""
        ),
        Valid(
            """\
import torch
import lightning as L
from lightning.fabric.strategies import DDPStrategy

def main(devices):
    fabric = L.Fabric(devices=devices, strategy=DDPStrategy() if devices > 1 else "auto")
    with fabric.init_module(empty_init=(devices > 1)):  # no FSDP on any path: no meta device
        model = torch.nn.Linear(8, 8)
    optimizer = torch.optim.AdamW(model.parameters())
    model, optimizer = fabric.setup(model, optimizer)
"""
        ),
        Valid(
            """\
import hydra
from torch.distributed.fsdp import fully_shard

def build(model, cfg):
    fully_shard(model)
    optimizer = hydra.utils.instantiate(cfg.optimizer, params=model.parameters())
    scheduler = hydra.utils.instantiate(cfg.scheduler, optimizer=optimizer)
    return optimizer, scheduler
"""
        ),
        Valid(
            """\
import torch
import lightning as L
from lightning.fabric.strategies import ModelParallelStrategy

def train(parallelize):
    fabric = L.Fabric(strategy=ModelParallelStrategy(parallelize_fn=parallelize))
    with fabric.init_module(empty_init=True):
        model = Transformer()
    model = fabric.setup(model)  # the model alone first
    model.init_weights()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    optimizer = fabric.setup_optimizers(optimizer)
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import torch
import lightning as L

fabric = L.Fabric(accelerator="cpu")
model = torch.nn.Linear(8, 8)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
model = fabric.setup(model)
optimizer = fabric.setup_optimizers(optimizer)
""",
            line=6,
            mentions=("`optimizer`", "`fabric.setup(model)`", "line 7"),
            fixed="""\
import torch
import lightning as L

fabric = L.Fabric(accelerator="cpu")
model = torch.nn.Linear(8, 8)
model = fabric.setup(model)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
optimizer = fabric.setup_optimizers(optimizer)
""",
        ),
        Invalid(
            """\
import torch
from torch.distributed.fsdp import fully_shard

def build(model):
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    groups = [{"params": decay, "weight_decay": 0.1}]
    opt = torch.optim.AdamW(groups, lr=3e-4)
    fully_shard(model)
    return opt
""",
            line=7,
            mentions=("`opt`", "`fully_shard(model)`"),
            fixed="""\
import torch
from torch.distributed.fsdp import fully_shard

def build(model):
    fully_shard(model)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    groups = [{"params": decay, "weight_decay": 0.1}]
    opt = torch.optim.AdamW(groups, lr=3e-4)
    return opt
""",
        ),
        Invalid(
            """\
import torch
from torch.optim import SGD

with torch.device("meta"):
    model = torch.nn.Linear(8, 8)
sgd = SGD(model.parameters(), lr=0.1)
model.to_empty(device="cpu")
""",
            line=6,
            mentions=("`sgd`", "`model.to_empty"),
            fixed="""\
import torch
from torch.optim import SGD

with torch.device("meta"):
    model = torch.nn.Linear(8, 8)
model.to_empty(device="cpu")
sgd = SGD(model.parameters(), lr=0.1)
""",
        ),
        Invalid(
            """\
import torch
import lightning as L

def main():
    fabric = L.Fabric(strategy="fsdp")
    with fabric.init_module(empty_init=True):
        model = torch.nn.Linear(8, 8)
    optimizer = torch.optim.Adam(model.parameters())
    model, optimizer = fabric.setup(model, optimizer)
""",
            line=8,
            mentions=("meta device", "`fabric.setup_module"),
        ),
        Invalid(
            """\
import torch
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

model = torch.nn.Linear(8, 8)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model = FSDP(model)
""",
            line=5,
            mentions=("`FSDP(model)`",),
            fixed="""\
import torch
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

model = torch.nn.Linear(8, 8)
model = FSDP(model)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
""",
        ),
        Invalid(
            """\
import torch
from lightning.fabric import Fabric

f = Fabric(accelerator="cpu")  # any name: the Fabric is known by its construction
net = torch.nn.Linear(8, 8)
opt = torch.optim.Adam(net.parameters())
net = f.setup_module(net)
""",
            line=6,
            mentions=("`f.setup_module(net)`",),
            fixed="""\
import torch
from lightning.fabric import Fabric

f = Fabric(accelerator="cpu")  # any name: the Fabric is known by its construction
net = torch.nn.Linear(8, 8)
net = f.setup_module(net)
opt = torch.optim.Adam(net.parameters())
""",
        ),
        Invalid(
            """\
from torch.distributed.fsdp import fully_shard

def train(model, cfg):
    optimizer = build_optimizer(model, cfg.lr)  # a helper that wraps torch.optim
    for block in model.blocks:
        fully_shard(block)
    fully_shard(model)
""",
            line=4,
            mentions=("`optimizer`", "`fully_shard(model)`"),
            fixed="""\
from torch.distributed.fsdp import fully_shard

def train(model, cfg):
    for block in model.blocks:
        fully_shard(block)
    fully_shard(model)
    optimizer = build_optimizer(model, cfg.lr)  # a helper that wraps torch.optim
""",
        ),
        Invalid(
            """\
import torch
from torch.distributed.fsdp import fully_shard

def build(model):
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10)  # uses it: no fix
    fully_shard(model)
    return optimizer, scheduler
""",
            line=5,
            mentions=("`optimizer`",),
        ),
         Invalid(
            """\
import torch

def configure(fabric, model):
    optimizers = [torch.optim.Adam([p], lr=1e-3) for p in model.parameters()]
    model = fabric.setup_module(model)
    optimizers = fabric.setup_optimizers(*optimizers)
    return model, optimizers
""",
            line=4,
            mentions=("`optimizers`", "`fabric.setup_module(model)`", "fabric.setup_optimizers(*optimizers)"),
            fixed="""\
import torch

def configure(fabric, model):
    model = fabric.setup_module(model)
    optimizers = [torch.optim.Adam([p], lr=1e-3) for p in model.parameters()]
    optimizers = fabric.setup_optimizers(*optimizers)
    return model, optimizers
""",
        ),
        Invalid(
            """\
from torch.optim import SGD

def configure(fabric, model):
    optimizers = [SGD(layer.parameters(), lr=0.1) for layer in model]  # one per layer
    return fabric.setup_module(model), fabric.setup_optimizers(*optimizers)
""",
            line=4,
            mentions=("`optimizers`", "`fabric.setup_module(model)`"),
        ),
        Invalid(
            """\
import torch

def configure(fabric, model):
    optimizers = []
    for block in model.blocks:
        optimizers.append(torch.optim.SGD(block.parameters(), lr=0.1))
    model = fabric.setup_module(model)
    return model, fabric.setup_optimizers(*optimizers)
""",
            line=6,
            mentions=("`optimizers`", "`fabric.setup_module(model)`"),
        ),
        Invalid(
            """\
import torch
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from torch.distributed.tensor.parallel import parallelize_module

def shard(model, mesh, plan):
    optimizer = torch.optim.AdamW(model.parameters())
    model = parallelize_module(model, mesh, plan)  # the same parameters, re-bound
    model = FSDP(model)
    return model, optimizer
""",
            line=6,
            mentions=("`optimizer`", "`FSDP(model)`"),
        ),
        Invalid(
            """\
import torch
from torch.distributed.fsdp import fully_shard

def shard(encoder, decoder):
    models = [encoder, decoder]
    optimizer = torch.optim.AdamW(encoder.parameters())
    enc, dec = models
    fully_shard(enc)
    fully_shard(dec)
    return optimizer
""",
            line=6,
            mentions=("`optimizer`", "`fully_shard(enc)`"),
            fixed="""\
import torch
from torch.distributed.fsdp import fully_shard

def shard(encoder, decoder):
    models = [encoder, decoder]
    enc, dec = models
    fully_shard(enc)
    optimizer = torch.optim.AdamW(encoder.parameters())
    fully_shard(dec)
    return optimizer
""",
        ),
        Invalid(
            """\
import torch
import lightning as L
from lightning.fabric.strategies import FSDPStrategy

def main(devices):
    if devices > 1:
        strategy = FSDPStrategy(state_dict_type="full")
    else:
        strategy = "auto"
    fabric = L.Fabric(devices=devices, strategy=strategy)
    with fabric.init_module(empty_init=(devices > 1)):
        model = torch.nn.Linear(8, 8)
    optimizer = torch.optim.AdamW(model.parameters())
    model, optimizer = fabric.setup(model, optimizer)
""",
            line=13,
            mentions=("meta device", "`devices > 1` is true", "FSDP", "`fabric.setup_module(model)`"),
        ),
        Invalid(
            """\
import torch
import lightning as L

fabric = L.Fabric(strategy="fsdp")  # the module's Fabric, used in the function

def train_fsdp():
    with fabric.init_module(empty_init=True):
        model = torch.nn.Linear(8, 8)
    optimizer = torch.optim.Adam(model.parameters())
    model, optimizer = fabric.setup(model, optimizer)

def train_deepspeed():
    fabric = L.Fabric(strategy="deepspeed_stage_3")
    with fabric.init_module(empty_init=True):
        model = torch.nn.Linear(8, 8)
    optimizer = torch.optim.Adam(model.parameters())
    model, optimizer = fabric.setup(model, optimizer)
""",
            line=9,
            mentions=("meta device",),
        ),
        Invalid(
            """\
import torch
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

def main(model, cfg):
    optimizer = model.configure_optimizers(cfg.weight_decay, cfg.lr, (0.9, 0.95), "cuda")  # nanoGPT
    if cfg.compile:
        model = torch.compile(model)
    model = FSDP(model)
""",
            line=5,
            mentions=("`optimizer`", "`FSDP(model)`"),
        ),
        Invalid(
            """\
import hydra

def setup(fabric, model, cfg):
    optimizer = hydra.utils.instantiate(cfg.optimizer, params=model.parameters())
    model = fabric.setup_module(model)
    return model, fabric.setup_optimizers(optimizer)
""",
            line=4,
            mentions=("`optimizer`", "`fabric.setup_module(model)`"),
            fixed="""\
import hydra

def setup(fabric, model, cfg):
    model = fabric.setup_module(model)
    optimizer = hydra.utils.instantiate(cfg.optimizer, params=model.parameters())
    return model, fabric.setup_optimizers(optimizer)
""",
        ),
        Invalid(
            """\
import torch
import lightning as L
from lightning.fabric.strategies import ModelParallelStrategy

def train(parallelize):
    fabric = L.Fabric(strategy=ModelParallelStrategy(parallelize_fn=parallelize))
    model = Transformer()
    optimizer = torch.optim.AdamW(model.parameters())
    model, optimizer = fabric.setup(model, optimizer)  # the parallelize function replaces the parameters
""",
            line=8,
            mentions=("ModelParallelStrategy", "`fabric.setup_optimizers(optimizer)`"),
        ),
   )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """An optimizer and a set-up call must both be written in the file."""
        optimizer = "optim" in text or any(name.rpartition(".")[2] in text for name in extra_optimizers)
        return optimizer and any(word in text for word in _SETUP_WORDS)

    @classmethod
    def wants(cls, tree: ast.Module, imports: ImportTable) -> bool:
        """The words must be code: a set-up call and something an optimizer is built from."""
        return builds_optimizer_and_sets_up(tree, imports)

    def check(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """Scan each scope (the module, each function) in statement order."""
        yield from _Scan(context, module).scope(module.body)
        for function in (n for n in iter_tree(module) if isinstance(n, cst.FunctionDef)):
            if isinstance(function.body, cst.IndentedBlock):
                yield from _Scan(context, module).scope(function.body.body)


def _calls_in(node: cst.CSTNode) -> list[cst.Call]:
    """The calls of one statement, outermost first, not inside lambdas."""
    return [n for n in iter_tree(node, prune=(cst.Lambda,)) if isinstance(n, cst.Call)]


@dataclass(frozen=True)
class _Meta:
    """The context a model was built under, after which the joint set-up fails."""

    node: cst.Call
    init_module: bool  # ``fabric.init_module(empty_init=...)`` rather than a meta-device context
    flag: str | None = None  # the empty-init flag's source, when it is not the literal True
    strategy: str = "fsdp"  # "fsdp", "fsdp (on some paths)", or "unknown"

    def when(self, receiver: str) -> str:
        """When the joint set-up breaks, if not always."""
        parts = []
        if self.flag is not None:
            parts.append(f"`{self.flag}` is true")
        if self.strategy == "unknown":
            parts.append(f"`{receiver}` uses an FSDP strategy")
        elif self.strategy != "fsdp":
            parts.append(f"`{receiver}`'s strategy is FSDP (it is on some paths)")
        return f" This breaks when {' and '.join(parts)}." if parts else ""


_COMPREHENSIONS = ("ListComp", "SetComp", "GeneratorExp", "DictComp")


class _Scan:
    """The state of one scope while its statements are read in order."""

    def __init__(self, context: FileContext, module: cst.Module) -> None:
        self.context = context
        self.module = module
        self.param_vars: dict[str, str] = {}  # variable -> model whose parameters it holds
        self.alias: dict[str, str] = {}  # another name for a model -> that model's name
        self.part_of: dict[str, str] = {}  # a loop variable over a model's layers -> the model
        self.packed: dict[str, list[str | None]] = {}  # a tuple/list of models -> their names
        self.meta_models: dict[str, _Meta] = {}  # model -> the context it was built under
        self.pending: list[_Optimizer] = []
        self.param_where: dict[str, _Where | None] = {}  # variable -> the statement that built it
        self.where: _Where | None = None  # the statement being read, if a one-statement line

    def scope(self, statements: Sequence[cst.BaseStatement], meta: _Meta | None = None) -> Iterator:
        """Yield findings for a block, descending into compound statements but not into defs."""
        for statement in statements:
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                continue
            if isinstance(statement, cst.SimpleStatementLine):
                self.where = _Where(statements, statement) if len(statement.body) == 1 else None
                for small in statement.body:
                    yield from self.statement(small, meta)
                continue
            self.where = None
            inner_meta = meta
            if isinstance(statement, cst.With):
                for item in statement.items:
                    yield from self.calls(item.item)
                    inner_meta = self._meta_context(item.item) or inner_meta
            if isinstance(statement, cst.For):
                yield from self.calls(statement.iter)
                self._bind_loop(statement.target, statement.iter)
            for block in blocks_of(statement):
                yield from self.scope(block, inner_meta)

    def statement(self, node: cst.BaseSmallStatement, meta: _Meta | None) -> Iterator:
        """Handle one small statement: its calls, then what it binds."""
        yield from self.calls(node)
        if isinstance(node, cst.Expr):
            self._appended(node.value)
        if not isinstance(node, (cst.Assign, cst.AnnAssign)) or node.value is None:
            return
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        value = node.value
        names = [n for t in targets for n in _target_names(t)]
        optimizer_model = self._optimizer_model(value)
        keeps = self._is_setup_value(value)
        for name in names:
            self.pending = [o for o in self.pending if o.model != name or keeps or _wraps(value, name)]
            self.alias.pop(name, None)
            self.part_of.pop(name, None)
            self.packed.pop(name, None)
            if meta is not None:
                self.meta_models[name] = meta
            model = self._params_model(value)
            if model is not None:
                self.param_vars[name] = model
                self.param_where[name] = self.where
        for target in targets:
            self._bind_aliases(target, value)
        if optimizer_model is not None and len(names) == 1:
            many = isinstance(value, (cst.List, cst.Tuple)) or type(value).__name__ in _COMPREHENSIONS
            self.pending.append(_Optimizer(names[0], optimizer_model, value, self.where, many))

    def calls(self, node: cst.CSTNode) -> Iterator:
        """Yield findings for the set-up calls inside ``node``."""
        for call in _calls_in(node):
            setup = self._setup(call)
            if setup is not None:
                yield from self._apply(setup)

    @property
    def bindings(self) -> Bindings:
        """The file's bindings, read only when a question needs them (most files never ask)."""
        return bindings_of(self.module)

    # -- names for models ------------------------------------------------------------------
    def _model(self, expr: cst.BaseExpression, parts: bool = True) -> str | None:
        """The model an expression names: its root, through the aliases of this scope (and, with
        ``parts``, through loop variables that walk a model's layers)."""
        name = model_root(expr)
        for _ in range(8):
            if name in self.alias:
                name = self.alias[name]
            elif parts and name in self.part_of:
                name = self.part_of[name]
            else:
                break
        return name

    def _bind_aliases(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        """``m = model``, ``enc, dec = models`` (packed earlier), ``pair = (model, head)``, ``m = models[0]``."""
        if isinstance(target, (cst.Tuple, cst.List)):
            roots = self._element_models(value)
            if roots is None and isinstance(value, cst.Name):
                roots = self.packed.get(value.value)
            if roots is not None and len(roots) == len(target.elements):
                for element, root in zip(target.elements, roots):
                    self._alias(dotted(element.value), root)
            return
        name = dotted(target)
        roots = self._element_models(value)
        if name is None:
            return
        if roots is not None:
            self.packed[name] = roots
        elif _is_first_item(value):
            self._alias(name, (self.packed.get(value.value.value) or [None])[0])  # type: ignore[attr-defined]
        elif _names_whole(value):
            self._alias(name, self._model(value, parts=False))
        elif isinstance(value, cst.Attribute):  # m = model.encoder: a part of the model
            root = self._model(value)
            if root is not None and root != name:
                self.part_of[name] = root

    def _alias(self, name: str | None, model: str | None) -> None:
        if name is not None and model is not None and model != name:
            self.alias[name] = model

    def _element_models(self, value: cst.BaseExpression) -> list[str | None] | None:
        """The models a tuple or list literal packs, element by element (``None``: not a model name)."""
        if not isinstance(value, (cst.Tuple, cst.List)) or any(isinstance(e, cst.StarredElement) for e in value.elements):
            return None
        return [self._model(e.value, parts=False) if _names_whole(e.value) else None for e in value.elements]

    def _bind_loop(self, target: cst.BaseExpression, iterable: cst.BaseExpression) -> None:
        """``for layer in model.layers``: the layer is part of the model; ``for p in model.parameters()``: a
        parameter of it."""
        name = dotted(target)
        if name is None:
            return
        self.part_of.pop(name, None)
        self.param_vars.pop(name, None)
        holder = self._params_model(iterable)
        if holder is not None:
            self.param_vars[name] = holder
            self.param_where[name] = None
            return
        inner = iterable.func.value if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute) else iterable
        if isinstance(inner, (cst.Name, cst.Attribute)):
            root = self._model(inner)
            if root is not None and root != name:
                self.part_of[name] = root

    # -- what a call is --------------------------------------------------------------------
    def _optimizer_model(self, value: cst.BaseExpression) -> str | None:
        if isinstance(value, (cst.Tuple, cst.List)):
            return next((m for e in value.elements if (m := self._optimizer_model(e.value)) is not None), None)
        if type(value).__name__ in _COMPREHENSIONS:
            return self._comprehension_model(value)
        if not isinstance(value, cst.Call):
            return None
        if not known.is_optimizer(self.context.imports.qualify(value.func), self.context.extra_optimizers):
            return self._optimizer_factory_model(value)
        params = [a.value for a in value.args if a.keyword is None][:1]
        params += [a.value for a in value.args if a.keyword is not None and a.keyword.value == "params"]
        return self._params_model(params[0]) if params else None

    def _comprehension_model(self, value: cst.BaseExpression) -> str | None:
        """``[Adam([p]) for p in model.parameters()]``, ``[SGD(layer.parameters()) for layer in model]``."""
        element = value.value if isinstance(value, cst.DictComp) else value.elt  # type: ignore[attr-defined]
        saved = (dict(self.part_of), dict(self.param_vars), dict(self.param_where))
        clause = value.for_in  # type: ignore[attr-defined]
        while clause is not None:
            self._bind_loop(clause.target, clause.iter)
            clause = clause.inner_for_in
        try:
            return self._optimizer_model(element)
        finally:
            self.part_of, self.param_vars, self.param_where = saved

    def _appended(self, value: cst.BaseExpression) -> None:
        """``optimizers.append(torch.optim.SGD(layer.parameters()))``: the list holds an optimizer."""
        if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.args):
            return
        target = value.func.value
        if value.func.attr.value not in ("append", "extend") or not isinstance(target, cst.Name):
            return
        model = self._optimizer_model(value.args[0].value)
        if model is not None and all(o.var != target.value for o in self.pending):
            self.pending.append(_Optimizer(target.value, model, value.args[0].value, many=True))  # type: ignore[arg-type]

    def _optimizer_factory_model(self, call: cst.Call) -> str | None:
        """``model.configure_optimizers()``, ``build_optimizer(model, cfg)``,
        ``hydra.utils.instantiate(cfg.optimizer, params=model.parameters())``: the model they take."""
        func = call.func
        callee = func.attr.value if isinstance(func, cst.Attribute) else dotted(func) or ""
        if callee.endswith("setup_optimizers"):
            return None
        if "optim" not in callee.lower():
            given = [a.value for a in call.args if a.keyword is not None and a.keyword.value == "params"]
            if callee.rpartition(".")[2] == "instantiate":
                given += [a.value for a in call.args if a.keyword is None][1:]
            return next((m for g in given if (m := self._params_model(g)) is not None), None)
        if isinstance(func, cst.Attribute) and model_root(func.value) not in (None, "self", "torch", "optim"):
            return self._model(func.value)
        for arg in call.args:
            model = self._params_model(arg.value) or (
                self._model(arg.value) if isinstance(arg.value, (cst.Name, cst.Attribute)) else None
            )
            if model is not None:
                return model
        return None

    def _params_model(self, expr: cst.BaseExpression) -> str | None:
        """The model whose parameters ``expr`` holds, if it visibly holds some."""
        for node in iter_tree(expr):
            if isinstance(node, cst.Call):
                func = node.func
                if isinstance(func, cst.Attribute) and func.attr.value in ("parameters", "named_parameters"):
                    model = self._model(func.value)
                    if model is not None:
                        return model
            elif isinstance(node, cst.Name) and node.value in self.param_vars:
                return self.param_vars[node.value]
        return None

    def _is_fabric(self, receiver: cst.BaseExpression) -> bool:
        name = dotted(receiver)
        if name is not None and "fabric" in name.rpartition(".")[2].lower():
            return True
        return any(
            isinstance(value, cst.Call) and self.context.imports.qualify(value.func) in known.FABRIC_CLASSES
            for value in self.bindings.resolved(receiver)
        )

    def _meta_context(self, expr: cst.BaseExpression) -> _Meta | None:
        """Contexts after which Lightning refuses the joint set-up: the meta device always;
        ``fabric.init_module(empty_init=...)`` when the flag may be true and the strategy FSDP."""
        if not isinstance(expr, cst.Call):
            return None
        func = expr.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "init_module"):
            return _Meta(expr, False) if empty_init_kind(expr, self.context.imports) == "meta" else None
        flag = next((a.value for a in expr.args if a.keyword is None or a.keyword.value == "empty_init"), None)
        if flag is None or (isinstance(flag, cst.Name) and flag.value in ("False", "None")):
            return None
        kinds = strategies(func.value, known.FABRIC_CLASSES, self.context.imports, self.bindings)
        if "modelparallel" in kinds:
            return None  # judged at the joint set-up itself, meta device or not
        if "fsdp" not in kinds and "unknown" not in kinds:
            return None  # DeepSpeed and DDP accept the joint set-up after init_module
        strategy = "fsdp" if kinds == {"fsdp"} else "fsdp (on some paths)" if "fsdp" in kinds else "unknown"
        literal = isinstance(flag, cst.Name) and flag.value == "True"
        shown = " ".join(source_of(flag.with_changes(lpar=(), rpar=())).split())
        return _Meta(expr, True, None if literal else shown, strategy)

    def _is_setup_value(self, value: cst.BaseExpression) -> bool:
        return isinstance(value, cst.Call) and self._setup(value) is not None

    def _setup(self, call: cst.Call) -> _Setup | None:
        positional = [a.value for a in call.args if a.keyword is None]
        qualified = self.context.imports.qualify(call.func)
        func = call.func
        if qualified in known.FULLY_SHARD or qualified in known.FSDP_WRAPPERS:
            model = self._model(positional[0], parts=False) if positional else None
            return _Setup(model, call, "replace") if model else None
        if not isinstance(func, cst.Attribute):
            return None
        method = func.attr.value
        if method == "to_empty":
            model = self._model(func.value, parts=False)
            return _Setup(model, call, "replace") if model else None
        if method not in ("setup", "setup_module") or not positional or not self._is_fabric(func.value):
            return None
        model = self._model(positional[0], parts=False)
        if model is None:
            return None
        if method == "setup_module":
            return _Setup(model, call, "separate")
        optimizers = tuple(name for p in positional[1:] if (name := dotted(p)) is not None)
        return _Setup(model, call, "joint" if optimizers else "separate", optimizers)

    def _model_parallel(self, call: cst.Call) -> bool:
        receiver = call.func.value  # type: ignore[attr-defined]
        return "modelparallel" in strategies(receiver, known.FABRIC_CLASSES, self.context.imports, self.bindings)

    def _all_deepspeed(self, call: cst.Call) -> bool:
        receiver = call.func.value  # type: ignore[attr-defined]
        return strategies(receiver, known.FABRIC_CLASSES, self.context.imports, self.bindings) == {"deepspeed"}

    # -- the verdict ---------------------------------------------------------------------
    def _apply(self, setup: _Setup) -> Iterator[tuple[cst.CSTNode, str]]:
        call = _short(setup.node)
        keep: list[_Optimizer] = []
        for optimizer in self.pending:
            if optimizer.model != setup.model:
                keep.append(optimizer)
                continue
            # positions are resolved for the whole file on first use: only once there is a finding
            line = self.context.position(setup.node)[0]
            if setup.kind == "joint" and optimizer.var in setup.joint_optimizers:
                if self._model_parallel(setup.node):
                    yield optimizer.node, (
                        f"optimizer `{optimizer.var}` is created over `{setup.model}`'s parameters, and `{call}` on "
                        f"line {line} uses a ModelParallelStrategy: its parallelize function replaces those "
                        "parameters and the joint set-up does not rewire the optimizer, so it would update stale "
                        f"tensors. Set up separately: `{setup.model} = fabric.setup({setup.model})` first, then "
                        f"create the optimizer, then `fabric.setup_optimizers({optimizer.passed()})`."
                    )
                    continue
                meta = self.meta_models.get(setup.model)
                if meta is not None and (meta.init_module or not self._all_deepspeed(setup.node)):
                    receiver = source_of(setup.node.func.value)  # type: ignore[attr-defined]
                    meta_line = self.context.position(meta.node)[0]
                    yield optimizer.node, (
                        f"optimizer `{optimizer.var}` is created over `{setup.model}`'s parameters while they "
                        f"are still on the meta device (built under `{_short(meta.node)}` on line {meta_line}); "
                        f"`{call}` on line {line} cannot materialize them.{meta.when(receiver)} Set up "
                        f"separately: `{receiver}.setup_module({setup.model})` first, then create the optimizer, "
                        f"then `{receiver}.setup_optimizers({optimizer.passed()})`."
                    )
                continue
            verb = "replaces" if setup.kind == "replace" else "wraps and may re-create"
            fix = _MoveAfterSetup(self, optimizer, call).fix()
            yield optimizer.node, (
                f"optimizer `{optimizer.var}` is created over `{setup.model}`'s parameters before `{call}` on "
                f"line {line} {verb} them, so it would update stale tensors. Create the optimizer after "
                f"`{call}`" + (
                    f" and pass it to `fabric.setup_optimizers({optimizer.passed()})`, or set both up at once with "
                    f"`fabric.setup({setup.model}, {optimizer.passed()})`."
                    if setup.kind == "separate"
                    else "."
                )
            ), fix
        self.pending = keep


def _wraps(value: cst.BaseExpression, name: str) -> bool:
    """``model = torch.compile(model)``, ``model = parallelize_module(model, mesh, plan)``,
    ``model = model.to(device)``: the same parameters under a wrapper (not ``build(model.config)``)."""
    if not isinstance(value, cst.Call):
        return False
    func = value.func
    if isinstance(func, cst.Attribute) and dotted(func.value) == name:
        return True
    return any(dotted(a.value) == name or _wraps(a.value, name) for a in value.args)


def _names_whole(value: cst.BaseExpression) -> bool:
    """``model`` or ``self.model``: a name for a whole model (``model.encoder`` is a part)."""
    name = dotted(value) if isinstance(value, (cst.Name, cst.Attribute)) else None
    return name is not None and model_root(value) == name


def _is_first_item(value: cst.BaseExpression) -> bool:
    """``models[0]``."""
    if not isinstance(value, cst.Subscript) or not isinstance(value.value, cst.Name) or len(value.slice) != 1:
        return False
    index = value.slice[0].slice
    return isinstance(index, cst.Index) and isinstance(index.value, cst.Integer) and index.value.value == "0"


class _MoveAfterSetup:
    """The fix: move the optimizer's statement, and the statements building the parameter lists it
    takes, to just after the set-up statement. Safe, and offered only when the move cannot change
    what any other statement sees: all in one block, nothing in between reads what they bind or
    rebinds what they read."""

    def __init__(self, scan: _Scan, optimizer: _Optimizer, call: str) -> None:
        self.scan, self.optimizer, self.call = scan, optimizer, call
        self.setup = scan.where

    def fix(self) -> Fix | None:
        moved = self._moved()
        source, span = self.scan.context.source, self.scan.context.span
        if moved is None or self.setup is None or source is None or span is None:
            return None
        first, setup_at = moved[0].index(), self.setup.index()
        moved_statements = {id(where.statement) for where in moved}
        bound = {self.optimizer.var, *(var for var, w in self.scan.param_where.items() if w in moved)}
        reads = {name for where in moved for name in _names(where.statement)} - bound
        for statement in self.setup.block[first + 1 : setup_at + 1]:
            if id(statement) in moved_statements:
                continue
            if _names(statement) & bound:
                return None  # something in between uses the optimizer or its parameter list
            if statement is not self.setup.statement and _bound_names(statement) & reads:
                return None  # something in between changes what the optimizer is built from
        lines = [span(where.statement) for where in moved]
        edits = [source.delete_lines(line[0], line[2]) for line in lines]
        text = "".join(source.lines_text(line[0], line[2]) for line in lines)
        edits.append(source.insert_lines(span(self.setup.statement)[2] + 1, text))
        return Fix(f"Move `{self.optimizer.var} = ...` after `{self.call}`", "safe", tuple(edits))

    def _moved(self) -> list[_Where] | None:
        """The optimizer's statement and those building its parameter lists, in block order."""
        where = self.optimizer.where
        if where is None or self.setup is None or where.block is not self.setup.block:
            return None
        moved, work = [where], [where]
        while work:
            for name in _names(work.pop().statement) & set(self.scan.param_where):
                dependency = self.scan.param_where[name]
                if dependency is None or dependency.block is not where.block:
                    return None
                if dependency not in moved:
                    moved.append(dependency)
                    work.append(dependency)
        moved.sort(key=_Where.index)
        return moved if moved[-1].index() < self.setup.index() else None


def _names(node: cst.CSTNode) -> set[str]:
    """Every plain name a statement mentions."""
    return {n.value for n in iter_tree(node) if isinstance(n, cst.Name)}


def _bound_names(statement: cst.BaseStatement) -> set[str]:
    """The names a statement binds, anywhere inside it (the roots of dotted targets included)."""
    bound: set[str] = set()
    for node in iter_tree(statement):
        targets: list[cst.BaseExpression] = []
        if isinstance(node, cst.Assign):
            targets = [t.target for t in node.targets]
        elif isinstance(node, (cst.AnnAssign, cst.AugAssign, cst.For, cst.NamedExpr)):
            targets = [node.target]
        elif isinstance(node, (cst.AsName, cst.Global, cst.Nonlocal, cst.FunctionDef, cst.ClassDef)):
            bound |= _names(node)
        elif isinstance(node, cst.Import):
            bound |= {(dotted(a.name) or "").partition(".")[0] for a in node.names if a.asname is None}
        bound.update(n.partition(".")[0] for t in targets for n in _target_names(t))
    return bound


def _target_names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _target_names(e.value)]
    name = dotted(target)
    return [name] if name is not None else []


def _short(node: cst.CSTNode) -> str:
    text = " ".join(source_of(node).split())
    return text if len(text) <= 60 else text[:57] + "..."
