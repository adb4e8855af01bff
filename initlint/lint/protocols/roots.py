"""Which files could define the roots of an init protocol: the engine keys cached verdicts by them.

A root is a ``PreTrainedModel`` subclass (a Hugging Face family) or a class whose method named in
``init-methods`` applies a dispatch over its module tree. Whether a class *is* one needs its bases
resolved across files; whether it *could be* one is read from its own facts, so the engine can tell,
without loading any summary, which files a change of roots could come from.
"""

from __future__ import annotations

from initlint.lint.summary import ClassSummary, FileSummary

__all__ = ["may_be_root", "may_hold_roots"]


def may_be_root(cls: ClassSummary) -> bool:
    """Whether a class could be a family root or a root-method class, from its own facts alone."""
    return bool(cls.bases) and ("applies" in cls.protocol or any(
        base is not None and ("pretrained" in base.lower() or base.rpartition(".")[2].endswith("Model")
                              or base.startswith("transformers."))
        for base in cls.bases
    ))


def may_hold_roots(summary: FileSummary) -> bool:
    """Whether a file could define a root the protocols judge others by (the engine's cache key of the
    roots reads only these files)."""
    return any(may_be_root(cls) for cls in summary.classes)
