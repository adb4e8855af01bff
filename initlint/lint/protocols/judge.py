"""Which init protocol covers a class, and what it writes: the verdict the class rules read.

- **Hugging Face**: a class used by a ``PreTrainedModel`` family (built from the ``__init__`` of a
  ``PreTrainedModel`` subclass, transitively; failing that, defined in or imported by its file) is
  initialized by the family's effective ``_init_weights``: the nearest override in the MRO, following
  ``super()._init_weights(module)`` into the base class's default (``hf_table``).
- **root init methods** (opt-in): a method named in ``init-methods`` (other than
  ``reset_parameters``) that applies a dispatch over its module tree covers what the dispatch writes
  for the classes of that tree.

A class used by several families is judged by each of them: a tensor one of them misses is missed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from initlint.lint.index import Coverage, ProjectIndex
from initlint.lint.protocols.classes import Known, ancestry, builtin, lookup
from initlint.lint.protocols.dispatch import DYNAMIC
from initlint.lint.protocols.evaluate import Evaluator, Helpers
from initlint.lint.protocols.hf_table import BASE_INIT_WEIGHTS, PRETRAINED_BASES
from initlint.lint.protocols.roots import may_be_root
from initlint.lint.summary import ClassSummary, FileSummary, TensorDef
from initlint.lint.torch_table import BUILTIN_BUFFERS

if TYPE_CHECKING:
    from initlint.lint.index import ClassView

__all__ = ["Protocols", "Verdict", "Judged", "BuiltIn"]


_BASE_LABEL = "`PreTrainedModel._init_weights` (transformers/modeling_utils.py, the base class's default)"


@dataclass
class Judged:
    """One initializer that runs over the class, and what it writes of it."""

    label: str  # "`LlamaPreTrainedModel._init_weights` (path)", for messages
    coverage: Coverage


@dataclass
class BuiltIn:
    """A torch built-in module the class builds in ``__init__`` (or inherits), and the tensors of it that
    each initializer leaves unwritten."""

    qualified: str  # "torch.nn.Conv1d"
    path: str  # where the class puts it ("conv", "mlp.0", "layers.*"); "" for a built-in base
    missing: dict[str, list[str]]  # label -> tensor paths ("conv.weight")
    tensors: list[TensorDef]  # every tensor it holds, by path

    @property
    def short(self) -> str:
        """``nn.Conv1d``, as users write it."""
        return "nn." + self.qualified.rpartition(".")[2]


@dataclass
class Verdict:
    """What the protocol that covers a class writes of it."""

    protocol: str  # "hugging-face" or "init-method"
    judged: list[Judged] = field(default_factory=list)
    model: bool = False  # the class is itself a ``PreTrainedModel`` (a module, known or not)
    built_ins: list[BuiltIn] = field(default_factory=list)  # judged for Hugging Face families only
    skipped: list[str] = field(default_factory=list)  # methods called that return at once (``skips``)

    def missing(self, tensors: Iterable[TensorDef]) -> dict[str, list[str]]:
        """label -> the tensors that initializer leaves unwritten."""
        found: dict[str, list[str]] = {}
        for judged in self.judged:
            names = [t.name for t in tensors if not _covers(judged.coverage, t)]
            if names:
                found[judged.label] = names
        return found

    def covered(self, tensors: Iterable[TensorDef]) -> list[str]:
        """The tensors every initializer writes."""
        return [t.name for t in tensors if all(_covers(j.coverage, t) for j in self.judged)]


def _tensor(name: str) -> TensorDef:
    """A built-in's tensor (``conv.weight``, ``bn.running_mean``) as the class that builds it holds it."""
    return TensorDef(name, "buffer" if name.rpartition(".")[2] in BUILTIN_BUFFERS else "parameter")


def _inherited(cls: ClassSummary) -> list[tuple[str, list[TensorDef]]]:
    """(built-in base, its tensors) of a class whose base is a torch built-in that creates tensors."""
    return [(entry[0], [_tensor(name) for name in entry[2]])
            for entry in cls.protocol.get("builtins", ()) if not entry[1]]


def _method_coverage(view: ClassView, subject: Known, method: str, skipped: set[str]) -> Coverage:
    """What ``module.<method>()`` writes of the class when ``_init_weights`` calls it: nothing when the method
    that runs returns at once because a submodule is already initialized (as every one is by then)."""
    for ancestor in subject.ancestors:
        if ancestor.summary is not None and method in ancestor.summary.methods:
            if method in ancestor.summary.protocol.get("skips", ()):
                skipped.add(method)
                return Coverage()
            break
    return view.coverage((method,))


def _builtin_methods(method: str) -> Coverage:
    """What ``module.<method>()`` writes of a built-in: torch's resets write every tensor it holds."""
    if method in ("reset_parameters", "_reset_parameters"):  # MultiheadAttention has the second only
        return Coverage(all_parameters=True, all_buffers=True)
    return Coverage(all_buffers=method == "reset_running_stats")


def _covers(coverage: Coverage, tensor: TensorDef) -> bool:
    # a tensor registered under a computed name is written by a write through a computed getattr
    return coverage.covers(tensor) or (tensor.name.startswith("<") and DYNAMIC in coverage.names)


@dataclass
class _Root:
    known: Known
    path: str
    kind: str  # "hugging-face" or "init-method"
    methods: tuple[str, ...] = ()  # the init methods that apply a dispatch (init-method roots)
    modular: bool = field(init=False)  # of a transformers ``modular_*.py`` file

    def __post_init__(self) -> None:
        self.modular = os.path.basename(self.path).startswith("modular_")


def _may_judge(root: _Root, subject: Known) -> bool:
    """A transformers ``modular_*.py`` file is the source the modeling file is generated from, never imported:
    its families judge its own classes only, not the other models' classes it inherits from."""
    return not root.modular or subject.module == root.known.module


_Members = dict[str, list[_Root]]  # class name -> the roots (in the order found) that hold it


class Protocols:
    """The init protocols of one run: the family roots found in the files given to ``add_roots``.

    Args:
        protocol: ``"auto"`` (each class by the protocol that covers it) or ``"reset_parameters"``.
        root: the project root, that messages name files relative to.
        init_methods: the configured ``init-methods``; those besides ``reset_parameters`` are root methods.
    """

    def __init__(self, index: ProjectIndex, protocol: str = "auto",
                 init_methods: Iterable[str] = ("reset_parameters",), root: str | None = None) -> None:
        self.index = index
        self.root = root  # files are named relative to it in messages
        self.enabled = protocol == "auto"
        self.root_methods = tuple(m for m in init_methods if m != "reset_parameters")
        self.cache: dict[str, Known] = {}
        self._closures: dict[str, frozenset[str]] = {}
        self._file_members: dict[str, frozenset[str]] = {}
        self._file_placed: dict[str, frozenset[str]] = {}
        self._builtin_coverage: dict[tuple[str, str, str], Coverage] = {}  # (root, label, built-in) -> writes
        self._by_member: dict[str, tuple[_Members, _Members, _Members]] = {}  # kind -> ``_members``
        self._searched: set[str] = set()
        self.roots: list[_Root] = []

    def add_roots(self, summaries: Iterable[FileSummary]) -> None:
        """Find the family roots and root-method classes of these files (each file once)."""
        for summary in summaries:
            if self.enabled and summary.path not in self._searched:
                self._searched.add(summary.path)
                self._find_roots(summary)

    def judges_families(self) -> bool:
        """Whether a Hugging Face family was found: only those judge the torch built-ins a class builds."""
        return any(root.kind == "hugging-face" for root in self.roots)

    # -- roots -------------------------------------------------------------------------------------
    def _find_roots(self, summary: FileSummary) -> None:
        for cls in summary.classes:
            if not may_be_root(cls):
                continue
            applies = cls.protocol.get("applies", {})
            methods = tuple(m for m in self.root_methods if m in applies)
            pretrained = any("pretrained" in (b or "").lower() for b in cls.bases)
            if not (methods or pretrained or any(b in PRETRAINED_BASES for b in cls.bases)):
                # a subclass of a model class (``class MyLlama(LlamaModel)``) may still be a family root
                if not self._maybe_model(cls.bases):
                    continue
            known = ancestry(self.index, summary.module, cls, self.cache)
            if known.names() & PRETRAINED_BASES:
                self.roots.append(_Root(known, summary.path, "hugging-face"))
            elif methods:
                self.roots.append(_Root(known, summary.path, "init-method", methods))
            else:
                continue
            self._by_member.clear()  # read again with the new root

    def _maybe_model(self, bases: list[str | None]) -> bool:
        for base in bases:
            if base is None:
                continue
            known = lookup(self.index, base, self.cache)
            if known.names() & PRETRAINED_BASES:
                return True
        return False

    def _closure(self, known: Known) -> frozenset[str]:
        """Every class built, transitively, by ``known``'s ``__init__`` (and its ancestors')."""
        if known.name in self._closures:
            return self._closures[known.name]
        self._closures[known.name] = frozenset({known.name})  # a cycle ends here
        members = {known.name}
        for ancestor in known.ancestors:
            summary = ancestor.summary
            if summary is None:
                continue
            for built in self.index.expand(summary.protocol.get("builds", ())):
                child = lookup(self.index, built, self.cache)
                # a sub-model (a PreTrainedModel inside a PreTrainedModel) is initialized by its own family
                if child.summary is not None and not child.names() & PRETRAINED_BASES:
                    members |= self._closure(child)
        self._closures[known.name] = frozenset(members)
        return self._closures[known.name]

    def _placed(self, module: str) -> frozenset[str]:
        """Classes only a mutator function of the file builds (``replace_batch_norm(backbone)``): they
        live in a tree the file does not name, so no family of the file judges them."""
        if module not in self._file_placed:
            summary = self.index.module(module)
            names: set[str] = set()
            if summary is not None:
                placed = {b for f in summary.functions.values() for b in f.get("places", ())}
                made = {b for f in summary.functions.values() for b in f.get("makes", ())}
                made |= {b for c in summary.classes for b in c.protocol.get("builds", ())}
                names = {lookup(self.index, b, self.cache).name for b in placed - made}
            self._file_placed[module] = frozenset(names)
        return self._file_placed[module]

    def _members_of_file(self, module: str) -> frozenset[str]:
        """The classes a file defines or imports (canonical names)."""
        if module not in self._file_members:
            summary = self.index.module(module)
            names: set[str] = set()
            if summary is not None:
                names |= {lookup(self.index, f"{module}.{c.name}", self.cache).name for c in summary.classes}
                for target in summary.imports.values():
                    if target.rpartition(".")[2][:1].isupper():
                        found = lookup(self.index, target, self.cache)
                        if found.summary is not None:
                            names.add(found.name)
                names -= self._placed(module)
            self._file_members[module] = frozenset(names)
        return self._file_members[module]

    # -- verdicts ----------------------------------------------------------------------------------
    def verdict(self, view: ClassView, module: str) -> Verdict | None:
        """The verdict for ``view``'s class of ``module``; ``None`` when no init protocol covers it."""
        if not self.enabled or not self.roots:
            return None
        subject = ancestry(self.index, module, view.cls, self.cache)
        for kind in ("hugging-face", "init-method"):
            tree, placed, files = self._members(kind)
            reaching = [r for r in tree.get(subject.name, ()) if _may_judge(r, subject)]
            if not reaching and kind == "hugging-face" and any(_may_judge(r, subject)
                                                               for r in placed.get(subject.name, ())):
                return Verdict(kind)  # put into a sub-model of unknown family: nothing to judge it by
            if not reaching:
                reaching = [r for r in files.get(subject.name, ()) if _may_judge(r, subject)]
            if reaching:
                skipped: set[str] = set()
                judged, children = self._judge(view, subject, reaching, skipped)
                found = Verdict(kind, judged, bool(subject.names() & PRETRAINED_BASES), skipped=sorted(skipped))
                if kind == "hugging-face":
                    found.built_ins = self._built_ins(view.cls, reaching, judged, children)
                return found
        return None

    def _members(self, kind: str) -> tuple[_Members, _Members, _Members]:
        """By class name, the roots of ``kind`` whose tree holds it, whose file places it (``_placed``), and whose
        file defines or imports it: built once, so that a verdict reads a few roots, not every one."""
        if kind not in self._by_member:
            tree: _Members = {}
            placed: _Members = {}
            files: _Members = {}
            for root in self.roots:
                if root.kind == kind:
                    for found, names in ((tree, self._closure(root.known)), (placed, self._placed(root.known.module)),
                                         (files, self._members_of_file(root.known.module))):
                        for name in names:
                            found.setdefault(name, []).append(root)
            self._by_member[kind] = (tree, placed, files)
        return self._by_member[kind]

    def _judge(self, view: ClassView, subject: Known, roots: list[_Root],
               skipped: set[str]) -> tuple[list[Judged], dict[str, dict[str, set[str]]]]:
        """What each initializer writes of the class, and, by label, what it writes into each child
        (``init.normal_(module.conv.weight)``); adds to ``skipped`` the methods called that write nothing."""
        evaluator = Evaluator(self.index, subject, self.cache,
                              lambda name: _method_coverage(view, subject, name, skipped))
        judged: dict[str, Judged] = {}
        children: dict[str, dict[str, set[str]]] = {}
        for root in roots:
            for label, steps, helpers in self._initializers(root):
                if label not in judged:
                    evaluator.child_writes = {}
                    judged[label] = Judged(label, evaluator.run(steps, helpers))
                    children[label] = evaluator.child_writes
        tensors = [*view.tensors, *(t for entry in _inherited(view.cls) for t in entry[1])]
        if any(not all(_covers(j.coverage, t) for t in tensors) for j in judged.values()):
            self._through_parents(subject, roots, judged)
        return list(judged.values()), children

    # -- torch built-ins ---------------------------------------------------------------------------
    def _built_ins(self, cls: ClassSummary, roots: list[_Root], judged: list[Judged],
                   children: dict[str, dict[str, set[str]]]) -> list[BuiltIn]:
        """The built-ins ``cls`` builds (``protocol["builtins"]``), each judged as a class of the family: the
        dispatch that runs over it, and what the class's own branch writes into it (``module.conv.weight``)."""
        found = []
        for qualified, tensors in _inherited(cls):  # judged with the class itself
            missing = {j.label: names for j in judged
                       if (names := [t.name for t in tensors if not _covers(j.coverage, t)])}
            found.append(BuiltIn(qualified, "", missing, tensors))
        for qualified, path, names in cls.protocol.get("builtins", ()):
            if not path:
                continue
            subject = lookup(self.index, qualified, self.cache)
            tensors = [_tensor(f"{path}.{name}") for name in names]
            missing: dict[str, list[str]] = {}
            for root in roots:
                for label, steps, helpers in self._initializers(root):
                    if label in missing:
                        continue
                    direct = children.get(label, {}).get(path, set())  # a write into the child itself
                    left = [t.name for t, name in zip(tensors, names)
                            if name not in direct and not self._writes(root, label, steps, helpers, subject, name)]
                    missing[label] = left
            found.append(BuiltIn(qualified, path, {k: v for k, v in missing.items() if v}, tensors))
        return found

    def _writes(self, root: _Root, label: str, steps: list[Any], helpers: Helpers, subject: Known, name: str) -> bool:
        """Whether the dispatch may write the built-in's tensor ``name`` (``parametrizations.weight.original0``
        belongs to the ``ParametrizationList`` that ``weight_norm`` puts in between)."""
        if name.startswith("parametrizations."):
            subject, name = builtin("ParametrizationList", self.cache), name.rpartition(".")[2]
        key = (root.known.name, label, subject.name)
        if key not in self._builtin_coverage:
            evaluator = Evaluator(self.index, subject, self.cache, _builtin_methods)
            self._builtin_coverage[key] = evaluator.run(steps, helpers)
        return _covers(self._builtin_coverage[key], _tensor(name))

    def _through_parents(self, subject: Known, roots: list[_Root], judged: dict[str, Judged]) -> None:
        """Add what a branch for a parent writes into the subject (``init.normal_(module.gate.weight)``)."""
        members = set().union(*(self._closure(r.known) | self._members_of_file(r.known.module) for r in roots))
        for name in sorted(members):
            parent = self.cache.get(name)
            if parent is None or parent.summary is None:
                continue
            attributes = [a for a, built in parent.summary.protocol.get("children", {}).items()
                          if lookup(self.index, built, self.cache).name == subject.name]
            if not attributes:
                continue
            evaluator = Evaluator(self.index, parent, self.cache, lambda _: Coverage())
            for root in roots:
                for label, steps, helpers in self._initializers(root):
                    if label in judged:
                        evaluator.child_writes = {}
                        evaluator.run(steps, helpers)
                        for attribute in attributes:
                            judged[label].coverage.names |= evaluator.child_writes.get(attribute, set())

    def _initializers(self, root: _Root) -> list[tuple[str, list[Any], Helpers]]:
        """(label, dispatch, helpers) of what runs over the root's tree."""
        if root.kind == "hugging-face":
            found = self._method(root, "_init_weights", 0)
            return [found] if found is not None else []
        initializers = []
        for method in root.methods:
            owner = self._owner(root, method, 0)
            if owner is None:
                continue
            position, ancestor = owner
            for ref in ancestor.summary.protocol["applies"][method]:  # type: ignore[union-attr]
                for label, steps, helpers in self._functions(root, ref, position, f"`{ancestor.short}.{method}()`"):
                    initializers.append((label, steps, helpers))
        return initializers

    def _owner(self, root: _Root, method: str, start: int) -> tuple[int, Known] | None:
        for position, ancestor in enumerate(root.known.ancestors[start:], start):
            summary = ancestor.summary
            if summary is not None and method in summary.methods:
                return position, ancestor
        return None

    def _method(self, root: _Root, name: str, start: int) -> tuple[str, list[Any], Helpers] | None:
        """The dispatch of ``self.name`` looked up from MRO position ``start``."""
        for position, ancestor in enumerate(root.known.ancestors[start:], start):
            if ancestor.name in PRETRAINED_BASES and name == "_init_weights":
                return _BASE_LABEL, BASE_INIT_WEIGHTS, self._helpers(root, position)
            summary = ancestor.summary
            if summary is not None and name in summary.methods:
                if name == "_init_weights" and name in summary.protocol.get("deleted", ()):
                    # ``raise AttributeError("No need to override")`` in a ``modular_*.py`` file: the class
                    # generated from it has no ``_init_weights`` and derives from ``PreTrainedModel`` itself
                    return _BASE_LABEL, BASE_INIT_WEIGHTS, self._helpers(root, position)
                steps = summary.protocol.get("dispatches", {}).get(name, [])
                label = f"`{ancestor.short}.{name}` ({self._path(ancestor.module)})"
                return label, steps, self._helpers(root, position)
        return None

    def _helpers(self, root: _Root, position: int) -> Helpers:
        def resolve(kind: str, name: str) -> tuple[list[Any], Helpers] | None:
            if kind in ("self", "super"):
                found = self._method(root, name, 0 if kind == "self" else position + 1)
                return (found[1], found[2]) if found is not None else None
            if kind == "class":  # Base._init_weights(self, module): from Base's place in the MRO
                qualified, _, method = name.rpartition(":")
                owner = lookup(self.index, qualified, self.cache).name
                for start, ancestor in enumerate(root.known.ancestors):
                    if ancestor.name == owner:
                        found = self._method(root, method, start)
                        return (found[1], found[2]) if found is not None else None
                return [["helper", "unknown", name]], resolve  # not an ancestor: may write anything
            if kind == "function":
                facts = self.index.function(name)
                if facts is None:
                    return [["helper", "unknown", name]], resolve  # not of the project: may write anything
                return facts.get("dispatch", []), resolve
            return None

        return resolve

    def _functions(self, root: _Root, ref: list[Any], position: int, label: str,
                   depth: int = 0) -> list[tuple[str, list[Any], Helpers]]:
        """The dispatches a function reference of ``apply``/``named_apply`` stands for."""
        helpers = self._helpers(root, position)
        kind = ref[0]
        if kind == "inline":
            return [(label, ref[1], helpers)]
        if kind == "method":
            found = self._method(root, ref[1], 0)
            return [(label, found[1], found[2])] if found is not None else []
        facts = self.index.function(ref[1])
        if facts is None:
            return [(label, [["helper", "unknown", ref[1]]], helpers)]
        if kind == "function":
            return [(label, facts.get("dispatch", []), helpers)]
        if depth > 4:
            return []
        return [item for returned in facts.get("returns", ())  # a factory: what it returns
                for item in self._functions(root, returned, position, label, depth + 1)]

    def _path(self, module: str) -> str:
        """The file of a module, relative to the project root (``src/pkg/mod.py``) when under it."""
        summary = self.index.module(module)
        if summary is not None and self.root is not None:
            where = os.path.relpath(summary.path, self.root)
            if not where.startswith(".."):
                return where.replace(os.sep, "/")
        if summary is None or summary.path.endswith("__init__.py"):
            return module.replace(".", "/") + "/__init__.py"
        return module.replace(".", "/") + ".py"
