"""Classes by canonical name: what an ``isinstance`` test or a ``builds`` entry refers to.

The index resolves a name to a class; the protocols also need the *name* it ends at (to compare two
references to the same class made from different files), the module that defines it, and its
ancestors with their names. A torch.nn built-in is named ``torch:<Class>`` whatever path reached it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from initlint.lint import known
from initlint.lint.index import ProjectIndex, c3_merge
from initlint.lint.protocols.hf_table import PRETRAINED_BASES
from initlint.lint.summary import ClassSummary
from initlint.lint.torch_table import BUILTIN_BASES, BUILTIN_MODULES

__all__ = ["Known", "canonical", "ancestry", "lookup", "builtin"]

_HOPS = 16


@dataclass
class Known:
    """A class and its ancestors, as far as they can be read."""

    name: str  # canonical
    module: str  # "" for built-ins and unknown classes
    summary: ClassSummary | None
    ancestors: list[Known] = field(default_factory=list)  # itself first, in C3 order (``__mro__``)
    complete: bool = True  # every ancestor resolved

    @property
    def short(self) -> str:
        """The class's own name, as ``module.__class__.__name__`` gives it."""
        return self.name.rpartition(":")[2].rpartition(".")[2]

    def names(self) -> set[str]:
        """Its canonical name and its ancestors'."""
        return {a.name for a in self.ancestors}


def canonical(index: ProjectIndex, qualified: str) -> tuple[str, str, ClassSummary | None]:
    """(canonical name, defining module, summary) of a qualified class name, following re-exports."""
    for _ in range(_HOPS):
        if qualified in BUILTIN_MODULES:
            return "torch:" + qualified.rpartition(".")[2], "", None
        if qualified in known.MODULE_BASES_WITHOUT_RESET or qualified in index.extra_bases:
            return qualified, "", None
        module, _, name = qualified.rpartition(".")
        summary = index.module(module) if module else None
        if summary is None:
            return qualified, "", None
        for cls in summary.classes:
            if cls.name == name:
                return qualified, module, cls
        target = summary.imports.get(name)
        if target is None or target == qualified:
            return qualified, "", None
        qualified = target
    return qualified, "", None


def lookup(index: ProjectIndex, qualified: str, cache: dict[str, Known]) -> Known:
    """The class a qualified name refers to, with its ancestors (memoized in ``cache``)."""
    name, module, summary = canonical(index, qualified)
    if name in cache:
        return cache[name]
    known_class = Known(name, module, summary)
    cache[name] = known_class  # before the ancestors: a cycle ends here
    known_class.ancestors = [known_class]
    if name.startswith("torch:"):
        known_class.ancestors += [builtin(base, cache) for base in BUILTIN_BASES.get(name[6:], ())]
    if summary is None:
        known_class.complete = name.startswith("torch:") or name in _HARMLESS or name in _HF_MIXINS
        if name in PRETRAINED_BASES:  # read from the table, whether or not transformers is in the project
            known_class.complete = True
            known_class.ancestors.append(lookup(index, "torch.nn.Module", cache))
        return known_class
    parents = []
    for base in summary.bases:
        if base is None:
            known_class.complete = False
            continue
        parent = lookup(index, base, cache)
        known_class.complete &= parent.complete
        parents.append(parent)
    known_class.ancestors = c3_merge(known_class, parents, [parent.ancestors for parent in parents])
    return known_class


def builtin(short: str, cache: dict[str, Known]) -> Known:
    """The torch built-in module class named ``short`` (``Conv1d``, ``_ConvNd``, ``ParametrizationList``), with
    its built-in ancestors."""
    name = f"torch:{short}"
    if name not in cache:
        cache[name] = found = Known(name, "", None)
        found.ancestors = [found, *(builtin(base, cache) for base in BUILTIN_BASES.get(short, ()))]
    return cache[name]


def ancestry(index: ProjectIndex, module: str, cls: ClassSummary, cache: dict[str, Known]) -> Known:
    """``cls`` of ``module`` with its ancestors."""
    return lookup(index, f"{module}.{cls.name}" if module else cls.name, cache)


_HARMLESS = frozenset({"object", "abc.ABC", "typing.Generic", "typing.Protocol", "enum.Enum"})
# transformers' mixins of model classes (``XForCausalLM(XPreTrainedModel, GenerationMixin)``): not modules,
# so no ``isinstance(module, nn.Linear)`` can hold for a class because of them
_HF_MIXINS = frozenset({
    "transformers.GenerationMixin",
    "transformers.generation.GenerationMixin",
    "transformers.generation.utils.GenerationMixin",
})
