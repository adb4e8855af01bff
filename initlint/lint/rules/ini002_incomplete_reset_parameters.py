"""INI002: ``reset_parameters()`` leaves a tensor of the class uninitialized."""

from __future__ import annotations

from collections.abc import Iterator

from initlint.lint.index import ClassView
from initlint.lint.rules.base import ClassRule, Invalid, Valid
from initlint.lint.summary import TensorDef

__all__ = ["IncompleteResetParameters"]


class IncompleteResetParameters(ClassRule):
    """Flags classes whose (own or inherited) ``reset_parameters()`` misses one of their tensors."""

    code = "INI002"
    name = "incomplete-reset-parameters"
    what_it_does = (
        "Checks that the `reset_parameters()` a module defines or inherits writes every parameter and "
        "buffer the class creates, following calls to other methods of the class and to `super()`."
    )
    why_bad = (
        "When a sharded model is initialized from scratch, `reset_parameters()` is the only thing that "
        "gives each tensor a value. A tensor it forgets keeps uninitialized memory: a bias it does not "
        "zero, a parameter a subclass of `nn.Linear` adds but the inherited reset cannot know about, "
        "a non-persistent buffer (a RoPE cache) that no checkpoint will ever restore. Reading "
        "`self.x.shape` is not a write."
    )
    references = (
        "https://lightning.ai/docs/fabric/stable/advanced/model_init.html",
        "https://pytorch.org/docs/stable/distributed.fsdp.fully_shard.html",
    )

    VALID = (
        Valid(
            """\
import torch
from torch import nn

class Table(nn.Module):
    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        weight = weight.float()  # still the caller's tensor
        self.register_buffer("weight", weight)
        self.bias = nn.Parameter(torch.empty(4))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        import torch.nn.init as init  # a module imported here: its in-place functions write their argument
        init.zeros_(self.bias)
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class GATLayer(nn.Module):
    def __init__(self, heads: int, dim: int) -> None:
        super().__init__()
        self.att = nn.Parameter(torch.empty(1, heads, 2 * dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_normal_(self.att.view(self.att.size(1), -1))  # a view writes `att` itself
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class Experts(nn.Module):
    def __init__(self, names: list[str], dim: int) -> None:
        super().__init__()
        self.weights = nn.ParameterDict()
        for name in names:
            self.weights[name] = nn.Parameter(torch.empty(dim, dim))
        self.cache = []
        self.cache.append(nn.Parameter(torch.empty(dim)))  # a plain list: not a tensor of the module
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for weight in self.weights.values():
            nn.init.normal_(weight)
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class Base(nn.Module):
    def reset_parameters(self) -> None:
        pass

class Plain(Base):
    pass

class Scaled(Base):
    def reset_parameters(self) -> None:
        nn.init.ones_(self.scale)

class Layer(Plain, Scaled):  # __mro__: Layer, Plain, Scaled, Base: Scaled.reset_parameters runs
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.empty(dim))
        self.reset_parameters()
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class Affine(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n))
        self.bias = nn.Parameter(torch.empty(n))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)
        nn.init.zeros_(self.bias)
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class Rotary(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.register_buffer("inv_freq", torch.empty(dim // 2), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self._init_rope()

    def _init_rope(self) -> None:
        inv_freq = 1.0 / (10000 ** (torch.arange(0, self.dim, 2).float() / self.dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class ScaledLinear(nn.Linear):
    def __init__(self, n: int) -> None:
        self.scale = None
        super().__init__(n, n)
        self.scale = nn.Parameter(torch.empty(n))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.scale is not None:
            self.scale.data.fill_(1.0)
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class Recurrent(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.w_ih = nn.Parameter(torch.empty(n, n))
        self.w_hh = nn.Parameter(torch.empty(n, n))

    def reset_parameters(self) -> None:
        for weight in self.parameters():  # every parameter at once
            nn.init.uniform_(weight, -0.1, 0.1)
"""
        ),
        Valid(
            """\
import torch
from torch import nn

from .init import init_module_weights

class Head(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n, n))
        self.bias = nn.Parameter(torch.empty(n))

    def reset_parameters(self) -> None:
        weight = self.weight  # a local alias is the same tensor
        nn.init.xavier_uniform_(weight)
        init_module_weights(self)  # a helper given the whole module may write anything
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class Mixture(nn.Module):
    def __init__(self, n: int, k: int) -> None:
        super().__init__()
        self.weights = nn.ParameterList([nn.Parameter(torch.empty(n, n)) for _ in range(k)])
        self.scales = nn.ParameterDict({str(i): nn.Parameter(torch.empty(n)) for i in range(k)})
        self.biases = nn.ParameterList([nn.Parameter(torch.empty(n)) for _ in range(k)])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for w in self.weights:  # a loop over the container writes each member
            nn.init.orthogonal_(w)
        for scale in self.scales.values():
            nn.init.ones_(scale)
        for i, b in enumerate(self.biases):
            nn.init.constant_(b, 0.1 * i)
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class Gate(nn.Module):
    def __init__(self, learnable: bool = True) -> None:
        super().__init__()
        self.learnable = learnable
        if learnable:
            self.beta = nn.Parameter(torch.empty(1))
        else:
            self.register_buffer("beta", torch.ones(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.beta.data.fill_(1.0)  # whichever of the two `beta` is
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import torch
from torch import nn

class Gate(nn.Module):  # torch_geometric's AGNNConv
    def __init__(self, learnable: bool = True) -> None:
        super().__init__()
        self.learnable = learnable
        if learnable:
            self.beta = nn.Parameter(torch.empty(1))
        else:
            self.register_buffer("beta", torch.ones(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.learnable:  # writes the parameter; the buffer made under `else:` is never written
            self.beta.data.fill_(1.0)
""",
            line=4,
            mentions=("buffer `beta`",),
        ),
        Invalid(
            """\
import torch
from torch import nn

class Reference(nn.Module):  # torch_geometric's ViSNet Atomref
    def __init__(self, size: int, reference: torch.Tensor | None = None) -> None:
        super().__init__()
        if reference is None:
            reference = torch.zeros(size)  # the default path makes the buffer here
        self.register_buffer("initial", reference)
        self.weight = nn.Parameter(torch.empty(size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.weight.data.copy_(self.initial)
""",
            line=4,
            mentions=("buffer `initial`",),
        ),
        Invalid(
            """\
import torch
from torch import nn

class Smooth(nn.Module):
    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        kernel_size = torch.tensor(kernel_size)  # named like the argument, but a tensor made here
        self.register_buffer("kernel_size", kernel_size)
        self.weight = nn.Parameter(torch.empty(4))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)
""",
            line=4,
            mentions=('buffer `kernel_size`',),
        ),
        Invalid(
            """\
import torch
from torch import nn

class Restart(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim))
        self.register_buffer("initial", torch.empty(dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        weight = self.weight.data
        weight.copy_(self.initial)  # reads `initial`, which nothing ever writes
""",
            line=4,
            mentions=('buffer `initial`',),
        ),
        Invalid(
            """\
import torch
from torch import nn

class Scales(nn.Module):
    def __init__(self, n: int, dim: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.empty(dim))
        self.scales = nn.ParameterList()
        for _ in range(n):
            self.scales.append(nn.Parameter(torch.empty(dim)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.bias)  # the appended scales are forgotten
""",
            line=4,
            mentions=("parameter `scales`",),
        ),
        Invalid(
            """\
import torch
from torch import nn

class Mixture(nn.Module):
    def __init__(self, n: int, k: int) -> None:
        super().__init__()
        self.weights = nn.ParameterList([nn.Parameter(torch.empty(n, n)) for _ in range(k)])
        self.gates = nn.ParameterDict({str(i): nn.Parameter(torch.empty(n)) for i in range(k)})
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for w in self.weights:
            nn.init.orthogonal_(w)
        for name, gate in self.gates.items():
            print(name, gate.shape)  # reading a member initializes nothing
""",
            line=4,
            mentions=("`gates`",),
        ),
        Invalid(
            """\
import math
import torch
from torch import nn

class Affine(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n, n))
        self.bias = nn.Parameter(torch.empty(n))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(self.bias.shape[0])  # reading the shape writes nothing
""",
            line=5,
            mentions=("`bias`",),
        ),
        Invalid(
            """\
import torch
from torch import nn

class ScaledLinear(nn.Linear):
    def __init__(self, n: int) -> None:
        super().__init__(n, n)
        self.scale = nn.Parameter(torch.ones(n))  # Linear.reset_parameters knows nothing of it
""",
            line=4,
            mentions=("`scale`",),
        ),
        Invalid(
            """\
import torch
from torch import nn

class Attention(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.qkv = nn.Parameter(torch.empty(3 * dim, dim))
        self.register_buffer("cos_cached", torch.ones(2048, dim), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.qkv, std=0.02)
""",
            line=4,
            mentions=("`cos_cached` (non-persistent",),
        ),
        Invalid(
            """\
import torch
from torch import nn

class Norm(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.register_buffer("running_mean", torch.zeros(n))

    def reset_parameters(self) -> None:
        self._init_weight()

    def _init_weight(self) -> None:
        with torch.no_grad():
            self.weight.fill_(1.0)
""",
            line=4,
            mentions=("`running_mean`",),
        ),
    )

    def check(self, view: ClassView) -> Iterator[str]:
        """Report the tensors of the class that its init methods never write."""
        if not view.tensors or not view.is_module or not view.complete:
            return
        verdict = view.protocol
        if verdict is not None and verdict.protocol == "hugging-face":
            return  # judged by INI004
        method = view.init_method()
        coverage = view.coverage()
        own = [t for t in view.tensors if not coverage.covers(t)] if method is not None else list(view.tensors)
        if verdict is not None and verdict.covered(view.tensors):
            yield from _left_by_roots(view, own)
            return
        if method is None:
            return
        missing = own  # the definitions: a parameter and a buffer may share a name under opposite guards
        if not missing:
            return
        inherited = method not in view.cls.methods
        where = f"the inherited `{method}()`" if inherited else f"`{method}()`"
        they, keep, them = ("they", "keep", "them") if len(missing) > 1 else ("it", "keeps", "it")
        yield (
            f"{where} of `{view.cls.name}` never initializes {view.describe(missing)}; under empty or "
            f"meta-device init {they} {keep} uninitialized memory. Initialize {them} in `{method}()`."
        )


def _left_by_roots(view: ClassView, left: list[TensorDef]) -> Iterator[str]:
    """A class partly covered by the dispatch of root init methods (``init-methods``)."""
    assert view.protocol is not None
    missed = view.protocol.missing(left)
    names = sorted({name for names in missed.values() for name in names})
    if not names:
        return
    roots = ", ".join(label for label, missing in missed.items() if missing)
    they = "they keep" if len(names) > 1 else "it keeps"
    yield (
        f"{roots}, applied over the module tree, never initializes {view.describe(names)} of "
        f"`{view.cls.name}` (nor does a `reset_parameters()` of its own); under empty or meta-device init {they} "
        "uninitialized memory. Add a branch for the class to that dispatch, or a `reset_parameters()`."
    )
