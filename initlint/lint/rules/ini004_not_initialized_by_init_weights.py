"""INI004: a class of a Hugging Face model creates a tensor its family's ``_init_weights`` never writes."""

from __future__ import annotations

from collections.abc import Iterator

from initlint.lint.index import ClassView
from initlint.lint.rules.base import ClassRule, Invalid, Valid

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
        "helper methods and `super()._init_weights(module)`, down to the base class's default."
    )
    why_bad = (
        "`from_pretrained` builds the model on the meta device, loads the checkpoint, and gives every tensor "
        "the checkpoint lacks (a new head, a new `nn.Parameter`, every non-persistent buffer) its value by "
        "running `_init_weights` over the modules. A tensor no branch writes keeps whatever memory it got: "
        "`torch.ones` in `__init__` never ran, and the load report still says \"newly initialized\". The base "
        "class's default covers `nn.Linear`, convolutions, `nn.Embedding`, norms named `*LayerNorm`/"
        "`*RMSNorm` and rotary embeddings; an explicit `nn.Parameter` or buffer needs its own branch."
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
    )

    @classmethod
    def applies_to(cls, text: str, extra_optimizers: frozenset[str] = frozenset()) -> bool:
        """Files with tensor-creating classes, and the files that define init dispatches or families."""
        return super().applies_to(text, extra_optimizers) or any(word in text for word in _PROTOCOL_WORDS)

    def check(self, view: ClassView) -> Iterator[str]:
        """Report the tensors each ``_init_weights`` that runs over the class leaves unwritten."""
        verdict = view.protocol
        if verdict is None or verdict.protocol != "hugging-face" or not view.tensors:
            return
        if not (view.is_module or verdict.model):  # a model class owns tensors too (``self.logit_bias``)
            return
        missed = verdict.missing(view.tensors)
        if not missed:
            return
        parts = [f"{view.describe(names)}, which {label} never writes" for label, names in missed.items()]
        yield (
            f"`{view.cls.name}` creates {'; '.join(parts)}; `from_pretrained` leaves it uninitialized memory "
            "when the checkpoint lacks it (a new head, a non-persistent buffer). Add a branch for "
            f"`{view.cls.name}` to that `_init_weights` that initializes it (after "
            "`super()._init_weights(module)`)."
        )
