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
  ``named_apply(fn, self)``, ``for m in self.modules(): ...``);
- ``skips``: the methods that return at once when a submodule is marked ``_is_hf_initialized``;
- ``deleted``: ``["_init_weights"]`` when its body only raises (a ``modular_*.py`` file's way to drop it);
- ``builtins``: ``[qualified, path, tensors]`` for each torch built-in that ``__init__`` builds into the
  module tree under a path it names (``self.conv = nn.Conv1d(...)``: ``conv``; ``nn.Sequential(nn.Linear(...))``
  or ``self.layers.append(...)``: ``mlp.0``, ``layers.*``), and for a built-in base (path ``""``); the tensors
  are those the literal arguments let exist (``bias=False``: no ``bias``), ``weight_norm`` applied.

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
from initlint.lint.torch_table import BUILTIN_MODULES, BUILTIN_SWITCHES

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
    built_ins: list[list[Any]] = []
    deleted: list[str] = []
    skips: list[str] = []
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
            built_ins = _built_ins(nodes, self_name, table)
        if dispatching and len(positional) >= 2 and method.name != "__init__":
            dispatch = read_dispatch(method, table, method=True)
            if dispatch is not None:  # an empty one too: an override that writes nothing
                dispatches[method.name] = dispatch
        applied = _applied(nodes, self_name, table)
        if applied:
            applies[method.name] = applied
        if method.name == "_init_weights" and _raises_only(method):
            deleted.append(method.name)
        if _returns_when_child_initialized(method, self_name):
            skips.append(method.name)
    inherited = _inherited_built_in(node, methods, table)
    if inherited is not None:
        built_ins.insert(0, inherited)
    facts: dict[str, Any] = {}
    for key, value in (("attributes", sorted(attributes)), ("builds", builds), ("children", children),
                       ("dispatches", dispatches), ("applies", applies), ("builtins", built_ins),
                       ("deleted", deleted), ("skips", skips)):
        if value:
            facts[key] = value
    return facts


def _raises_only(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A body that only raises: in a transformers ``modular_*.py`` file, the method is deleted from the
    generated class (``def _init_weights(self, module): raise AttributeError("No need to override")``)."""
    body = node.body[1:] if node.body and isinstance(node.body[0], ast.Expr) \
        and isinstance(node.body[0].value, ast.Constant) else node.body
    return len(body) == 1 and isinstance(body[0], ast.Raise)


def _returns_when_child_initialized(node: ast.FunctionDef | ast.AsyncFunctionDef, self_name: str) -> bool:
    """``if getattr(self.patch_embeddings.projection, "_is_hf_initialized", False): return`` first: transformers
    initializes every submodule before its parent and marks it so, so under ``from_pretrained`` the method
    returns there, whatever it writes after."""
    body = node.body[1:] if node.body and isinstance(node.body[0], ast.Expr) \
        and isinstance(node.body[0].value, ast.Constant) else node.body
    if not body or not isinstance(body[0], ast.If) or body[0].orelse or len(body[0].body) != 1 \
            or not isinstance(body[0].body[0], ast.Return):
        return False
    test = body[0].test
    if isinstance(test, ast.Call) and dotted(test.func) == "getattr" and len(test.args) >= 2:
        owner, flag = test.args[0], test.args[1]
        named = isinstance(flag, ast.Constant) and flag.value == "_is_hf_initialized"
    elif isinstance(test, ast.Attribute) and test.attr == "_is_hf_initialized":
        owner, named = test.value, True
    else:
        return False
    # a submodule's flag (``self.x``, ``self.x.y``), not the module's own: that one is set after it returns
    return named and isinstance(owner, ast.Attribute) and (dotted(owner) or "").startswith(f"{self_name}.")


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


_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})  # built-ins that hold modules by key
_INTO = frozenset({"append", "extend", "insert"})  # ``self.layers.append(nn.Linear(...))``
_NAMED = frozenset({"add_module", "register_module"})  # ``self.add_module("proj", nn.Linear(...))``


def _created(qualified: str) -> bool:
    entry = BUILTIN_MODULES.get(qualified)
    return entry is not None and bool(entry[1])


def _built_ins(nodes: _Nodes, self_name: str, table: ImportTable) -> list[list[Any]]:
    """``[qualified, path, tensors]`` of the torch built-ins ``__init__`` builds under a path it names."""
    anchors: dict[int, str] = {}  # ``self.X = <call>``: the call's id -> X
    for assign in nodes.assigns:
        target = assign.targets[0]
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == self_name:
            anchors[id(assign.value)] = target.attr
    # ``self.X = nn.ModuleList()``: what ``self.X.append(...)`` adds is registered (not in a plain list)
    containers = {anchors[id(a.value)] for a in nodes.assigns if id(a.value) in anchors
                  and _is_container(table.qualify(a.value.func))}  # type: ignore[attr-defined]
    parents: dict[int, tuple[ast.Call, int | str]] = {}  # an argument's id -> (the call, its key there)
    for call in nodes.calls:
        for position, argument in enumerate(call.args):
            parents[id(argument)] = (call, position)
            if isinstance(argument, (ast.List, ast.Tuple)):
                parents.update((id(e), (call, i)) for i, e in enumerate(argument.elts))
            elif isinstance(argument, (ast.ListComp, ast.GeneratorExp)):
                parents[id(argument.elt)] = (call, "*")
            elif isinstance(argument, ast.Dict):
                parents.update((id(v), (call, k.value if isinstance(k, ast.Constant) else "*"))
                               for k, v in zip(argument.keys, argument.values))
    _follow_locals(nodes, table, parents)
    found: dict[tuple[str, str], list[Any]] = {}  # (path, class) -> entry: built on two branches, merged
    normed: list[tuple[str, str, bool]] = []  # (path, tensor, old style) of each ``weight_norm``
    for call in nodes.calls:
        qualified = table.qualify(call.func)
        if qualified is not None and _created(qualified):
            path = _path(call, anchors, parents, self_name, table, containers)
            if path is not None:
                entry = found.setdefault((path, qualified), [qualified, path, [], (call.lineno, call.col_offset)])
                entry[2] = sorted({*entry[2], *_existing(qualified, call, 0)})
        elif call.args and _is_weight_norm(call.func, table):
            normed += _weight_norm(call, anchors, parents, self_name, table, containers)
    for path, tensor, old in normed:
        for entry in found.values():
            if entry[1] == path and tensor in entry[2]:
                added = [f"{tensor}_g", f"{tensor}_v"] if old else [
                    f"parametrizations.{tensor}.original0", f"parametrizations.{tensor}.original1"]
                entry[2] = [t for t in entry[2] if t != tensor] + added
    return [entry[:3] for entry in sorted(found.values(), key=lambda e: e[3]) if entry[2]]  # in source order


def _follow_locals(nodes: _Nodes, table: ImportTable, parents: dict[int, tuple[ast.Call, int | str]]) -> None:
    """``layer = nn.Conv1d(...)``, ``layer = weight_norm(layer)``, ``self.layers.append(layer)``: the built-in
    flows, through its local name, into the call that takes it (added to ``parents``)."""
    bound: dict[str, ast.Call] = {}  # a local name -> the call whose module it holds
    for assign in sorted(nodes.assigns, key=lambda a: (a.lineno, a.col_offset)):
        target, value = assign.targets[0], assign.value
        if not isinstance(target, ast.Name):
            continue
        func, args = value.func, value.args  # type: ignore[attr-defined]
        if _created(table.qualify(func) or ""):
            bound[target.id] = value  # type: ignore[assignment]
        elif _is_weight_norm(func, table) and args and isinstance(args[0], ast.Name) and args[0].id in bound:
            parents[id(bound[args[0].id])] = (value, 0)  # type: ignore[assignment]
            bound[target.id] = value  # type: ignore[assignment]
        else:
            bound.pop(target.id, None)
    if not bound:
        return
    for call in nodes.calls:  # ``bound`` holds the last binding: ``x = weight_norm(x)`` was followed above
        for position, argument in enumerate(call.args):
            if isinstance(argument, ast.Name) and argument.id in bound and bound[argument.id] is not call:
                parents.setdefault(id(bound[argument.id]), (call, position))


def _path(node: ast.expr, anchors: dict[int, str], parents: dict[int, tuple[ast.Call, int | str]],
          self_name: str, table: ImportTable, containers: set[str]) -> str | None:
    """Where in ``self``'s tree the module ``node`` builds lands (``mlp.0``, ``layers.*``); ``None``: not known
    (a local variable, a call that wraps it)."""
    keys: list[str] = []
    for _ in range(8):
        if id(node) in anchors:
            return ".".join([anchors[id(node)], *keys])
        if id(node) not in parents:
            return None
        call, key = parents[id(node)]
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in _INTO and _is_self(func.value, self_name, attribute=True):
            held = func.value.attr  # type: ignore[attr-defined]
            return ".".join([held, "*", *keys]) if held in containers else None
        if isinstance(func, ast.Attribute) and func.attr in _NAMED:
            return _named(call, key, func.value, 0, self_name, keys)
        if isinstance(func, ast.Name) and func.id == "setattr" and call.args:
            return _named(call, key, call.args[0], 1, self_name, keys)
        if key == 0 and _is_weight_norm(func, table):  # weight_norm(nn.Conv1d(...))
            node = call
            continue
        if not _is_container(table.qualify(func)):
            return None
        if isinstance(key, int) and any(isinstance(a, ast.Starred) for a in call.args[:key]):
            key = "*"  # nn.Sequential(*blocks, nn.Linear(...)): its position is not known
        keys.insert(0, str(key))
        node = call
    return None


def _is_container(qualified: str | None) -> bool:
    """``nn.Sequential``/``nn.ModuleList``/``nn.ModuleDict`` of torch (not a class of the project named so)."""
    return qualified is not None and qualified in BUILTIN_MODULES and qualified.rpartition(".")[2] in _CONTAINERS


def _is_weight_norm(func: ast.expr, table: ImportTable) -> bool:
    """``weight_norm`` of torch, or a local name for it (``weight_norm = nn.utils.parametrizations.weight_norm``)."""
    return (table.qualify(func) or dotted(func) or "").rpartition(".")[2] == "weight_norm"


def _is_self(node: ast.expr, self_name: str, attribute: bool = False) -> bool:
    """``self`` (``self.X`` with ``attribute``)."""
    if attribute:
        return isinstance(node, ast.Attribute) and _is_self(node.value, self_name)
    return isinstance(node, ast.Name) and node.id == self_name


def _named(call: ast.Call, key: int | str, receiver: ast.expr, at: int, self_name: str, keys: list[str]) -> str | None:
    """``self.add_module("proj", <module>)`` / ``setattr(self, "proj", <module>)``: ``proj`` (``*`` when the
    name is computed); ``None`` for another receiver or argument."""
    if not _is_self(receiver, self_name) or len(call.args) != at + 2 or key != at + 1:
        return None
    name = call.args[at]
    return ".".join([name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else "*", *keys])


def _weight_norm(call: ast.Call, anchors: dict[int, str], parents: dict[int, tuple[ast.Call, int | str]],
                 self_name: str, table: ImportTable, containers: set[str]) -> list[tuple[str, str, bool]]:
    """``weight_norm(self.conv, name="weight")``: the built-in's tensor becomes two others, ``weight_g`` and
    ``weight_v`` (``nn.utils.weight_norm``) or ``parametrizations.weight.original0/1`` (the
    ``nn.utils.parametrizations`` one, which transformers picks whenever torch has it)."""
    target = call.args[0]
    name: ast.expr | None = call.args[1] if len(call.args) > 1 else None
    name = next((k.value for k in call.keywords if k.arg == "name"), name)
    if name is not None and not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return []
    tensor = name.value if name is not None else "weight"
    old = (table.qualify(call.func) or "").startswith("torch.nn.utils.weight_norm")
    if _is_self(target, self_name, attribute=True):
        return [(target.attr, tensor, old)]  # type: ignore[attr-defined]
    if isinstance(target, (ast.Call, ast.Name)):  # weight_norm(nn.Conv1d(...)), weight_norm(layer)
        path = _path(call, anchors, parents, self_name, table, containers)
        return [(path, tensor, old)] if path is not None else []
    return []


def _existing(qualified: str, call: ast.Call | None, shift: int) -> list[str]:
    """The tensors a built-in built by ``call`` holds, as far as its literal arguments tell (an argument
    that is no literal may take any value: the tensors of each stay); ``shift``: positional arguments
    before the built-in's own (``Base.__init__(self, ...)``)."""
    tensors = set(BUILTIN_MODULES[qualified][1])
    args = call.args[shift:] if call is not None else []
    given = {k.arg: k.value for k in call.keywords} if call is not None else {}
    unknown = None in given or any(isinstance(a, ast.Starred) for a in args)  # **kwargs, *args
    for argument, position, default, with_default, otherwise in BUILTIN_SWITCHES.get(qualified.rpartition(".")[2], ()):
        value = given.get(argument)
        if value is None and position is not None and position < len(args):
            value = args[position]
        if value is None:
            if unknown:
                continue
            tensors -= set(otherwise)  # the default
        elif isinstance(value, ast.Constant) and (isinstance(default, bool) or value.value is None):
            tensors -= set(otherwise if bool(value.value) == bool(default) else with_default)
    return sorted(tensors)


def _inherited_built_in(node: ast.ClassDef, methods: list[tuple[Any, _Nodes]], table: ImportTable) -> list[Any] | None:
    """``[qualified, "", tensors]`` for a class whose base is a torch built-in that creates tensors
    (``class LearnedPositionalEmbedding(nn.Embedding)``), read from its ``super().__init__(...)`` call."""
    bases = [q for base in node.bases if (q := table.qualify(base)) is not None and _created(q)]
    if not bases:
        return None
    qualified = bases[0]
    init = next((nodes for method, nodes in methods if method.name == "__init__"), None)
    for call in init.calls if init is not None else ():
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "__init__":
            if isinstance(func.value, ast.Call) and dotted(func.value.func) == "super":
                return [qualified, "", _existing(qualified, call, 0)]
            if table.qualify(func.value) == qualified:
                return [qualified, "", _existing(qualified, call, 1)]
    return [qualified, "", _existing(qualified, None, 0)]


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
