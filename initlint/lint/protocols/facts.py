"""Collect, per file, the facts the init protocols judge: kept apart from ``collect.py`` on purpose.

For each class (``ClassSummary.protocol``):

- ``attributes``: every ``self.X`` a method assigns (``hasattr`` guards are judged by it);
- ``children``: attribute -> the class ``__init__`` builds into it (``self.gate = Router(...)``);
- ``builds``: the classes its ``__init__`` constructs (qualified names; a call of an ``__init__``
  argument counts as a call of its default, ``block_fn=Block``; ``call:<function>`` a call of a
  module-level function, whose ``makes`` join the tree; ``map:<name>|<key>|<called>`` a subscript of a
  dict of classes of another module): the module tree;
- ``dispatches``: method -> dispatch over a module argument (``_init_weights(self, module)``);
- ``applies``: method -> the functions it applies over the module tree (``self.apply(fn)``,
  ``named_apply(fn, self)``, ``for m in self.modules(): ...``).

For the file (``FileSummary.functions``, by module-level name): dicts of classes (``_class_mappings``),
functions that dispatch over a module
(``init_weights_vit_timm(module, name)``), the functions a factory returns, and the classes a function
builds: ``makes`` when it returns a value (a factory: they join its caller's tree, and ``builds`` of a
class names the call as ``call:<function>``), ``places`` when it returns nothing (they go into the tree
its caller hands it, like ``replace_batch_norm(backbone)``: whose family that is, the file does not say).

A function reference is ``["method", name]``, ``["function", qualified]``, ``["factory", qualified]``
(the functions that call returns) or ``["inline", dispatch]``.
"""

from __future__ import annotations

import ast
from operator import itemgetter
from typing import Any

from initlint.lint.astwalk import Walked, preorder
from initlint.lint.names import ImportTable, dotted
from initlint.lint.protocols.dispatch import read_dispatch
from initlint.lint.summary import ClassSummary, FileSummary

__all__ = ["collect_protocol_facts", "mapped_classes", "WALKED"]

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def collect_protocol_facts(
    module: ast.Module, table: ImportTable, classes: list[tuple[ast.ClassDef, ClassSummary]], summary: FileSummary,
    walks: dict[ast.AST, Walked] | None = None,
) -> None:
    """Fill ``protocol`` of each class and ``functions`` of the file.

    Args:
        walks: the methods' walks ``collect_classes`` kept (one pass per method), with the node types
            ``WALKED`` at least; a method without one is walked here.
    """
    mappings = _class_mappings(module, table)
    summary.functions.update(mappings)  # read by other files' ``map:`` entries
    for node, cls in classes:
        facts = _class_facts(node, table, mappings, walks or {})
        if facts:
            cls.protocol = facts
    for statement in module.body:
        if isinstance(statement, _FUNCTIONS):
            facts = _function_facts(statement, table, mappings)
            if facts:
                summary.functions[statement.name] = facts


# the node types the facts read: the walks handed to ``collect_protocol_facts`` must keep them
WALKED = frozenset({ast.Call, ast.Attribute, ast.Subscript, ast.For, ast.AsyncFor, ast.Return, ast.Assign})
_DEPTH = itemgetter(1)


class _Nodes:
    """The nodes of one function the facts are read from, gathered from one walk of its tree.

    Breadth-first, as ``ast.walk`` orders them (``builds`` and ``applies`` keep that order); each
    reader below goes through its own short list instead of walking the function again.
    """

    __slots__ = ("calls", "flow", "stores", "subscripts", "returns", "assigns")

    def __init__(self, function: ast.AST, walked: Walked | None = None) -> None:
        """Args:
            walked: ``astwalk.preorder`` of ``function`` (keeping ``WALKED``), when the class summary has
                walked it already.
        """
        self.calls: list[ast.Call] = []
        self.flow: list[ast.Call | ast.For | ast.AsyncFor] = []  # calls and loops, in walk order
        self.stores: list[ast.Attribute] = []  # ``x.attr = ...`` targets
        self.subscripts: list[ast.Subscript] = []  # ``name[...]`` read
        self.returns: list[ast.Return] = []  # with a value
        self.assigns: list[ast.Assign] = []  # one target, a call as value
        picked = [entry for entry in (preorder(function, WALKED) if walked is None else walked)
                  if type(entry[0]) in WALKED]
        picked.sort(key=_DEPTH)  # stable: source order within a depth, which is ``ast.walk``'s order
        for node, _, _ in picked:
            kind = type(node)
            if kind is ast.Call:
                self.calls.append(node)  # type: ignore[arg-type]
                self.flow.append(node)  # type: ignore[arg-type]
            elif kind is ast.Attribute:
                if type(node.ctx) is ast.Store:  # type: ignore[attr-defined]
                    self.stores.append(node)  # type: ignore[arg-type]
            elif kind is ast.Subscript:
                if type(node.value) is ast.Name and type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
                    self.subscripts.append(node)  # type: ignore[arg-type]
            elif kind is ast.For or kind is ast.AsyncFor:
                self.flow.append(node)  # type: ignore[arg-type]
            elif kind is ast.Return:
                if node.value is not None:  # type: ignore[attr-defined]
                    self.returns.append(node)  # type: ignore[arg-type]
            elif kind is ast.Assign:
                if len(node.targets) == 1 and type(node.value) is ast.Call:  # type: ignore[attr-defined]
                    self.assigns.append(node)  # type: ignore[arg-type]


def _class_mappings(module: ast.Module, table: ImportTable) -> dict[str, dict[str, Any]]:
    """Module-level dicts of classes: name -> ``{"classes": {key: qualified}, "instantiates": bool}``.

    ``ATTENTION_CLASSES = {"eager": Attention, "sdpa": SdpaAttention}`` (values may be ``(Class, kwargs)``),
    so that ``ATTENTION_CLASSES[config.impl](config)`` builds each of them, and ``ACT2CLS["xielu"](...)``
    the one; ``ACT2FN = ClassInstantier(ACT2CLS)`` *instantiates*: ``ACT2FN[name]`` alone builds one.
    """
    found: dict[str, dict[str, Any]] = {}
    for statement in module.body:
        target = statement.targets[0] if isinstance(statement, ast.Assign) and len(statement.targets) == 1 else (
            statement.target if isinstance(statement, ast.AnnAssign) else None)
        value = getattr(statement, "value", None)
        if not isinstance(target, ast.Name):
            continue
        if isinstance(value, ast.Dict):
            classes = {}
            for position, (key, item) in enumerate(zip(value.keys, value.values)):
                item = item.elts[0] if isinstance(item, ast.Tuple) and item.elts else item
                qualified = table.qualify(item) if (dotted(item) or "").rpartition(".")[2][:1].isupper() else None
                if qualified is not None:
                    named = isinstance(key, ast.Constant) and isinstance(key.value, str)
                    classes[key.value if named else f"#{position}"] = qualified  # type: ignore[union-attr]
            if classes:
                found[target.id] = {"classes": classes, "instantiates": False}
        elif isinstance(value, ast.Call) and len(value.args) == 1 and isinstance(value.args[0], ast.Name) \
                and value.args[0].id in found:
            found[target.id] = {"classes": found[value.args[0].id]["classes"], "instantiates": True}
    return found


def mapped_classes(mapping: dict[str, Any], key: str | None, called: bool) -> list[str]:
    """The classes ``mapping[key]`` builds (every one for a key not known), called or not."""
    if not (called or mapping["instantiates"]):
        return []
    classes = mapping["classes"]
    return [classes[key]] if key in classes else list(classes.values())


def _class_facts(
    node: ast.ClassDef, table: ImportTable, mappings: dict[str, dict[str, Any]], walks: dict[ast.AST, Walked]
) -> dict[str, Any]:
    attributes: set[str] = set()
    builds: list[str] = []
    dispatches: dict[str, Any] = {}
    applies: dict[str, Any] = {}
    children: dict[str, str] = {}
    methods = [(m, _Nodes(m, walks.get(m))) for m in node.body if isinstance(m, _FUNCTIONS)]
    # a class with one dispatch may hand the module to any of its methods (``self._init_bias(module)``)
    dispatching = any(len(_positional(m)) >= 2 and _dispatches_over(m, nodes, _positional(m)[1].arg)
                      for m, nodes in methods)
    for method, nodes in methods:
        positional = _positional(method)
        self_name = positional[0].arg if positional else "self"
        attributes.update(_self_attributes(nodes, self_name))
        if method.name == "__init__":
            builds = _builds(method, nodes, table, mappings)
            children = _children(nodes, self_name, table)
        if dispatching and len(positional) >= 2 and method.name != "__init__":
            dispatch = read_dispatch(method, table, method=True)
            if dispatch is not None:  # an empty one too: an override that writes nothing
                dispatches[method.name] = dispatch
        applied = _applied(nodes, self_name, table)
        if applied:
            applies[method.name] = applied
    facts: dict[str, Any] = {}
    for key, value in (("attributes", sorted(attributes)), ("builds", builds), ("children", children),
                       ("dispatches", dispatches), ("applies", applies)):
        if value:
            facts[key] = value
    return facts


def _positional(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    return [*node.args.posonlyargs, *node.args.args]


def _function_facts(
    node: ast.FunctionDef | ast.AsyncFunctionDef, table: ImportTable, mappings: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    nodes = _Nodes(node)
    built = [name for name in _builds(node, nodes, table, mappings) if not name.startswith("call:")]
    if built:  # a factory's classes join its caller's tree; a mutator's, the tree it is handed
        facts["makes" if nodes.returns else "places"] = built
    positional = [*node.args.posonlyargs, *node.args.args]
    if positional and _dispatches_over(node, nodes, positional[0].arg):
        dispatch = read_dispatch(node, table, method=False)
        if dispatch:
            facts["dispatch"] = dispatch
    returns = [ref for sub in nodes.returns for ref in [_function_ref(sub.value, table, None)]  # type: ignore[arg-type]
               if ref is not None and ref[0] != "inline"]
    if returns:
        facts["returns"] = returns
    return facts


def _dispatches_over(node: ast.FunctionDef | ast.AsyncFunctionDef, nodes: _Nodes, argument: str) -> bool:
    """Worth reading as a dispatch: named like an initializer, or tests ``isinstance(argument, ...)``."""
    if "init" in node.name.lower() and node.name != "__init__":
        return True
    for sub in nodes.calls:
        if sub.args and dotted(sub.func) == "isinstance":
            first = sub.args[0]
            if isinstance(first, ast.Name) and first.id == argument:
                return True
    return False


def _self_attributes(nodes: _Nodes, self_name: str) -> set[str]:
    found = set()
    for store in nodes.stores:
        if isinstance(store.value, ast.Name) and store.value.id == self_name:
            found.add(store.attr)
    for sub in nodes.calls:
        if isinstance(sub.func, ast.Attribute) and sub.args:
            receiver = sub.func.value
            if isinstance(receiver, ast.Name) and receiver.id == self_name and sub.func.attr in (
                "register_buffer", "register_parameter", "register_module", "add_module"
            ):
                name = sub.args[0]
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    found.add(name.value)
        elif isinstance(sub.func, ast.Name) and sub.func.id == "setattr" and len(sub.args) >= 2:
            first, name = sub.args[0], sub.args[1]
            if isinstance(first, ast.Name) and first.id == self_name and isinstance(name, ast.Constant):
                found.add(str(name.value))
    return found


def _builds(
    init: ast.FunctionDef | ast.AsyncFunctionDef, nodes: _Nodes, table: ImportTable,
    mappings: dict[str, dict[str, Any]]
) -> list[str]:
    """The classes ``__init__`` (or a function) constructs: capitalized callees, argument defaults that are
    called, and the classes of a module-level dict of classes that is subscripted and called."""
    defaults: dict[str, str] = {}
    args = init.args
    positional = [*args.posonlyargs, *args.args]
    for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
        if (name := table.qualify(default) or dotted(default)) is not None:
            defaults[arg.arg] = name
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        if default is not None and (name := table.qualify(default) or dotted(default)) is not None:
            defaults[arg.arg] = name
    found: list[str] = []
    for sub in nodes.calls:
        func = sub.func
        name: str | None = None
        if isinstance(func, ast.Name) and func.id in defaults:
            name = defaults[func.id]
        elif (dotted(func) or "").rpartition(".")[2][:1].isupper():
            name = table.qualify(func)
        elif dotted(func) in ("partial", "functools.partial") and sub.args:
            name = table.qualify(sub.args[0])
        elif isinstance(func, ast.Name) and (qualified := table.qualify(func)) is not None:
            name = f"call:{qualified}"  # build_position_encoding(...): the classes that factory makes
        if name is not None and name not in found:
            found.append(name)
    called = {id(sub.func) for sub in nodes.calls}
    for sub in nodes.subscripts:
        key = sub.slice.value if isinstance(sub.slice, ast.Constant) and isinstance(sub.slice.value, str) else ""
        if sub.value.id in mappings:
            built = mapped_classes(mappings[sub.value.id], key, id(sub) in called)
        elif (qualified := table.qualify(sub.value)) is not None:  # ACT2FN of another module
            built = [f"map:{qualified}|{key}|{int(id(sub) in called)}"]
        else:
            continue
        found += [b for b in built if b not in found]
    return found


def _children(nodes: _Nodes, self_name: str, table: ImportTable) -> dict[str, str]:
    """``self.gate = Router(...)`` in ``__init__``: attribute -> the class built into it."""
    found: dict[str, str] = {}
    for sub in nodes.assigns:
        target, call = sub.targets[0], sub.value
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == self_name:
            if (dotted(call.func) or "").rpartition(".")[2][:1].isupper():  # type: ignore[attr-defined]
                qualified = table.qualify(call.func)  # type: ignore[attr-defined]
                if qualified is not None:
                    found[target.attr] = qualified
    return found


def _applied(nodes: _Nodes, self_name: str, table: ImportTable) -> list[Any]:
    """What a method applies over its module tree."""
    found: list[Any] = []
    for sub in nodes.flow:
        if isinstance(sub, ast.Call):
            target = _applied_function(sub, self_name)
            if target is not None:
                ref = _function_ref(target, table, self_name)
                if ref is not None:
                    found.append(ref)
        elif isinstance(sub, (ast.For, ast.AsyncFor)) and _over_modules(sub.iter, self_name):
            if isinstance(sub.target, ast.Name):
                loop = ast.FunctionDef(name="_loop", args=ast.arguments(
                    posonlyargs=[], args=[ast.arg(arg=sub.target.id)], kwonlyargs=[], kw_defaults=[], defaults=[]),
                    body=sub.body, decorator_list=[])
                dispatch = read_dispatch(loop, table, method=False)
                if dispatch:
                    found.append(["inline", dispatch])
    return found


def _applied_function(call: ast.Call, self_name: str) -> ast.expr | None:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "apply" and call.args:
        if isinstance(func.value, ast.Name) and func.value.id == self_name:
            return call.args[0]
    last = (dotted(func) or "").rpartition(".")[2]
    if last == "named_apply":
        args = [*call.args, *(k.value for k in call.keywords if k.arg in ("fn", "module"))]
        module = next((k.value for k in call.keywords if k.arg == "module"), args[1] if len(args) > 1 else None)
        fn = next((k.value for k in call.keywords if k.arg == "fn"), call.args[0] if call.args else None)
        if isinstance(module, ast.Name) and module.id == self_name:
            return fn
    return None


def _over_modules(iterable: ast.expr, self_name: str) -> bool:
    """``self.modules()`` / ``self.named_modules()`` (inside ``enumerate`` too)."""
    if isinstance(iterable, ast.Call) and dotted(iterable.func) == "enumerate" and iterable.args:
        iterable = iterable.args[0]
    if not (isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute)):
        return False
    receiver = iterable.func.value
    return (isinstance(receiver, ast.Name) and receiver.id == self_name
            and iterable.func.attr in ("modules", "named_modules"))


def _function_ref(node: ast.expr, table: ImportTable, self_name: str | None) -> list[Any] | None:
    if isinstance(node, ast.Call):
        callee = dotted(node.func) or ""
        if callee.rpartition(".")[2] == "partial" and node.args:
            return _function_ref(node.args[0], table, self_name)
        qualified = table.qualify(node.func)
        return ["factory", qualified] if qualified else None
    if isinstance(node, ast.Lambda):
        dispatch = read_dispatch(node, table, method=False)
        return ["inline", dispatch] if dispatch else None
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == self_name:
        return ["method", node.attr]
    qualified = table.qualify(node)
    return ["function", qualified] if qualified else None
