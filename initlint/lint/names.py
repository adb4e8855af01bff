"""Resolve the names a file uses to the qualified names they import.

The table is filled from CPython's ``ast`` (the fast parse every file gets) and answers for both
``ast`` and libcst expressions, so the class summaries (``ast``) and the script-order rules (libcst)
share one meaning of every name.

libcst's ``QualifiedNameProvider`` answers the same question through a full scope analysis, which
costs about eight times the parse on real code (measured on torch's sources, see issue 7). The rules
only need to know what ``nn.Parameter`` or ``tnn.Linear`` *means*, and those names almost always come
from imports, so one pass over the import statements gives the same answers at a fraction of the cost.
"""

from __future__ import annotations

import ast

from initlint.lint.lazy import cst

__all__ = ["ImportTable", "dotted", "module_name_for", "strip_tensor"]


def dotted(node: cst.BaseExpression | ast.expr | None) -> str | None:
    """Return ``a.b.c`` for a ``Name``/``Attribute`` chain (libcst or ``ast``), ``None`` otherwise."""
    if isinstance(node, ast.AST):  # checked first: an ast-only run never loads libcst
        if type(node) is ast.Name:  # the most common callee: no list, no join
            return node.id
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        parts.append(node.id)
        return ".".join(reversed(parts))
    return _dotted_cst(node) if node is not None else None


def _dotted_cst(node: cst.BaseExpression) -> str | None:
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def strip_tensor(node: ast.expr) -> ast.expr:
    """``x`` of ``x[...]``, ``x.data``, ``x.data[...]``, ``x.view(...)``: the tensor an expression writes into.

    A view shares its tensor's memory, so a write through it (``xavier_normal_(self.att.view(h, -1))``)
    writes the tensor; only methods that always return a view count (``reshape`` and ``flatten`` may copy).
    """
    while True:
        if isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Attribute) and node.attr == "data":
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _VIEWS:
            node = node.func.value
        else:
            return node


_VIEWS = frozenset({"view", "view_as", "unsqueeze", "squeeze", "t", "transpose", "permute", "narrow", "select",
                    "unflatten", "diagonal", "detach", "as_strided", "unfold"})


def module_name_for(parts: tuple[str, ...]) -> str:
    """The dotted module name of a file, given its path parts inside the package tree."""
    *packages, stem = parts
    return ".".join(packages) if stem == "__init__" else ".".join([*packages, stem])


class ImportTable:
    """Maps the local names of one file to fully qualified names.

    Args:
        module: the dotted name of the file's module (``pkg.sub.mod``).
        is_package: whether the file is a package's ``__init__.py``.
    """

    def __init__(self, module: str, is_package: bool = False) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.aliases: dict[str, str] = {}

    def add(self, node: ast.Import | ast.ImportFrom) -> None:
        """Record the names bound by one import statement."""
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname is not None:
                    self.aliases[alias.asname] = alias.name
                else:
                    head = alias.name.partition(".")[0]
                    self.aliases[head] = head
            return
        source = self._from_module(node)
        if source is None:
            return
        for alias in node.names:
            if alias.name != "*":
                self.aliases[alias.asname or alias.name] = f"{source}.{alias.name}" if source else alias.name

    def define(self, local: str) -> None:
        """Record a name the module defines itself (a class or function)."""
        self.aliases[local] = f"{self.module}.{local}" if self.module else local

    def qualify(self, node: cst.BaseExpression | ast.expr | None) -> str | None:
        """The qualified name of a ``Name``/``Attribute`` expression, or ``None`` if unknown."""
        name = dotted(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        target = self.aliases.get(head)
        if target is None:
            return None
        return f"{target}.{rest}" if rest else target

    def _from_module(self, node: ast.ImportFrom) -> str | None:
        level = node.level or 0
        name = node.module or ""
        if level == 0:
            return name
        base = self.package.split(".") if self.package else []
        if level - 1 > len(base):
            return None
        base = base[: len(base) - (level - 1)]
        return ".".join([*base, name] if name else base)
