"""INI109: weights tied in ``__init__``, untied by ``to_empty()`` and never tied again."""

from __future__ import annotations

from collections.abc import Iterator

from initlint.lint.lazy import cst
from initlint.lint.modeltree import ModelTree, materialized
from initlint.lint.rules.base import FileContext, Invalid, TreeRule, Valid
from initlint.lint.scopes import scopes

__all__ = ["TieBrokenByToEmpty"]


class TieBrokenByToEmpty(TreeRule):
    """Flags ``model.to_empty(...)`` on a model whose class ties weights in ``__init__``, with no
    ``tie_weights()`` after it."""

    code = "INI109"
    name = "tie-broken-by-to-empty"
    what_it_does = (
        "Checks a model built under `torch.device(\"meta\")` (or another empty-init context) and moved with "
        "`to_empty()`, when a class of its tree (in any file of the project) ties two weights in `__init__` "
        "(`self.lm_head.weight = self.embed.weight`), or it is a transformers model class that ties its "
        "embeddings by default (from a table generated from the pinned transformers): after `to_empty()` "
        "something must tie them again (`tie_weights()`, a call named like it, or the same assignment on "
        "the model)."
    )
    why_bad = (
        "`to_empty()` gives every module a new tensor of its own, so two modules that shared one parameter "
        "now hold two: a checkpoint that stores the shared weight once fills one of them and leaves the "
        "other uninitialized, and training updates them apart."
    )
    references = ("https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.to_empty",)
    VALID = (
        Valid(
            """\
import torch
from torch import nn

class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.lm_head = nn.Linear(4, 10, bias=False)
        self.tie_weights()

    def tie_weights(self):
        self.lm_head.weight = self.embed.weight

with torch.device("meta"):
    model = LM()
model.to_empty(device="cpu")
model.tie_weights()  # one tensor again, before anything fills it
model.load_state_dict(torch.load("ckpt.pt"), strict=False)
"""
        ),
        Valid(
            """\
import torch
from torch import nn

class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.lm_head = nn.Linear(4, 10, bias=False)
        self.lm_head.weight = self.embed.weight

with torch.device("meta"):
    model = LM()
model.to_empty(device="cpu")
model.lm_head.weight = model.embed.weight  # the same tie, on the new tensors
torch.nn.init.normal_(model.embed.weight)
"""
        ),
    )
    INVALID = (
        Invalid(
            """\
import torch
from torch import nn

class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.lm_head = nn.Linear(4, 10, bias=False)
        self.lm_head.weight = self.embed.weight

with torch.device("meta"):
    model = LM()
model.to_empty(device="cpu")
model.load_state_dict(torch.load("ckpt.pt"), strict=False)  # a tied checkpoint stores embed.weight only
""",
            line=13,
            mentions=("`model.to_empty(...)`", "`LM`", "`self.lm_head.weight = self.embed.weight`", "tie_weights"),
        ),
        Invalid(
            """\
import torch
from transformers import GPT2Config, GPT2LMHeadModel

config = GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=64)
with torch.device("meta"):
    model = GPT2LMHeadModel(config)
model.to_empty(device="cpu")
model.load_state_dict(torch.load("ckpt.pt"), strict=False)  # save_pretrained stores the tied weight once
""",
            line=7,
            mentions=("`GPT2LMHeadModel`", "`lm_head.weight = transformer.wte.weight`", "tie_word_embeddings"),
        ),
    )

    def ask(self, module: cst.Module, context: FileContext) -> Iterator[tuple[cst.CSTNode, str, str]]:
        """Each ``to_empty`` after which nothing ties weights again."""
        for scope, call, qualified in materialized(scopes(module, context.imports), context.imports):
            if any("tie" in c.method.lower() for c in scope.calls_after(call.index)):
                continue
            if any(index >= call.index and name == call.model for index, name in scope.escapes):
                continue  # an assignment from the model after to_empty: maybe the tie again
            yield call.node, call.model, qualified

    def judge(self, model: str, tree: ModelTree) -> str | None:
        """Name the first tie a class of the tree makes in ``__init__`` (or a transformers class makes)."""
        from initlint.lint.hf_models import TIED_WEIGHTS

        for name, summary in tree:
            tie, when = (summary.ties[0] if summary is not None and summary.ties else None), ""
            if summary is None and name.startswith("transformers."):
                tie, when = TIED_WEIGHTS.get(name.rpartition(".")[2]), " when `config.tie_word_embeddings` (its default)"
            if tie is not None:
                return (
                    f"`{model}.to_empty(...)` unties the weights `{name.rpartition('.')[2]}` ties in "
                    f"`__init__` (`{tie}`{when}): each module now holds a tensor of its own, and a "
                    f"checkpoint that stores the shared one once leaves the other uninitialized. Call "
                    f"`{model}.tie_weights()` (or repeat the assignment) right after `to_empty()`."
                )
        return None
