"""INI004: a class of a Hugging Face model creates a tensor its family's ``_init_weights`` never writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from initlint.lint.index import ClassView
from initlint.lint.rules.base import ClassRule, Invalid, Valid

if TYPE_CHECKING:
    from initlint.lint.protocols.judge import BuiltIn

__all__ = ["NotInitializedByInitWeights"]

# a file holding a family root or a dispatch mentions one of these: others need no parse for the protocols
_PROTOCOL_WORDS = ("PreTrainedModel", "_init_weights", "apply(", ".modules()")


class NotInitializedByInitWeights(ClassRule):
    """Flags tensors of a ``PreTrainedModel`` family's classes that no ``_init_weights`` branch writes."""

    code = "INI004"
    name = "not-initialized-by-init-weights"
    what_it_does = (
        "Checks, for every module class used by a Hugging Face `PreTrainedModel` family (built from the "
        "`__init__` of a `PreTrainedModel` subclass, or defined in or imported by its file), that the "
        "family's effective `_init_weights(module)` writes every parameter and buffer the class creates. "
        "It reads the dispatch: `isinstance` tests (tuples, subclasses), class-name tests "
        "(`\"RMSNorm\" in module.__class__.__name__`), `hasattr`/`getattr` guards, writes through "
        "`init.*`/`nn.init.*`/`.data.normal_()`/`module.weight.zero_()`, loops over `module.parameters()`, "
        "helper methods and `super()._init_weights(module)`, down to the base class's default.\n\nThe torch "
        "built-ins a class builds in `__init__` (`self.conv = nn.Conv1d(...)`, `nn.Sequential(nn.Linear(...))`) "
        "or derives from are judged too, with the tensors their literal arguments let exist (`bias=False`, "
        "`affine=False`) and `weight_norm` applied; such a tensor is reported on the class that builds it, "
        "by its path (`conv.weight`)."
    )
    why_bad = (
        "`from_pretrained` builds the model on the meta device, loads the checkpoint, and gives every tensor "
        "the checkpoint lacks (a new head, a new `nn.Parameter`, every non-persistent buffer) its value by "
        "running `_init_weights` over the modules. A tensor no branch writes keeps whatever memory it got: "
        "`torch.ones` in `__init__` never ran, and the load report still says \"newly initialized\". The base "
        "class's default covers `nn.Linear`, convolutions, `nn.Embedding`, norms named `*LayerNorm`/"
        "`*RMSNorm` and rotary embeddings; an explicit `nn.Parameter` or buffer needs its own branch, and so "
        "does every torch layer an overriding `_init_weights` leaves out (a no-op override leaves them all)."
    )
    references = (
        "https://huggingface.co/docs/transformers/main/en/add_new_model",
        "https://github.com/huggingface/transformers/issues/35437",
    )

    VALID = (
        Valid(
            """\
import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init


class Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)  # the base class's default initializes Linear layers
        self.scale = nn.Parameter(torch.ones(dim))


class TinyPreTrainedModel(PreTrainedModel):
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, Block):
            init.ones_(module.scale)


class TinyModel(TinyPreTrainedModel):
    def __init__(self, config) -> None:
        super().__init__(config)
        self.block = Block(config.hidden_size)
"""
        ),
        Valid(
            """\
import torch
from torch import nn
from transformers import PreTrainedModel


class TinyRMSNorm(nn.Module):  # "RMSNorm" in its name: the base class's default writes its weight
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))


class TinyModel(PreTrainedModel):
    def __init__(self, config) -> None:
        super().__init__(config)
        self.norm = TinyRMSNorm(config.hidden_size)
"""
        ),
        Valid(
            """\
import torch
from torch import nn
from transformers import PreTrainedModel


class Gate(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(dim))
        self.bias = nn.Parameter(torch.zeros(dim))


class TinyPreTrainedModel(PreTrainedModel):
    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, Gate)):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if getattr(module, "bias", None) is not None:
                module.bias.data.zero_()
"""
        ),
        Valid(
            """\
import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init

class TinyPreTrainedModel(PreTrainedModel):
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, TinyForSequenceClassification):
            init.zeros_(module.logit_bias)

class TinyForSequenceClassification(TinyPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.score = nn.Linear(8, 2)
        self.logit_bias = nn.Parameter(torch.zeros(2))  # the model's own tensor, with its own branch
"""
        ),
        Valid(
            """\
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init


class LearnedPositions(nn.Embedding):  # an nn.Embedding: the isinstance branch below covers it
    pass


class Stem(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, dim, kernel_size=3, bias=False)  # no bias to initialize
        self.norm = nn.BatchNorm2d(dim, affine=False, track_running_stats=False)  # no tensors at all
        self.positions = LearnedPositions(16, dim)


class TinyPreTrainedModel(PreTrainedModel):
    def _init_weights(self, module):
        if isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, std=0.02)


class TinyModel(TinyPreTrainedModel):
    def __init__(self, config) -> None:
        super().__init__(config)
        self.stem = Stem(config.hidden_size)
"""
        ),
    )

    INVALID = (
        Invalid(
            """\
import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel

class TinyPreTrainedModel(PreTrainedModel):
    def _init_weights(self, module):
        super()._init_weights(module)

class TinyForSequenceClassification(TinyPreTrainedModel, GenerationMixin):
    def __init__(self, config):
        super().__init__(config)
        self.score = nn.Linear(8, 2)
        self.logit_bias = nn.Parameter(torch.zeros(2))  # owned by the model class: no branch writes it
""",
            line=9,
            mentions=("`TinyForSequenceClassification` creates parameter `logit_bias`",),
        ),
        Invalid(
            """\
import torch
from torch import nn
from transformers import PreTrainedModel


class Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.scale = nn.Parameter(torch.ones(dim))  # no _init_weights branch writes it


class TinyModel(PreTrainedModel):
    def __init__(self, config) -> None:
        super().__init__(config)
        self.block = Block(config.hidden_size)
""",
            line=6,
            mentions=("`scale`", "`PreTrainedModel._init_weights`", "from_pretrained"),
        ),
        Invalid(
            """\
import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init


class Embeddings(nn.Module):
    def __init__(self, n: int, dim: int) -> None:
        super().__init__()
        self.tokens = nn.Embedding(n, dim)
        self.register_buffer("position_ids", torch.arange(n).expand((1, -1)), persistent=False)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))


class TinyPreTrainedModel(PreTrainedModel):
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, Embeddings):
            init.zeros_(module.cls_token)  # position_ids is forgotten
""",
            line=7,
            mentions=("`position_ids` (non-persistent", "`TinyPreTrainedModel._init_weights`"),
        ),
        Invalid(
            """\
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init


class FeatureEncoder(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, dim, kernel_size=10, stride=5)  # no branch below handles Conv1d
        self.norm = nn.LayerNorm(dim)


class TinyPreTrainedModel(PreTrainedModel):
    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            init.normal_(module.weight, std=0.02)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)


class TinyModel(TinyPreTrainedModel):
    def __init__(self, config) -> None:
        super().__init__(config)
        self.encoder = FeatureEncoder(config.hidden_size)
""",
            line=6,
            mentions=("`FeatureEncoder` builds `nn.Conv1d` `conv` (parameter `conv.bias`, parameter `conv.weight`)",
                      "Add a branch for `nn.Conv1d`"),
        ),
        Invalid(
            """\
from torch import nn
from transformers import PreTrainedModel


class TinyPreTrainedModel(PreTrainedModel):
    def _init_weights(self, module):
        super()._init_weights(module)


class TinyForClassification(TinyPreTrainedModel):
    def __init__(self, config) -> None:
        super().__init__(config)
        self.classifier = nn.Sequential(nn.Linear(config.hidden_size, 8), nn.Tanh(), nn.Linear(8, 2))

    def _init_weights(self, module):
        pass  # "the checkpoint holds every weight": not the new classifier's
""",
            line=10,
            mentions=("`nn.Linear` `classifier.0`", "`nn.Linear` `classifier.2`",
                      "which `TinyForClassification._init_weights`"),
        ),
        Invalid(
            """\
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init


class PositionalConv(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel_size=3, padding=1)
        self.conv = nn.utils.parametrizations.weight_norm(self.conv, name="weight", dim=2)


class TinyPreTrainedModel(PreTrainedModel):
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, PositionalConv):
            init.normal_(module.conv.weight, std=0.02)  # computed from original0/original1: the write is lost
            init.zeros_(module.conv.bias)


class TinyModel(TinyPreTrainedModel):
    def __init__(self, config) -> None:
        super().__init__(config)
        self.pos_conv = PositionalConv(config.hidden_size)
""",
            line=6,
            mentions=("parameter `conv.parametrizations.weight.original0`", "a write to `weight` is lost"),
        ),
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Files with tensor-creating classes, and the files that define init dispatches or families."""
        return super().applies_to(text, extra_optimizers) or any(word in text for word in _PROTOCOL_WORDS)

    def check(self, view: ClassView) -> Iterator[str]:
        """Report the tensors each ``_init_weights`` that runs over the class leaves unwritten: its own, and
        those of the torch built-ins it builds or inherits."""
        verdict = view.protocol
        if verdict is None or verdict.protocol != "hugging-face":
            return
        if not (view.is_module or verdict.model):  # a model class owns tensors too (``self.logit_bias``)
            return
        parts: dict[str, dict[str, list[str]]] = {}  # label -> verb -> what it leaves
        for label, names in (verdict.missing(view.tensors) if view.tensors else {}).items():
            parts.setdefault(label, {}).setdefault("creates", []).append(view.describe(names))
        for built in verdict.built_ins:
            for label, names in built.missing.items():
                verb, shown = _built_in_part(built, names)
                parts.setdefault(label, {}).setdefault(verb, []).append(shown)
        if not parts:
            return
        found, said = [], None
        for label, verbs in parts.items():
            # "creates A, which L1 never writes; B, which L2 never writes": a verb is said once in a row
            shown = [", ".join(items) if [verb] == said else f"{verb} {', '.join(items)}"
                     for verb, items in verbs.items()]
            found.append(f"{' and '.join(shown)}, which {label} never writes")
            said = list(verbs)
        advice = []
        if view.tensors or any(not b.path and b.missing for b in verdict.built_ins):
            advice.append(f"Add a branch for `{view.cls.name}` to that `_init_weights` that initializes it (after "
                          "`super()._init_weights(module)`).")
        for method in verdict.skipped:
            advice.append(f"`{method}()` writes nothing there: it returns first when a submodule is marked "
                          "`_is_hf_initialized`, and transformers initializes and marks every submodule before "
                          "its parent.")
        built_ins = sorted({b.short for b in verdict.built_ins if b.path and b.missing})
        if built_ins:
            named = ", ".join(f"`{name}`" for name in built_ins)
            advice.append(f"Add a branch for {named} to that `_init_weights` that initializes it (or call "
                          "`super()._init_weights(module)`, whose default covers torch's layers and norms).")
        if any(".parametrizations." in n for b in verdict.built_ins for ns in b.missing.values() for n in ns):
            advice.append("`weight_norm` makes `weight` a tensor computed from `parametrizations.weight.original0`"
                          "/`original1`: a write to `weight` is lost, initialize those two.")
        yield (
            f"`{view.cls.name}` {'; '.join(found)}; `from_pretrained` leaves it uninitialized memory "
            "when the checkpoint lacks it (a new head, a non-persistent buffer). " + " ".join(advice)
        )


def _built_in_part(built: BuiltIn, names: list[str]) -> tuple[str, str]:
    """("builds", "`nn.Conv1d` `conv` (parameter `conv.weight`)"), or ("inherits", ...) for a built-in base."""
    wanted = set(names)
    shown = ", ".join(f"{t.kind} `{t.name}`" for t in built.tensors if t.name in wanted)
    if not built.path:
        return "inherits", f"{shown} from `{built.short}`"
    return "builds", f"`{built.short}` `{built.path}` ({shown})"
