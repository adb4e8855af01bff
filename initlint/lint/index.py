"""The project-wide class index: inheritance and ``reset_parameters`` across files.

Built from the ``FileSummary`` of every file of the project; it resolves a base class through the
project's own modules (re-exports through ``__init__.py`` included), torch.nn's built-ins (from the
generated table) and the other known module bases.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, TypeVar

from initlint.lint import known
from initlint.lint.protocols.facts import mapped_classes
from initlint.lint.summary import ClassSummary, FileSummary, TensorDef
from initlint.lint.torch_table import BUILTIN_MODULES

__all__ = ["BuiltinClass", "ProjectIndex", "ClassView", "Coverage", "Judge", "c3_merge"]

_T = TypeVar("_T")

_MAX_HOPS = 16  # re-export chains longer than this are cycles
_MAX_CALLS = 32  # factory calls followed from one ``__init__``


@dataclass(frozen=True)
class BuiltinClass:
    """A module class from torch or another library, known from the tables."""

    name: str
    has_reset: bool
    tensors: tuple[str, ...] = ()


@dataclass
class Coverage:
    """The tensors that a class's init methods write."""

    names: set[str] = field(default_factory=set)
    all_parameters: bool = False
    all_buffers: bool = False
    guarded: dict[str, set[str]] = field(default_factory=dict)  # name -> guards of its writes ("" = none)

    def covers(self, tensor: TensorDef) -> bool:
        """Whether the init methods write ``tensor``."""
        if tensor.name in self.names:
            # `if self.requires_grad: self.beta.fill_(1)` writes the parameter made under `if requires_grad:`,
            # not the buffer of the same name made under its `else:`
            return not tensor.condition or self.guarded.get(tensor.name) != {_negated(tensor.condition)}
        return self.all_parameters if tensor.kind == "parameter" else self.all_buffers


def _negated(condition: str) -> str:
    return condition[1:] if condition.startswith("!") else f"!{condition}"


class Judge(Protocol):
    """What judges a class by its init protocol (``protocols.judge.Protocols``, set by the engine).

    The index is data the judge reads; it holds the judge only to hand it the classes the rules ask
    about, and never imports it (imports flow one way).
    """

    def verdict(self, view: ClassView, module: str) -> Any:
        """The ``protocols.judge.Verdict`` for ``view``'s class of ``module``, or ``None``."""


class ProjectIndex:
    """The project's classes by qualified name, read lazily one module at a time.

    Args:
        load: returns the summary of a module of the project by dotted name (``None`` if absent);
            called at most once per module, only for modules a base class is looked up in.
        extra_module_bases: qualified names to treat as ``nn.Module`` bases without ``reset_parameters``.
        init_methods: the method names that count as a reset.
    """

    def __init__(
        self,
        load: Callable[[str], FileSummary | None],
        extra_module_bases: Iterable[str] = (),
        init_methods: Iterable[str] = ("reset_parameters",),
    ) -> None:
        self._load = load
        self._modules: dict[str, FileSummary | None] = {}
        self.init_methods = tuple(init_methods)
        self.extra_bases = frozenset(extra_module_bases)
        # a library's base counts as a module base once its init method is configured (mmengine's
        # ``init_weights``), where the project does not hold that library's source itself
        self.library_bases = frozenset(base for method, bases in known.MODULE_BASES_BY_INIT_METHOD.items()
                                       if method in self.init_methods for base in bases)
        self.protocols: Judge | None = None  # set by the engine when init protocols judge classes

    def module(self, name: str) -> FileSummary | None:
        """The summary of a module of the project, or ``None``."""
        if name not in self._modules:
            self._modules[name] = self._load(name)
        return self._modules[name]

    def resolve(self, qualified: str | None) -> ClassSummary | BuiltinClass | None:
        """The class a qualified name refers to, following re-exports; ``None`` if unknown."""
        for _ in range(_MAX_HOPS):
            if qualified is None:
                return None
            builtin = self._builtin(qualified)
            if builtin is not None:
                return builtin
            module, _, name = qualified.rpartition(".")
            summary = self.module(module)
            if summary is None:
                return BuiltinClass(qualified, False) if qualified in self.library_bases else None
            for cls in summary.classes:
                if cls.name == name:
                    return cls
            target = summary.imports.get(name)
            qualified = None if target == qualified else target
        return None

    def function(self, qualified: str) -> dict[str, Any] | None:
        """The facts of a module-level function of the project (``FileSummary.functions``), following
        re-exports: ``{}`` for one that has none, ``None`` for a function outside the project."""
        module, _, name = qualified.rpartition(".")
        for _ in range(8):
            summary = self.module(module) if module else None
            if summary is None:
                return None
            if name in summary.functions:
                return summary.functions[name]
            target = summary.imports.get(name)
            if target is None or target == f"{module}.{name}":
                return {}
            module, _, name = target.rpartition(".")
        return None

    def expand(self, builds: Iterable[str]) -> list[str]:
        """The class names of a ``builds`` fact, with each ``call:<function>`` replaced by the classes
        that factory makes, and each ``map:`` entry by the classes of that dict of classes."""
        found: list[str] = []
        work, seen = list(builds), set()
        while work:
            built = work.pop(0)
            if not built.startswith(("call:", "map:")):
                found.append(built)
            elif built not in seen and len(seen) < _MAX_CALLS:
                seen.add(built)
                if built.startswith("call:"):
                    work += (self.function(built[5:]) or {}).get("makes", ())
                    continue
                qualified, key, called = built[4:].split("|")
                mapping = self.function(qualified) or {}
                if "classes" in mapping:
                    work += mapped_classes(mapping, key, called == "1")
        return found

    def _builtin(self, qualified: str) -> BuiltinClass | None:
        entry = BUILTIN_MODULES.get(qualified)
        if entry is not None:
            return BuiltinClass(qualified, entry[0], entry[1])
        if qualified in known.MODULE_BASES_WITHOUT_RESET or qualified in self.extra_bases:
            return BuiltinClass(qualified, False)
        return None

    def view(self, cls: ClassSummary, module: str = "") -> ClassView:
        """The rules' view of ``cls`` (of ``module``: the init protocols judge it only when given)."""
        return ClassView(self, cls, module)


class ClassView:
    """A class with its ancestors resolved: what the class rules ask about.

    ``protocol`` is the verdict of the init protocol that covers the class (``lint/protocols``), or
    ``None`` where only ``reset_parameters`` (and ``init-methods``) apply.
    """

    def __init__(self, index: ProjectIndex, cls: ClassSummary, module: str = "") -> None:
        self.index = index
        self.cls = cls
        self.mro, self.complete = _linearize(index, cls)
        self.module = module

    @cached_property
    def protocol(self) -> Any:
        """The ``protocols.judge.Verdict`` of the init protocol that covers the class, or ``None``
        (judged on first use)."""
        judge = self.index.protocols
        return judge.verdict(self, self.module) if judge is not None and self.module else None

    @property
    def is_module(self) -> bool:
        """Whether some ancestor is a known ``nn.Module``."""
        return any(isinstance(c, BuiltinClass) for c in self.mro)

    @property
    def tensors(self) -> list[TensorDef]:
        """The tensors this class creates itself."""
        return self.cls.tensors

    def describe(self, names: Iterable[str | TensorDef] | None = None) -> str:
        """``parameter `weight`, buffer `inv_freq` (non-persistent ...)``, for messages: the tensors named, or
        given (a parameter and a buffer may share a name under opposite guards: ``parameter or buffer `r```)."""
        wanted = None if names is None else {n if isinstance(n, str) else id(n) for n in names}
        parts: dict[str, str] = {}
        for tensor in self.tensors:
            if wanted is not None and tensor.name not in wanted and id(tensor) not in wanted:
                continue
            shown = tensor.name if tensor.name.startswith("<") else f"`{tensor.name}`"
            extra = " (non-persistent: no checkpoint restores it)" if not tensor.persistent else ""
            if tensor.name in parts and not parts[tensor.name].startswith(tensor.kind):
                parts[tensor.name] = f"parameter or buffer {shown}"
            else:
                parts.setdefault(tensor.name, f"{tensor.kind} {shown}{extra}")
        return ", ".join(parts.values())

    def init_method(self) -> str | None:
        """The name of the first init method defined or inherited, if any."""
        for name in self.index.init_methods:
            for c in self.mro:
                if isinstance(c, ClassSummary) and name in c.methods:
                    return name
                if isinstance(c, BuiltinClass) and c.has_reset and name == "reset_parameters":
                    return name
        return None

    def coverage(self, methods: Iterable[str] | None = None) -> Coverage:
        """The tensors written by the init methods (or ``methods``), following ``self.x()`` and
        ``super().x()``."""
        covered = Coverage()
        seen: set[tuple[str, int]] = set()
        work = [(name, 0) for name in (self.index.init_methods if methods is None else methods)]
        while work:
            name, start = work.pop()
            if (name, start) in seen:
                continue
            seen.add((name, start))
            position, owner = self._lookup(name, start)
            if isinstance(owner, BuiltinClass):
                covered.names.update(owner.tensors)
            elif isinstance(owner, ClassSummary):
                facts = owner.methods[name]
                covered.names.update(facts.writes)
                for written in facts.writes:
                    covered.guarded.setdefault(written, set()).add(facts.guarded.get(written, ""))
                covered.all_parameters |= facts.writes_all_parameters
                covered.all_buffers |= facts.writes_all_buffers
                work += [(call, 0) for call in facts.self_calls]
                work += [(call, position + 1) for call in facts.super_calls]
        return covered

    def _lookup(self, method: str, start: int) -> tuple[int, ClassSummary | BuiltinClass | None]:
        for position in range(start, len(self.mro)):
            c = self.mro[position]
            if isinstance(c, ClassSummary) and method in c.methods:
                return position, c
            if isinstance(c, BuiltinClass) and c.has_reset and method == "reset_parameters":
                return position, c
        return -1, None


def c3_merge(head: _T, parents: Sequence[_T], orders: Sequence[Sequence[_T]],
             key: Callable[[_T], Hashable] = id) -> list[_T]:
    """``head``'s linearization from its parents and theirs, by C3 as Python computes ``__mro__``.

    Where the orders admit no C3 merge (Python refuses such a class; here it may be a cycle or a
    base read wrongly), the first order's next class is taken, as a depth-first walk would.
    """
    taken = {key(head)}
    sequences = [[(key(c), c) for c in order] for order in (*orders, parents)]
    result = [head]
    while True:
        sequences = [[(k, c) for k, c in seq if k not in taken] for seq in sequences]
        sequences = [seq for seq in sequences if seq]
        if not sequences:
            return result
        tails = {k for seq in sequences for k, _ in seq[1:]}
        chosen = next((seq[0] for seq in sequences if seq[0][0] not in tails), sequences[0][0])
        taken.add(chosen[0])
        result.append(chosen[1])


def _linearize(index: ProjectIndex, cls: ClassSummary) -> tuple[list[ClassSummary | BuiltinClass], bool]:
    """``cls`` and its ancestors in method resolution order (C3), and whether every base was resolved."""
    complete = True
    orders: dict[Hashable, list[ClassSummary | BuiltinClass]] = {}

    def order(current: ClassSummary | BuiltinClass, active: set[Hashable]) -> list[ClassSummary | BuiltinClass]:
        nonlocal complete
        k = _key(current)
        if k in orders:
            return orders[k]
        if isinstance(current, BuiltinClass) or k in active or len(active) > _MAX_DEPTH:
            return [current]  # a built-in ends the line; a cycle is cut where it closes
        active.add(k)
        parents = []
        for base in current.bases:
            resolved = index.resolve(base)
            if resolved is None:
                complete = complete and (base in _HARMLESS_BASES or base in _PYTHON_BUILTINS)
            else:
                parents.append(resolved)
        orders[k] = c3_merge(current, parents, [order(p, active) for p in parents], _key)
        active.discard(k)
        return orders[k]

    return order(cls, set())[:64], complete


def _key(c: ClassSummary | BuiltinClass) -> Hashable:
    """A class summary is itself; a built-in is made anew by each ``resolve``: its name."""
    return c.name if isinstance(c, BuiltinClass) else id(c)


_MAX_DEPTH = 64


# Bases that never define reset_parameters or make a class a module.
_HARMLESS_BASES = frozenset(
    {
        "abc.ABC",
        "typing.Generic",
        "typing.Protocol",
        "typing_extensions.Protocol",
        "enum.Enum",
        "object",
    }
)
_PYTHON_BUILTINS = frozenset(name for name in dir(builtins) if isinstance(getattr(builtins, name), type))
