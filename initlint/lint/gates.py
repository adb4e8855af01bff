"""Cheap questions about a file's ``ast`` tree that decide whether a script-order rule needs the
file's libcst tree at all.

Every candidate file is parsed with CPython's ``ast`` anyway; a libcst parse costs ten times more
(issue 7), and a word like ``"meta"`` appears in many files that never build a model under an
empty-init context. A gate answers a necessary condition of its rule, never the rule's question.
"""

from __future__ import annotations

import ast

from initlint.lint import known
from initlint.lint.astwalk import walk
from initlint.lint.names import ImportTable, dotted

__all__ = ["builds_under_empty_init", "builds_optimizer_and_sets_up", "calls_to_empty_on_a_name"]

_CONTEXTS = known.META_CONTEXTS | known.VERIFIED_CONTEXTS | {"torch.device"}


def builds_under_empty_init(tree: ast.Module, imports: ImportTable) -> bool:
    """Whether any ``with`` enters a context that may leave weights empty (``torch.device(...)``,
    ``init_empty_weights()``, ``*.init_module(...)``, ``verified_empty_init(...)``), or a statement
    assigns the result of ``skip_init(...)``. Reads statements only, not every expression."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                expr = item.context_expr
                if isinstance(expr, ast.Call) and _is_empty_init_context(expr.func, imports):
                    return True
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
            if imports.qualify(node.value.func) in known.SKIP_INIT:
                return True
        for field in ("body", "orelse", "finalbody", "handlers"):
            stack.extend(getattr(node, field, ()))
    return False


def _is_empty_init_context(func: ast.expr, imports: ImportTable) -> bool:
    if isinstance(func, ast.Attribute) and func.attr == "init_module":
        return True
    return imports.qualify(func) in _CONTEXTS


_SETUP_CALLS = frozenset({"setup", "setup_module", "fully_shard", "FullyShardedDataParallel", "FSDP", "to_empty"})
_PARAMETER_ATTRS = frozenset({"parameters", "named_parameters"})


def builds_optimizer_and_sets_up(tree: ast.Module, imports: ImportTable) -> bool:
    """Whether the file calls a set-up that may replace parameters (``*.setup(...)``, ``fully_shard``,
    FSDP, ``to_empty``) and builds something an optimizer can come from: an optimizer class, a callee
    named like one (``configure_optimizers``), a call given ``params=`` or ``instantiate``, or any
    ``.parameters()`` read (``[Adam([p]) for p in model.parameters()]``, an optimizer from
    ``extra-optimizers``)."""
    sets_up = optimizer = False
    for node in walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in _SETUP_CALLS:
                sets_up = True
            elif not optimizer and (
                "optim" in name.lower()
                or name == "instantiate"
                or any(k.arg == "params" for k in node.keywords)
                or known.is_optimizer(imports.qualify(func))
            ):
                optimizer = True
        elif not optimizer and isinstance(node, ast.Attribute) and node.attr in _PARAMETER_ATTRS:
            optimizer = True
        if sets_up and optimizer:
            return True
    return False


def calls_to_empty_on_a_name(tree: ast.Module) -> bool:
    """Whether the file calls ``x.to_empty(...)`` on a name or attribute chain (``model``, ``self.net``):
    the word alone is also a method definition, a docstring or an error message (torch's ``Module``)."""
    for node in walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "to_empty":
            if dotted(node.func.value) is not None:
                return True
    return False
