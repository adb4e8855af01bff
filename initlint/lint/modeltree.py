"""The classes a script's model is made of, as far as one file and the torch table tell.

The to_empty rules (INI108-INI110) ask what the model built under the meta device holds: its
non-persistent buffers, its tied weights, the torch built-ins a reset loop misses. A file rule sees
its own file only, so the tree is followed through the classes this file defines (their bases and
what their ``__init__`` builds) and the torch built-ins; a class imported from elsewhere ends it.
"""

from __future__ import annotations

from collections.abc import Iterator

from initlint.lint.lazy import cst
from initlint.lint.names import ImportTable
from initlint.lint.scopes import Call, Scope
from initlint.lint.summary import ClassSummary
from initlint.lint.torch_table import BUILTIN_MODULES

__all__ = ["model_class", "tree_of", "materialized", "class_defs"]


def model_class(scope: Scope, model: str, imports: ImportTable) -> str | None:
    """The qualified class ``model`` was built from in ``scope`` (``model = Net(...)``), if known."""
    value = scope.values.get(model)
    if not isinstance(value, cst.Call):
        return None
    return imports.qualify(value.func)


def tree_of(qualified: str, classes: dict[str, ClassSummary]) -> Iterator[tuple[str, ClassSummary | None]]:
    """``qualified`` and every class of its tree this file or the torch table knows, each once:
    with its summary (a class of this file) or ``None`` (a torch built-in)."""
    seen: set[str] = set()
    pending = [qualified]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        summary = classes.get(name)
        if summary is not None:
            yield name, summary
            pending += [base for base in summary.bases if base is not None]
            pending += [built for built in summary.protocol.get("builds", ()) if ":" not in built]
        elif name in BUILTIN_MODULES:
            yield name, None


def materialized(scopes: Iterator[Scope], imports: ImportTable) -> Iterator[tuple[Scope, Call, str]]:
    """Each ``model.to_empty(...)`` on a model built in the same scope under an empty-init context,
    with the scope and the model's qualified class."""
    for scope in scopes:
        for call in scope.calls:
            if call.method != "to_empty" or not call.on_receiver or call.model not in scope.built:
                continue
            if scope.built[call.model][2] >= call.index or call.model.startswith("self."):
                continue
            qualified = model_class(scope, call.model, imports)
            if qualified is not None:
                yield scope, call, qualified


def class_defs(module: cst.Module) -> dict[str, cst.ClassDef]:
    """The module's top-level classes by name."""
    return {s.name.value: s for s in module.body if isinstance(s, cst.ClassDef)}
