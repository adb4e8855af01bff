"""The classes a script's model is made of: its class, their bases and what their ``__init__`` builds.

The to_empty rules (INI108-INI110) ask what the model built under the meta device holds: its
non-persistent buffers, its tied weights, the torch built-ins a reset loop misses. The script names
the model's class (``materialized``); the engine follows the tree through the project's classes, in
whatever file they live (``tree_of`` with the project index's ``resolve``), and the torch built-ins.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from initlint.lint.lazy import cst
from initlint.lint.names import ImportTable
from initlint.lint.scopes import Call, Scope
from initlint.lint.summary import ClassSummary
from initlint.lint.torch_table import BUILTIN_MODULES

if TYPE_CHECKING:
    from initlint.lint.index import ProjectIndex

__all__ = ["model_class", "tree_of", "materialized", "ModelTree"]

ModelTree = list[tuple[str, "ClassSummary | None"]]  # (class name, its summary; ``None``: known from a table)


_FROM_CONFIG = (".from_config", "._from_config")  # transformers: builds the class, loads nothing


def model_class(scope: Scope, model: str, imports: ImportTable) -> str | None:
    """The qualified class ``model`` was built from in ``scope`` (``model = Net(...)``, or
    ``LlamaForCausalLM.from_config(config)``), if known."""
    value = scope.values.get(model)
    if not isinstance(value, cst.Call):
        return None
    qualified = imports.qualify(value.func)
    if qualified is not None and qualified.endswith(_FROM_CONFIG):
        return qualified.rpartition(".")[0]
    return qualified


def tree_of(qualified: str, index: ProjectIndex) -> ModelTree:
    """``qualified`` and every class of its tree the project or a table knows, each once: with its
    summary (a class of the project) or ``None`` (a torch built-in, or a transformers model class, whose
    facts the rules read from the tables by name). ``index`` finds the project's classes, and the classes
    a factory function makes (``ProjectIndex.expand``); a class neither it nor a table knows ends that branch."""
    from initlint.lint import hf_models  # a large table: only for these questions

    tree: ModelTree = []
    seen: set[str] = set()
    found: set[int] = set()  # one class reached under two names (a re-export) counts once
    pending = [qualified]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in BUILTIN_MODULES:
            tree.append((name, None))
            continue
        summary = index.resolve(name)
        if isinstance(summary, ClassSummary):
            if id(summary) not in found:
                found.add(id(summary))
                tree.append((summary.name, summary))
                pending += [base for base in summary.bases if base is not None]
                pending += index.expand(summary.protocol.get("builds", ()))
        elif name.startswith("transformers.") and hf_models.knows(name.rpartition(".")[2]):
            tree.append((name, None))  # installed, not the project's: known from the table
    return tree


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
