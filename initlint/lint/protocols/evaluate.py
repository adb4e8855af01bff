"""Judge a dispatch for one class: which of its tensors does it write?

Conditions are three-valued: ``True`` (holds for the class), ``False`` (cannot hold), ``None`` (may
hold). A branch runs unless its condition is ``False``; an ``elif`` chain stops at the first branch
whose condition is ``True``. So a tensor counts as written when some branch that may run writes it:
the linter reports only what no path of the dispatch can write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from initlint.lint.index import Coverage, ProjectIndex
from initlint.lint.protocols.classes import Known, lookup
from initlint.lint.torch_table import BUILTIN_MODULES

__all__ = ["Evaluator", "Helpers"]

_MAX_DEPTH = 12

# (kind, name) of a helper -> its dispatch and the helpers *it* resolves against, or None
Helpers = Callable[[str, str], "tuple[list[Any], Helpers] | None"]


@dataclass
class Evaluator:
    """Evaluates dispatches for ``subject``; ``method_coverage`` answers ``module.m()`` calls."""

    index: ProjectIndex
    subject: Known
    cache: dict[str, Known]
    method_coverage: Callable[[str], Coverage]
    child_writes: dict[str, set[str]] = field(default_factory=dict)  # submodule attribute -> tensors written

    def run(self, steps: list[Any], helpers: Helpers, written: Coverage | None = None, depth: int = 0) -> Coverage:
        """The tensors of the subject that ``steps`` may write."""
        written = written if written is not None else Coverage()
        if depth > _MAX_DEPTH:
            written.all_parameters = written.all_buffers = True  # too deep to follow: assume it writes
            return written
        for step in steps:
            kind = step[0]
            if kind == "write":
                written.names.add(step[1])
            elif kind == "all":
                if step[1] == "parameter":
                    written.all_parameters = True
                else:
                    written.all_buffers = True
            elif kind == "child":
                self.child_writes.setdefault(step[1], set()).add(step[2])
            elif kind == "method":
                found = self.method_coverage(step[1])
                written.names |= found.names
                written.all_parameters |= found.all_parameters
                written.all_buffers |= found.all_buffers
            elif kind == "helper":
                target = helpers(step[1], step[2])
                if target is None:
                    if step[1] == "unknown":  # a helper we cannot read may write anything
                        written.all_parameters = written.all_buffers = True
                else:
                    self.run(target[0], target[1], written, depth + 1)
            elif kind == "if":
                self._chain(step[1], step[2], helpers, written, depth)
        return written

    def _chain(self, branches: list[Any], otherwise: list[Any], helpers: Helpers, written: Coverage,
               depth: int) -> None:
        for condition, steps in branches:
            holds = self.holds(condition)
            if holds is False:
                continue
            self.run(steps, helpers, written, depth)
            if holds is True:
                return
        self.run(otherwise, helpers, written, depth)

    # -- conditions ----------------------------------------------------------------------------
    def holds(self, condition: list[Any]) -> bool | None:
        """Whether ``condition`` holds for the subject (``None``: it may)."""
        kind = condition[0]
        if kind == "isinstance":
            return self._isinstance(condition[1])
        if kind == "name":
            return _name_test(condition[1], condition[2], self.subject.short)
        if kind == "has":
            return self._has(condition[1])
        if kind == "not":
            inner = self.holds(condition[1])
            return None if inner is None else not inner
        if kind in ("and", "or"):
            values = [self.holds(c) for c in condition[1]]
            decisive = kind == "or"  # True decides an `or`, False an `and`
            if decisive in values:
                return decisive
            return None if None in values else not decisive
        return None

    def _isinstance(self, names: list[str]) -> bool | None:
        mine = self.subject.names()
        shorts = {a.short for a in self.subject.ancestors}
        for name in names:
            target = lookup(self.index, name, self.cache)
            if target.name in mine:
                return True
            if not target.module and not target.name.startswith("torch:") and target.short in shorts:
                return True  # a class we cannot read, named like one of the subject's ancestors
        return False if self.subject.complete else None

    def _has(self, attribute: str) -> bool | None:
        builtin = False
        for ancestor in self.subject.ancestors:
            summary = ancestor.summary
            if summary is not None:
                if attribute in summary.protocol.get("attributes", ()) or attribute in summary.methods:
                    return True
                if any(t.name == attribute for t in summary.tensors):
                    return True
            elif ancestor.name.startswith("torch:") and ancestor.name != "torch:Module":
                builtin = True
                if attribute in _builtin_tensors(ancestor.name):
                    return True
        return None if builtin or not self.subject.complete else False


def _builtin_tensors(name: str) -> tuple[str, ...]:
    short = name.partition(":")[2]
    entry = BUILTIN_MODULES.get(f"torch.nn.{short}")
    return entry[1] if entry else ()


def _name_test(op: str, text: str, name: str) -> bool:
    if op == "in":
        return text in name
    if op == "==":
        return text == name
    if op == "startswith":
        return name.startswith(text)
    return name.endswith(text)
