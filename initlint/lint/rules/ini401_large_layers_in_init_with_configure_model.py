"""INI401: a LightningModule with ``configure_model()`` still builds parameterized layers in ``__init__``."""

from __future__ import annotations

from collections.abc import Iterator

from initlint.lint import known
from initlint.lint.lazy import cst
from initlint.lint.rules.base import FileContext, FileRule, Invalid, Report, Valid
from initlint.lint.torch_table import BUILTIN_MODULES
from initlint.lint.walk import iter_tree, source_of

__all__ = ["LargeLayersInInitWithConfigureModel"]

# torch.nn modules that own parameters: they reset them, list them, or are built of such layers
_PARAMETERIZED = frozenset(
    name
    for name, (resets, tensors) in BUILTIN_MODULES.items()
    if resets or tensors or name.rpartition(".")[2].startswith("Transformer")
)


class LargeLayersInInitWithConfigureModel(FileRule):
    """Flags layers built in ``__init__`` of a LightningModule that has ``configure_model()``."""

    code = "INI401"
    name = "large-layers-in-init-with-configure-model"
    what_it_does = (
        "Checks for a `LightningModule` that defines `configure_model()` but still assigns torch.nn layers "
        "with parameters (`nn.Linear`, `nn.Embedding`, `nn.Transformer`, containers holding them) to "
        "`self` in `__init__`. Opt-in (`select = [\"INI401\"]`): small heads built in `__init__` are "
        "common and harmless."
    )
    why_bad = (
        "Lightning calls `configure_model()` under the strategy's empty-init and sharding context, so "
        "layers built there are created directly on the meta device or sharded. Layers built in "
        "`__init__` are allocated in full, on every rank, with their initializers run: the memory and "
        "time `configure_model()` exists to save. Build them in `configure_model()`, behind a guard so a "
        "second call does nothing."
    )
    references = (
        "https://lightning.ai/docs/pytorch/stable/advanced/model_init.html",
        "https://lightning.ai/docs/pytorch/stable/advanced/model_parallel/fsdp.html",
    )
    VALID = (
        Valid(
            """\
import lightning as L
from torch import nn

class LitGPT(L.LightningModule):
    def __init__(self, vocab: int = 50_000, dim: int = 4096) -> None:
        super().__init__()
        self.vocab, self.dim = vocab, dim
        self.model = None

    def configure_model(self) -> None:
        if self.model is not None:
            return
        self.model = nn.Sequential(nn.Embedding(self.vocab, self.dim), nn.Linear(self.dim, self.vocab))
"""
        ),
        Valid(
            """\
import lightning as L
from torch import nn

class LitClassifier(L.LightningModule):  # no configure_model(): __init__ is the place
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(784, 10)
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import lightning as L
from torch import nn

class LitGPT(L.LightningModule):
    def __init__(self, vocab: int = 50_000, dim: int = 4096) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = None

    def configure_model(self) -> None:
        if self.blocks is None:
            self.blocks = nn.ModuleList(nn.TransformerEncoderLayer(4096, 32) for _ in range(32))
""",
            line=7,
            mentions=("`self.embed`", "`nn.Embedding(vocab, dim)`", "configure_model()"),
        ),
        Invalid(
            """\
from lightning.pytorch import LightningModule
import torch

class Lit(LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Sequential(torch.nn.LayerNorm(512), torch.nn.Linear(512, 2))

    def configure_model(self) -> None:
        self.body = torch.nn.Transformer(d_model=512)
""",
            line=7,
            mentions=("`self.head`",),
        ),
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Needs a ``configure_model`` method."""
        return "def configure_model" in text

    def check(self, module: cst.Module, context: FileContext) -> Iterator[Report]:
        """Report each layer assignment in ``__init__`` of a LightningModule with ``configure_model()``."""
        for node in iter_tree(module):
            if not isinstance(node, cst.ClassDef) or not isinstance(node.body, cst.IndentedBlock):
                continue
            if not any(context.imports.qualify(base.value) in known.LIGHTNING_MODULES for base in node.bases):
                continue
            methods = {s.name.value: s for s in node.body.body if isinstance(s, cst.FunctionDef)}
            if "configure_model" in methods and "__init__" in methods:
                yield from self._layers_in_init(node.name.value, methods["__init__"], context)

    def _layers_in_init(self, owner: str, init: cst.FunctionDef, context: FileContext) -> Iterator[Report]:
        for node in iter_tree(init.body, prune=(cst.FunctionDef, cst.Lambda)):
            if not isinstance(node, cst.Assign) or not isinstance(node.value, cst.Call):
                continue
            target = node.targets[0].target
            if not (isinstance(target, cst.Attribute) and source_of(target.value) == "self"):
                continue
            if any(
                isinstance(call, cst.Call) and context.imports.qualify(call.func) in _PARAMETERIZED
                for call in iter_tree(node.value)
            ):
                layer = " ".join(source_of(node.value).split())
                layer = layer if len(layer) <= 60 else layer[:57] + "..."
                yield node, (
                    f"`{owner}.__init__` builds `self.{target.attr.value}` = `{layer}`, but `{owner}` defines "
                    "`configure_model()`: layers built in `__init__` are allocated in full on every rank, "
                    "outside the strategy's empty-init and sharding context. Build them in "
                    "`configure_model()`."
                )
