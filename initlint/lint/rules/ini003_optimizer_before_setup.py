"""INI003: an optimizer is created over a model's parameters before a set-up call replaces them."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from initlint.lint import known
from initlint.lint.lazy import cst
from initlint.lint.names import dotted
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Valid
from initlint.lint.scopes import bound_to, empty_init_kind, model_root, strategy_of
from initlint.lint.summary import Fix
from initlint.lint.walk import blocks_of, iter_tree, source_of

__all__ = ["OptimizerBeforeSetup"]


_SETUP_WORDS = re.compile(r"\.setup(?:_module)?\(|fully_shard|FullyShardedDataParallel|FSDP\(|to_empty\(")


@dataclass
class _Optimizer:
    var: str
    model: str
    node: cst.Call
    where: _Where | None = None  # its statement, if it stands alone on its lines


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
        "Checks for an optimizer created over a model's parameters (`model.parameters()`, "
        "`named_parameters()`, or parameter groups built from them) before, in the same scope, the model "
        "goes through a call that replaces or re-wraps those parameters: `fully_shard(model)`, "
        "`FSDP(model)`, `model.to_empty(...)`, `fabric.setup_module(model)`, or `fabric.setup(model)` "
        "without that optimizer. The joint `fabric.setup(model, optimizer)` is fine, unless the model was "
        "built on the meta device in the same scope."
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
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """An optimizer and a set-up call must both be written in the file."""
        optimizer = "optim" in text or any(name.rpartition(".")[2] in text for name in extra_optimizers)
        return optimizer and _SETUP_WORDS.search(text) is not None

    def check(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """Scan each scope (the module, each function) in statement order."""
        bound = bound_to(module, known.FABRIC_CLASSES, context.imports)
        deepspeed = any(strategy_of(call, context.imports) == "deepspeed" for call in bound.values())
        fabrics = frozenset(bound)
        scan = _Scan(context, deepspeed, fabrics)
        yield from scan.scope(module.body)
        for function in (n for n in iter_tree(module) if isinstance(n, cst.FunctionDef)):
            if isinstance(function.body, cst.IndentedBlock):
                yield from _Scan(context, deepspeed, fabrics).scope(function.body.body)


def _calls_in(node: cst.CSTNode) -> list[cst.Call]:
    """The calls of one statement, outermost first, not inside lambdas."""
    return [n for n in iter_tree(node, prune=(cst.Lambda,)) if isinstance(n, cst.Call)]


class _Scan:
    """The state of one scope while its statements are read in order."""

    def __init__(self, context: FileContext, deepspeed: bool, fabrics: frozenset[str] = frozenset()) -> None:
        self.context = context
        self.deepspeed = deepspeed
        self.fabrics = fabrics
        self.param_vars: dict[str, str] = {}  # variable -> model whose parameters it holds
        self.meta_models: dict[str, cst.CSTNode] = {}  # model -> the context it was built under
        self.pending: list[_Optimizer] = []
        self.param_where: dict[str, _Where | None] = {}  # variable -> the statement that built it
        self.where: _Where | None = None  # the statement being read, if a one-statement line

    def scope(self, statements: Sequence[cst.BaseStatement], meta: cst.CSTNode | None = None) -> Iterator:
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
                    if self._is_meta_context(item.item):
                        inner_meta = item.item
            for block in blocks_of(statement):
                yield from self.scope(block, inner_meta)

    def statement(self, node: cst.BaseSmallStatement, meta: cst.CSTNode | None) -> Iterator:
        """Handle one small statement: its calls, then what it binds."""
        yield from self.calls(node)
        if not isinstance(node, (cst.Assign, cst.AnnAssign)) or node.value is None:
            return
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        value = node.value
        names = [n for t in targets for n in _target_names(t)]
        optimizer_model = self._optimizer_model(value)
        for name in names:
            self.pending = [o for o in self.pending if o.model != name or self._is_setup_value(value)]
            if meta is not None:
                self.meta_models[name] = meta
            model = self._params_model(value)
            if model is not None:
                self.param_vars[name] = model
                self.param_where[name] = self.where
        if optimizer_model is not None and len(names) == 1 and isinstance(value, cst.Call):
            self.pending.append(_Optimizer(names[0], optimizer_model, value, self.where))

    def calls(self, node: cst.CSTNode) -> Iterator:
        """Yield findings for the set-up calls inside ``node``."""
        for call in _calls_in(node):
            setup = self._setup(call)
            if setup is not None:
                yield from self._apply(setup)

    # -- what a call is --------------------------------------------------------------------
    def _optimizer_model(self, value: cst.BaseExpression) -> str | None:
        if not isinstance(value, cst.Call):
            return None
        if not known.is_optimizer(self.context.imports.qualify(value.func), self.context.extra_optimizers):
            return self._optimizer_factory_model(value)
        params = [a.value for a in value.args if a.keyword is None][:1]
        params += [a.value for a in value.args if a.keyword is not None and a.keyword.value == "params"]
        return self._params_model(params[0]) if params else None

    def _optimizer_factory_model(self, call: cst.Call) -> str | None:
        """``model.configure_optimizers()``, ``build_optimizer(model, cfg)``: the model they take."""
        func = call.func
        callee = func.attr.value if isinstance(func, cst.Attribute) else dotted(func) or ""
        if "optim" not in callee.lower() or callee.endswith("setup_optimizers"):
            return None
        if isinstance(func, cst.Attribute) and model_root(func.value) not in (None, "self", "torch", "optim"):
            return model_root(func.value)
        for arg in call.args:
            model = self._params_model(arg.value) or (
                model_root(arg.value) if isinstance(arg.value, (cst.Name, cst.Attribute)) else None
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
                    model = model_root(func.value)
                    if model is not None:
                        return model
            elif isinstance(node, cst.Name) and node.value in self.param_vars:
                return self.param_vars[node.value]
        return None

    def _is_fabric(self, receiver: cst.BaseExpression) -> bool:
        name = dotted(receiver)
        return name is not None and (name in self.fabrics or "fabric" in name.rpartition(".")[2].lower())

    def _is_meta_context(self, expr: cst.BaseExpression) -> bool:
        """Contexts after which Lightning refuses the joint set-up: meta, or ``init_module(empty_init=True)``."""
        kind = empty_init_kind(expr, self.context.imports)
        is_init_module = isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and (
            expr.func.attr.value == "init_module"
        )
        return kind == "meta" or (kind is not None and is_init_module)

    def _is_setup_value(self, value: cst.BaseExpression) -> bool:
        return isinstance(value, cst.Call) and self._setup(value) is not None

    def _setup(self, call: cst.Call) -> _Setup | None:
        positional = [a.value for a in call.args if a.keyword is None]
        qualified = self.context.imports.qualify(call.func)
        func = call.func
        if qualified in known.FULLY_SHARD or qualified in known.FSDP_WRAPPERS:
            model = model_root(positional[0]) if positional else None
            return _Setup(model, call, "replace") if model else None
        if not isinstance(func, cst.Attribute):
            return None
        method = func.attr.value
        if method == "to_empty":
            model = model_root(func.value)
            return _Setup(model, call, "replace") if model else None
        if method not in ("setup", "setup_module") or not positional or not self._is_fabric(func.value):
            return None
        model = model_root(positional[0])
        if model is None:
            return None
        if method == "setup_module":
            return _Setup(model, call, "separate")
        optimizers = tuple(name for p in positional[1:] if (name := dotted(p)) is not None)
        return _Setup(model, call, "joint" if optimizers else "separate", optimizers)

    # -- the verdict ---------------------------------------------------------------------
    def _apply(self, setup: _Setup) -> Iterator[tuple[cst.CSTNode, str]]:
        line = self.context.position(setup.node)[0]
        call = _short(setup.node)
        keep: list[_Optimizer] = []
        for optimizer in self.pending:
            if optimizer.model != setup.model:
                keep.append(optimizer)
                continue
            if setup.kind == "joint" and optimizer.var in setup.joint_optimizers:
                meta = self.meta_models.get(setup.model)
                if meta is not None and not self.deepspeed:
                    meta_line = self.context.position(meta)[0]
                    yield optimizer.node, (
                        f"optimizer `{optimizer.var}` is created over `{setup.model}`'s parameters while they "
                        f"are still on the meta device (built under `{_short(meta)}` on line {meta_line}); "
                        f"`{call}` on line {line} cannot materialize them. Set up separately: "
                        f"`fabric.setup_module({setup.model})` first, then create the optimizer, then "
                        f"`fabric.setup_optimizers({optimizer.var})`."
                    )
                continue
            verb = "replaces" if setup.kind == "replace" else "wraps and may re-create"
            fix = _MoveAfterSetup(self, optimizer, call).fix()
            yield optimizer.node, (
                f"optimizer `{optimizer.var}` is created over `{setup.model}`'s parameters before `{call}` on "
                f"line {line} {verb} them, so it would update stale tensors. Create the optimizer after "
                f"`{call}`" + (
                    f" and pass it to `fabric.setup_optimizers({optimizer.var})`, or set both up at once with "
                    f"`fabric.setup({setup.model}, {optimizer.var})`."
                    if setup.kind == "separate"
                    else "."
                )
            ), fix
        self.pending = keep


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
