"""Resolve the names a file uses to the qualified names they import.

libcst's ``QualifiedNameProvider`` answers the same question through a full scope analysis, which
costs about eight times the parse on real code (measured on torch's sources, see issue 7). The rules
only need to know what ``nn.Parameter`` or ``tnn.Linear`` *means*, and those names almost always come
from imports, so one pass over the import statements gives the same answers at a fraction of the cost.
"""

from __future__ import annotations

import libcst as cst

__all__ = ["ImportTable", "dotted", "module_name_for"]


def dotted(node: cst.BaseExpression | None) -> str | None:
    """Return ``a.b.c`` for a ``Name``/``Attribute`` chain, ``None`` for anything else."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


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

    def add(self, node: cst.Import | cst.ImportFrom) -> None:
        """Record the names bound by one import statement."""
        if isinstance(node, cst.Import):
            for alias in node.names:
                full = dotted(alias.name) or ""
                if alias.asname is not None:
                    self.aliases[_as_name(alias)] = full
                else:
                    head = full.partition(".")[0]
                    self.aliases[head] = head
            return
        source = self._from_module(node)
        if source is None or isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            name = dotted(alias.name) or ""
            local = _as_name(alias) if alias.asname is not None else name
            self.aliases[local] = f"{source}.{name}" if source else name

    def define(self, local: str) -> None:
        """Record a name the module defines itself (a class or function)."""
        self.aliases[local] = f"{self.module}.{local}" if self.module else local

    def qualify(self, node: cst.BaseExpression | None) -> str | None:
        """The qualified name of a ``Name``/``Attribute`` expression, or ``None`` if unknown."""
        name = dotted(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        target = self.aliases.get(head)
        if target is None:
            return None
        return f"{target}.{rest}" if rest else target

    def _from_module(self, node: cst.ImportFrom) -> str | None:
        level = len(node.relative)
        name = dotted(node.module) if node.module is not None else ""
        if level == 0:
            return name
        base = self.package.split(".") if self.package else []
        if level - 1 > len(base):
            return None
        base = base[: len(base) - (level - 1)]
        return ".".join([*base, name] if name else base)


def _as_name(alias: cst.ImportAlias) -> str:
    assert alias.asname is not None
    target = alias.asname.name
    return dotted(target) or "" if isinstance(target, (cst.Name, cst.Attribute)) else ""
