"""INI001: a module creates parameters or buffers but has no ``reset_parameters()``."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from initlint.lint.index import ClassView
from initlint.lint.names import ImportTable
from initlint.lint.rules.base import ClassRule, Invalid, Valid
from initlint.lint.rules.ini001_fix import reset_parameters_fix
from initlint.lint.source import Source
from initlint.lint.summary import ClassSummary, Fix

__all__ = ["ModuleWithoutResetParameters"]


class ModuleWithoutResetParameters(ClassRule):
    """Flags ``nn.Module`` classes that create tensors but cannot re-initialize them."""

    code = "INI001"
    name = "module-without-reset-parameters"
    what_it_does = (
        "Checks for `nn.Module` subclasses that create parameters or buffers themselves "
        "(`nn.Parameter(...)`, `register_parameter`, `register_buffer`, `nn.Buffer`, `nn.ParameterList`) "
        "but neither define nor inherit `reset_parameters()`."
    )
    why_bad = (
        "Empty-weight initialization (`fabric.init_module(empty_init=True)`, `trainer.init_module()`, "
        "`torch.device(\"meta\")` + `to_empty()`, FSDP's meta-device recipe, accelerate's "
        "`init_empty_weights()`) builds the module without running its initializers. Sharded strategies "
        "then call `reset_parameters()` on every module to give the weights their values; a module "
        "without one keeps uninitialized memory (or meta tensors), and training goes NaN hours later."
    )
    fix_safety = (
        "Unsafe. The fix makes `__init__` allocate each tensor with `torch.empty` and call a new "
        "`reset_parameters()` that gives it the values its initializer gave it (`torch.zeros` -> `zero_()`, "
        "`torch.ones` -> `fill_(1)`, `torch.full` -> `fill_(v)`, `torch.randn` -> `normal_()`, `torch.rand` -> "
        "`uniform_()`, a scaled `randn`/`rand`/`ones` with the scale, `torch.empty(...).m_(...)` -> `m_(...)`; "
        "`nn.init` calls and in-place calls on the tensor move as they are): the same distribution, but "
        "random values are drawn in a different order, so seeded runs change. No fix when an initializer "
        "is anything else (`torch.arange`, a computed tensor), when a moved expression reads a local of "
        "`__init__`, or when anything else in `__init__` touches the tensors."
    )
    references = (
        "https://lightning.ai/docs/fabric/stable/advanced/model_init.html",
        "https://pytorch.org/docs/stable/distributed.fsdp.fully_shard.html",
        "https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.to_empty",
    )

    VALID = (
        Valid(
            """\
import torch
from torch import nn

class BinaryCrossEntropy(nn.Module):
    def __init__(self, pos_weight: torch.Tensor | float | None = None) -> None:
        super().__init__()
        if pos_weight is not None and not isinstance(pos_weight, torch.Tensor):
            pos_weight = torch.tensor(pos_weight)  # made here only on this path: else the caller's tensor
        self.register_buffer("pos_weight", pos_weight)
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class ScaledLinear(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(features, features))
        self.scale = nn.Parameter(torch.empty(features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.weight)
        nn.init.ones_(self.scale)
"""
        ),
        Valid(
            """\
from torch import nn

class Block(nn.Module):  # only holds submodules: they reset themselves
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class Gate(nn.Module):
    def __init__(self, bias: bool) -> None:
        super().__init__()
        self.register_parameter("bias", None)  # registering None creates nothing
"""
        ),
        Valid(
            """\
import torch

class NotAModule:  # a Parameter on a plain object is not a module's tensor
    def __init__(self) -> None:
        self.weight = torch.nn.Parameter(torch.zeros(3))
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import torch
from torch import nn

class Mix(nn.Module):  # torch_geometric's LightGCN
    def __init__(self, layers: int, alpha: float | torch.Tensor | None = None) -> None:
        super().__init__()
        if alpha is None:
            alpha = 1.0 / (layers + 1)
        if not isinstance(alpha, torch.Tensor):
            alpha = torch.tensor([alpha] * (layers + 1))  # with the default, the buffer is made here
        self.register_buffer("alpha", alpha)
""",
            line=4,
            mentions=('buffer `alpha`',),
        ),
        Invalid(
            """\
import torch

Base = torch.nn.Module  # a base named through a module-level alias

class Scale(Base):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.empty(dim))
""",
            line=5,
            mentions=('parameter `scale`',),
        ),
        Invalid(
            """\
import torch
from torch import nn

class Experts(nn.Module):
    def __init__(self, names: list[str], dim: int) -> None:
        super().__init__()
        self.weights = nn.ParameterDict()  # filled below, one parameter per name
        for name in names:
            self.weights[name] = nn.Parameter(torch.empty(dim, dim))
""",
            line=4,
            mentions=("parameter `weights`",),
        ),
        Invalid(
            """\
import torch
from torch import nn

def make_block(features: int) -> type[nn.Module]:
    class LocalBlock(nn.Module):  # a class a factory returns is checked like any other
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(features, features))

    return LocalBlock
""",
            line=5,
            mentions=("`make_block.<locals>.LocalBlock`", "`weight`"),
            build="make_block(16)()",
            fixed="""\
import torch
from torch import nn

def make_block(features: int) -> type[nn.Module]:
    class LocalBlock(nn.Module):  # a class a factory returns is checked like any other
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.empty(features, features))
            self.reset_parameters()

        def reset_parameters(self) -> None:
            with torch.no_grad():
                self.weight.normal_()

    return LocalBlock
""",
        ),
        Invalid(
            """\
import torch
from torch import nn

class ScaledLinear(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(features, features))
        self.scale = nn.Parameter(torch.ones(features))
""",
            line=4,
            mentions=("`weight`", "`scale`"),
            build="ScaledLinear(32)",
            fixed="""\
import torch
from torch import nn

class ScaledLinear(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(features, features))
        self.scale = nn.Parameter(torch.empty(features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.weight.normal_()
            self.scale.fill_(1)
""",
        ),
        Invalid(
            """\
import torch
import torch.nn as tnn

class RotaryEmbedding(tnn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
""",
            line=4,
            mentions=("`inv_freq` (non-persistent",),
        ),
        Invalid(
            """\
import torch
from torch.nn import Module, Parameter

class Bias(Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        setattr(self, "bias", Parameter(torch.zeros(n)))
""",
            line=4,
            mentions=("`bias`",),
        ),
        Invalid(
            """\
import torch
import lightning as L

class LitModel(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.temperature = torch.nn.Parameter(torch.tensor(0.07))
""",
            line=4,
            mentions=("`temperature`",),
        ),
        Invalid(
            """\
import torch
from torch import nn

class Prompts(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.prompts = nn.ParameterList([nn.Parameter(torch.randn(4, 8)) for _ in range(n)])
        self.register_parameter("gain", nn.Parameter(torch.ones(1)))
        self.step = nn.Buffer(torch.zeros((), dtype=torch.long))
""",
            line=4,
            mentions=("`prompts`", "`gain`", "`step`"),
        ),
        Invalid(
            """\
import torch
from torch import nn

class Attention(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.in_proj = nn.Parameter(torch.empty(3 * dim, dim))
        self._reset_parameters()

    def _reset_parameters(self) -> None:  # a private name: FSDP will not call it
        nn.init.xavier_uniform_(self.in_proj)
""",
            line=4,
            mentions=("`in_proj`", "`_reset_parameters()`"),
        ),
        Invalid(
            """\
import math

import torch
from torch import nn

INIT_STD = 0.02


class Adapter(nn.Module):
    def __init__(self, dim: int, rank: int = 4) -> None:
        super().__init__()
        self.down = nn.Parameter(torch.empty(rank, dim))
        nn.init.kaiming_uniform_(self.down, a=math.sqrt(5))
        self.up = nn.Parameter(torch.randn(dim, rank) * INIT_STD)
        self.register_buffer("scale", torch.full((1,), 2.0))
        self.steps = nn.Buffer(torch.zeros((), dtype=torch.long))
""",
            line=9,
            mentions=("`down`", "`up`", "`scale`", "`steps`"),
            build="Adapter(64)",
            fixed="""\
import math

import torch
from torch import nn

INIT_STD = 0.02


class Adapter(nn.Module):
    def __init__(self, dim: int, rank: int = 4) -> None:
        super().__init__()
        self.down = nn.Parameter(torch.empty(rank, dim))
        self.up = nn.Parameter(torch.empty(dim, rank))
        self.register_buffer("scale", torch.empty((1,)))
        self.steps = nn.Buffer(torch.empty((), dtype=torch.long))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            nn.init.kaiming_uniform_(self.down, a=math.sqrt(5))
            self.up.normal_(std=INIT_STD)
            self.scale.fill_(2.0)
            self.steps.zero_()
""",
        ),
    )

    @classmethod
    def prepare_fix(
        cls, node: ast.ClassDef, summary: ClassSummary, source: Source, imports: ImportTable
    ) -> Fix | None:
        """Write the missing ``reset_parameters()`` from the initializers in ``__init__``."""
        return reset_parameters_fix(node, summary, source, imports)

    def check(self, view: ClassView) -> Iterator[str]:
        """Report a module that creates tensors and has no init method anywhere in its ancestry."""
        if not view.tensors or not view.is_module or not view.complete or view.init_method() is not None:
            return
        verdict = view.protocol
        if verdict is not None and (verdict.protocol == "hugging-face" or verdict.covered(view.tensors)):
            return  # INI004 judges Hugging Face classes; INI002 the rest of a partly covered class
        methods = view.index.init_methods or ("reset_parameters",)
        hint = ""
        if "reset_parameters" in methods and any("_reset_parameters" in getattr(c, "methods", {}) for c in view.mro):
            hint = " (it has `_reset_parameters()`, which sharded strategies never call: rename it)"
        named = " or ".join(f"`{method}()`" for method in methods)
        call = ", and call it from `__init__`" if methods[0] == "reset_parameters" else ""
        yield (
            f"`{view.cls.name}` creates {view.describe()} but defines no {named}{hint}; under empty or "
            f"meta-device init these stay uninitialized. Add {_article(methods[0])} `{methods[0]}()` that "
            f"initializes them{call}."
        )


def _article(word: str) -> str:
    return "an" if word.lstrip("_")[:1] in ("a", "e", "i", "o", "u") else "a"
