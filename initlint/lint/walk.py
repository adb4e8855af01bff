"""Reading libcst trees fast: a pre-order walk, the blocks of a statement, a node's source.

libcst's visitor protocol rebuilds each node's children as it goes (``_visit_and_replace_children``),
which made it the largest cost of a lint run after the parse itself (profiled on torch's sources).
The rules only read the tree, so this walk reads the dataclass fields directly and skips the fields
that only hold whitespace and punctuation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence

from initlint.lint.lazy import cst

__all__ = ["iter_tree", "blocks_of", "source_of"]

_NOISE = ("whitespace", "leading_lines", "lines_after", "newline", "comma", "semicolon", "lpar", "rpar",
          "lbracket", "rbracket", "lbrace", "rbrace", "colon", "header", "footer", "equal", "star_tok")
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = tuple(
            f.name for f in dataclasses.fields(cls) if not any(noise in f.name for noise in _NOISE)
        )
        _FIELDS[cls] = names
    return names


def iter_tree(node: cst.CSTNode, prune: tuple[type, ...] = ()) -> Iterator[cst.CSTNode]:
    """Every node under ``node`` (itself first), in source order.

    Nodes of the ``prune`` types are yielded, but not entered (unless it is ``node`` itself).
    """
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        yield current
        if prune and current is not node and isinstance(current, prune):
            continue
        children: list[cst.CSTNode] = []
        for name in _fields(type(current)):
            value = getattr(current, name)
            kind = type(value)
            if kind is list or kind is tuple:
                children.extend(item for item in value if _is_node(type(item)))
            elif _is_node(kind):
                children.append(value)
        stack.extend(reversed(children))


_NODE_TYPES: dict[type, bool] = {}


def _is_node(kind: type) -> bool:
    """``issubclass(kind, CSTNode)``, memoized: the ABC check is slow on hot paths."""
    known = _NODE_TYPES.get(kind)
    if known is None:
        known = _NODE_TYPES[kind] = issubclass(kind, cst.CSTNode)
    return known


def source_of(node: cst.CSTNode) -> str:
    """The source text of a node (for messages)."""
    return cst.Module(body=[]).code_for_node(node)


def blocks_of(statement: cst.BaseStatement) -> Iterable[Sequence[cst.BaseStatement]]:
    """The indented blocks of a compound statement, in source order."""
    body = getattr(statement, "body", None)
    if isinstance(body, cst.IndentedBlock):
        yield body.body
    for attr in ("orelse", "finalbody"):
        other = getattr(statement, attr, None)
        while isinstance(other, (cst.If, cst.Else, cst.Finally)):
            if isinstance(other.body, cst.IndentedBlock):
                yield other.body.body
            other = getattr(other, "orelse", None)
    for handler in getattr(statement, "handlers", ()):
        if isinstance(handler.body, cst.IndentedBlock):
            yield handler.body.body
