"""A faster ``ast.walk``, and the one walk of a function that its class summary and its protocol
facts share.

``ast.walk`` goes through ``ast.iter_child_nodes`` and ``ast.iter_fields`` for every node, and yields
every ``Load``/``Store`` marker and operator; on the protocol facts that was most of a cold run
(issue 21). Here each node type's child fields are read once, and the fields that never hold an
expression or a statement are skipped.

``preorder`` walks a function once in source order; the method scanner of ``collect.py`` reads that
order, and the protocol facts read the same nodes in ``walk``'s order, a stable sort by depth (a
breadth-first walk of a tree meets the nodes of each depth in their source order).
"""

from __future__ import annotations

import ast

__all__ = ["child_fields", "walk", "preorder", "Walked"]

_FIELDS: dict[type, tuple[str, ...]] = {}
# fields that hold no node a reader looks at: names, numbers, operators, ``Load``/``Store`` markers
_LEAF_FIELDS = frozenset({"ctx", "op", "ops", "type_comment", "kind", "conversion", "is_async", "level", "id",
                          "attr", "arg", "name", "asname", "module", "names"})


# list fields that may hold ``None`` or names (``{**x}``'s key, a keyword-only argument without default,
# ``case C(x=1)``'s attribute names); every other list field holds nodes only
_GAPPED = frozenset({"keys", "kw_defaults", "kwd_attrs"})


def child_fields(cls: type) -> tuple[str, ...]:
    """The fields of an ``ast`` node type that may hold nodes worth reading."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = () if cls is ast.Constant else tuple(
            name for name in cls._fields if name not in _LEAF_FIELDS)  # type: ignore[attr-defined]
    return names


def walk(node: ast.AST) -> list[ast.AST]:
    """``node`` and every node under it, breadth-first as ``ast.walk`` gives them (leaves skipped)."""
    queue: list[ast.AST] = [node]
    position = 0
    while position < len(queue):
        current = queue[position]
        position += 1
        names = _FIELDS.get(type(current))
        if names is None:
            names = child_fields(type(current))
        for name in names:
            value = getattr(current, name)
            if type(value) is list:
                if name in _GAPPED:
                    queue.extend(item for item in value if isinstance(item, ast.AST))
                else:
                    queue.extend(value)
            elif isinstance(value, ast.AST):
                queue.append(value)
    return queue


# a node, its depth under the walked function, and whether it is code of the body (see ``preorder``)
Walked = list[tuple[ast.AST, int, bool]]
_HEADER_FIELDS = frozenset({"decorator_list", "returns"})
_BACKWARDS: dict[type, tuple[tuple[str, bool, bool], ...]] = {}


def _node_types(cls: type) -> list[type]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in _node_types(child))]


# node types with no child worth reading (names, constants, ``pass``): not worth a step of a walk
_CHILDLESS = frozenset(cls for cls in _node_types(ast.AST) if getattr(cls, "_fields", None) is not None
                       and not child_fields(cls))
_SKIPPED: dict[frozenset[type], frozenset[type]] = {}


def _backwards(cls: type) -> tuple[tuple[str, bool, bool], ...]:
    """``child_fields`` last first, each with whether what it holds is code of the body (not a
    decorator, a return annotation, nor a parameter's annotation or default) and may hold non-nodes."""
    fields = _BACKWARDS.get(cls)
    if fields is None:
        fields = _BACKWARDS[cls] = tuple(
            (name, cls is not ast.arguments and name not in _HEADER_FIELDS, name in _GAPPED)
            for name in reversed(child_fields(cls)))
    return fields


def preorder(function: ast.AST, kinds: frozenset[type]) -> Walked:
    """The nodes of types ``kinds`` in ``function`` (and ``function`` itself if it is one), depth first in
    source order, each with its depth under ``function`` and whether it is code of the body: ``False``
    under a decorator, a return annotation or the parameters of ``function`` or of a ``def`` or
    ``lambda`` inside it.

    The same nodes in ``walk``'s order: this list stably sorted by depth (a breadth-first walk meets
    the nodes of each depth in source order).
    """
    skipped = _SKIPPED.get(kinds)
    if skipped is None:
        skipped = _SKIPPED[kinds] = _CHILDLESS - kinds
    found: Walked = []
    stack: Walked = [(function, 0, True)]
    while stack:  # no generator, no call per node: this loop sees every node of every method
        entry = stack.pop()
        node, depth, code = entry
        kind = type(node)
        if kind in kinds:
            found.append(entry)
        fields = _BACKWARDS.get(kind)
        if fields is None:
            fields = _backwards(kind)
        depth += 1
        for name, keeps, gapped in fields:
            value = getattr(node, name)
            if type(value) is list:
                inner = code and keeps
                if gapped:
                    stack.extend([(item, depth, inner) for item in reversed(value)
                                  if isinstance(item, ast.AST) and type(item) not in skipped])
                else:
                    stack.extend([(item, depth, inner) for item in reversed(value) if type(item) not in skipped])
            elif value is not None and type(value) not in skipped and isinstance(value, ast.AST):
                stack.append((value, depth, code and keeps))
    return found
