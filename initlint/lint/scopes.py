"""Script order: what happens to each model of a scope, statement by statement.

The script-order rules (INI1xx) ask questions like "was this model built under an empty-init
context, and what was called on it afterwards?". This module answers them once per scope (the
module body, each function body), in source order, descending into ``if``/``for``/``with``/``try``
blocks but not into nested functions or classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from initlint.lint import known
from initlint.lint.bindings import Bindings, local_names
from initlint.lint.lazy import cst
from initlint.lint.names import ImportTable, dotted
from initlint.lint.walk import blocks_of, iter_tree, source_of

__all__ = [
    "Call", "Scope", "scopes", "function_scopes", "empty_init_kind", "strategies", "sharded_message", "method_calls",
    "model_root", "initializes", "branch_of", "unreached",
]


def empty_init_kind(expr: cst.BaseExpression, imports: ImportTable) -> str | None:
    """``"meta"`` for contexts that leave parameters on the meta device, ``"empty"`` for those that
    leave uninitialized memory, ``None`` for anything else."""
    if not isinstance(expr, cst.Call):
        return None
    qualified = imports.qualify(expr.func)
    if qualified in known.META_CONTEXTS:
        return "meta"
    if qualified == "torch.device" and expr.args:
        first = expr.args[0].value
        return "meta" if isinstance(first, cst.SimpleString) and first.evaluated_value == "meta" else None
    if qualified in known.VERIFIED_CONTEXTS:
        inner = expr.args[0].value if expr.args and expr.args[0].keyword is None else None
        return (empty_init_kind(inner, imports) if inner is not None else None) or "empty"
    if isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "init_module":
        for arg in expr.args:
            empty = arg.keyword is None or arg.keyword.value == "empty_init"
            if empty and isinstance(arg.value, cst.Name) and arg.value.value == "True":
                return "empty"
    return None


SHARDED = ("deepspeed", "fsdp")


def strategies(
    receiver: cst.BaseExpression, classes: frozenset[str], imports: ImportTable, bindings: Bindings
) -> frozenset[str]:
    """The strategies a ``Fabric``/``Trainer`` read as ``receiver`` may have, over every binding that
    reaches the read: ``"deepspeed"``, ``"fsdp"``, ``"modelparallel"``, ``"other"`` (known, none of
    those), ``"unknown"``
    (a parameter, an unknown call, a strategy computed at run time)."""
    kinds: set[str] = set()
    for value in (receiver,) if isinstance(receiver, cst.Call) else bindings.resolved(receiver):
        if isinstance(value, cst.Call) and imports.qualify(value.func) in classes:
            kinds |= _strategy_kinds(value, imports, bindings)
        else:
            kinds.add("unknown")
    return frozenset(kinds)


def _strategy_kinds(call: cst.Call, imports: ImportTable, bindings: Bindings) -> set[str]:
    argument = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "strategy"), None)
    if argument is None:
        return {"unknown"} if any(a.star for a in call.args) else {"other"}
    kinds = set()
    values = list(bindings.resolved(argument) if isinstance(argument, cst.Name) else (argument,))
    while values:
        value = values.pop()
        if isinstance(value, cst.IfExp):
            values += [value.body, value.orelse]
            continue
        if isinstance(value, cst.SimpleString):
            text = str(value.evaluated_value).lower()
        elif isinstance(value, cst.Call):
            text = (imports.qualify(value.func) or dotted(value.func) or "").rpartition(".")[2].lower()
        else:
            kinds.add("unknown")
            continue
        kinds.add(next((kind for kind in (*SHARDED, "modelparallel") if kind in text), "other"))
    return kinds


def sharded_message(kinds: frozenset[str], wanted: Iterable[str] = SHARDED) -> str | None:
    """The sharded strategy of ``kinds`` among ``wanted``, with "on some paths" when another may
    reach the same read; ``None`` when none of ``wanted`` can."""
    found = [kind for kind in wanted if kind in kinds]
    if not found:
        return None
    return found[0] if kinds == {found[0]} else f"{found[0]} (on some paths)"


@dataclass
class Call:
    """A call in a scope: on a model (``model.to(...)``) or with it as the first argument."""

    node: cst.Call
    index: int  # order in the scope
    model: str | None  # the receiver's or first argument's root name
    method: str  # the method or function's last name
    on_receiver: bool  # model.method(...) rather than function(model, ...)
    path: tuple[tuple[cst.BaseStatement, int], ...] = ()  # enclosing compound statements, with the block index


@dataclass
class Scope:
    """The events of one scope, in order."""

    built: dict[str, tuple[str, cst.CSTNode, int]] = field(default_factory=dict)  # model -> (kind, context, index)
    calls: list[Call] = field(default_factory=list)
    results: dict[int, str] = field(default_factory=dict)  # id(call) -> name its result is bound to
    attributes: list[tuple[int, str]] = field(default_factory=list)  # (position, attribute read)
    values: dict[str, cst.BaseExpression] = field(default_factory=dict)  # built model -> the value assigned
    escapes: list[tuple[int, str]] = field(default_factory=list)  # (position, name returned, yielded or stored)

    def calls_on(self, model: str, after: int) -> list[Call]:
        """Calls on (or with) ``model`` after position ``after``."""
        return [c for c in self.calls if c.model == model and c.index > after]

    def calls_after(self, after: int) -> list[Call]:
        """Every call after position ``after``."""
        return [c for c in self.calls if c.index > after]

    def reads_after(self, attribute: str, after: int) -> bool:
        """Whether ``x.<attribute>`` is read anywhere after position ``after``."""
        return any(index > after and name == attribute for index, name in self.attributes)


def scopes(module: cst.Module, imports: ImportTable) -> Iterator[Scope]:
    """The module's scope, then each function's."""
    for _, scope in function_scopes(module, imports):
        yield scope


def function_scopes(module: cst.Module, imports: ImportTable) -> Iterator[tuple[cst.FunctionDef | None, Scope]]:
    """The module's scope (with ``None``), then each function with its scope.

    Read once per tree: the script-order rules of a file share the last tree's scopes (one pass per tree).
    """
    if _LAST[0] is not module or _LAST[1] is not imports:
        _LAST[:] = [module, imports, list(_function_scopes(module, imports))]
    return iter(_LAST[2])


_LAST: list = [None, None, []]  # (module, imports, its scopes): the rules of one file ask in turn


def _function_scopes(module: cst.Module, imports: ImportTable) -> Iterator[tuple[cst.FunctionDef | None, Scope]]:
    top = _read(module.body, imports)
    yield None, top
    for node in iter_tree(module):
        if isinstance(node, cst.FunctionDef) and isinstance(node.body, cst.IndentedBlock):
            inherited = {}
            if top.built:  # a model the function never binds is the module's (Python's lookup)
                own = local_names(node)
                inherited = {name: (kind, context, -1) for name, (kind, context, _) in top.built.items()
                             if name.partition(".")[0] not in own and not name.startswith("self.")}
            yield node, _read(node.body.body, imports, inherited)


def _read(
    statements: Sequence[cst.BaseStatement],
    imports: ImportTable,
    inherited: dict[str, tuple[str, cst.CSTNode, int]] | None = None,
) -> Scope:
    scope = Scope(built=dict(inherited or {}))
    counter = [0]

    path: list[tuple[cst.BaseStatement, int]] = []

    def visit(block: Sequence[cst.BaseStatement], context: tuple[str, cst.CSTNode] | None) -> None:
        for statement in block:
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                continue
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    _small(small, context)
                continue
            inner = context
            for header in ("test", "iter"):  # if/while conditions, for loops' iterables
                expression = getattr(statement, header, None)
                if isinstance(expression, cst.BaseExpression):
                    _calls(expression)
            if isinstance(statement, cst.With):
                for item in statement.items:
                    _calls(item.item)
                    kind = empty_init_kind(item.item, imports)
                    if kind is not None:
                        inner = (kind, item.item)
            for number, nested in enumerate(blocks_of(statement)):
                path.append((statement, number))
                visit(nested, inner)
                path.pop()

    def _small(node: cst.BaseSmallStatement, context: tuple[str, cst.CSTNode] | None) -> None:
        _calls(node)
        if isinstance(node, cst.Return) and node.value is not None:
            _escape(node.value)
        elif isinstance(node, cst.Expr) and isinstance(node.value, cst.Yield) and node.value.value is not None:
            _escape(node.value.value)
        if isinstance(node, (cst.Assign, cst.AnnAssign)) and node.value is not None:
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            names = [n for t in targets if (n := dotted(t)) is not None]
            value = node.value
            is_skip_init = isinstance(value, cst.Call) and imports.qualify(value.func) in known.SKIP_INIT
            if any(not isinstance(t, cst.Name) for t in targets):
                _escape(node.value)  # stored in an attribute or a container: someone else may initialize it
            for name in names:
                if context is not None:
                    scope.built[name] = (context[0], context[1], counter[0])
                    scope.values[name] = value
                elif is_skip_init:
                    scope.built[name] = ("empty", value, counter[0])
                    scope.values[name] = value
                elif name in scope.built and not _keeps_model(value, name):
                    del scope.built[name]  # a new object under the old name
            if isinstance(value, cst.Call) and len(names) == 1:
                scope.results[id(value)] = names[0]

    def _escape(value: cst.BaseExpression) -> None:
        items = value.elements if isinstance(value, (cst.Tuple, cst.List)) else ()
        for element in [getattr(item, "value", None) for item in items] or [value]:
            root = model_root(element) if isinstance(element, cst.BaseExpression) else None
            if root is not None:
                scope.escapes.append((counter[0], root))

    def _calls(node: cst.CSTNode) -> None:
        for call in iter_tree(node, prune=(cst.Lambda,)):
            if isinstance(call, cst.Attribute):
                scope.attributes.append((counter[0], call.attr.value))
            if not isinstance(call, cst.Call):
                continue
            counter[0] += 1
            where = tuple(path)
            func = call.func
            if isinstance(func, cst.Attribute):
                model = model_root(func.value)
                scope.calls.append(Call(call, counter[0], model, func.attr.value, True, where))
                if model is None or model not in scope.built:
                    first = call.args[0].value if call.args else None
                    if first is not None and model_root(first) in scope.built:
                        scope.calls.append(Call(call, counter[0], model_root(first), func.attr.value, False, where))
            else:
                name = (dotted(func) or "").rpartition(".")[2]
                first = call.args[0].value if call.args else None
                scope.calls.append(Call(
                    call, counter[0], model_root(first) if first is not None else None, name, False, where
                ))

    visit(statements, None)
    return scope


def method_calls(module: cst.Module, method: str) -> Iterator[tuple[cst.Call, cst.BaseExpression]]:
    """Every ``receiver.method(...)`` call in the module, with its receiver."""
    for node in iter_tree(module):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == method:
            yield node, node.func.value


def model_root(expr: cst.BaseExpression) -> str | None:
    """``model`` for ``model.decoder``; ``self.model`` for ``self.model.encoder``."""
    name = dotted(expr)
    if name is None:
        return None
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "self" and len(parts) > 1 else parts[0]


def _keeps_model(value: cst.BaseExpression, name: str) -> bool:
    """``model = fabric.setup(model)``, ``model = model.to_empty(...)``: still the same model."""
    return any(isinstance(n, cst.Name) and n.value == name.split(".")[0] for n in iter_tree(value))


# Calls that give a model's tensors values: on the model, or with the model as an argument.
_INITIALIZES = frozenset({
    "reset_parameters", "apply", "init_weights", "_init_weights", "initialize_weights", "load_state_dict",
    "load_checkpoint", "load", "set_model_state_dict", "load_model", "load_sharded_checkpoint",
    "post_init", "init_parameters",
})


def initializes(name: str) -> bool:
    """A call that may give tensors values: a known one, or one named like it (``reset_method()``)."""
    lowered = name.lower()
    return name in _INITIALIZES or any(word in lowered for word in ("reset", "init", "load"))


_DISPATCH_TESTS = frozenset({"hasattr", "isinstance", "callable", "getattr", "issubclass"})


def branch_of(call: Call, origin: Call) -> tuple[cst.If, int] | None:
    """The ``if`` that decides whether ``call`` runs once ``origin`` has run, with the block ``call``
    is in; ``None`` when it runs on every path from ``origin`` (as far as branches go).

    Loops are trusted to run, and so is an ``if`` inside one after ``origin`` or one that tests a
    module's kind (``if hasattr(m, "reset_parameters")``): that is a dispatch over modules, not a path.
    """
    shared = 0
    while shared < min(len(call.path), len(origin.path)) and call.path[shared] == origin.path[shared]:
        shared += 1
    for statement, block in call.path[shared:]:
        if isinstance(statement, (cst.For, cst.While)):
            return None
        if isinstance(statement, cst.If) and not _tests_kind(statement.test):
            return statement, block
    return None


def _tests_kind(test: cst.BaseExpression) -> bool:
    return any(
        isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in _DISPATCH_TESTS
        for node in iter_tree(test)
    )


def if_blocks(statement: cst.If) -> tuple[int, bool]:
    """How many blocks an ``if``/``elif``/``else`` chain has, and whether it ends with ``else``."""
    count, other = 1, statement.orelse
    while isinstance(other, cst.If):
        count, other = count + 1, other.orelse
    return count + (other is not None), other is not None


def exits(block: Sequence[cst.BaseStatement]) -> bool:
    """Whether a block ends by leaving its scope or loop (``raise``, ``return``, ``continue``, ``sys.exit()``)."""
    if not block or not isinstance(block[-1], cst.SimpleStatementLine):
        return False
    last = block[-1].body[-1]
    if isinstance(last, (cst.Raise, cst.Return, cst.Continue, cst.Break)):
        return True
    return isinstance(last, cst.Expr) and isinstance(last.value, cst.Call) and (
        dotted(last.value.func) or "") in ("exit", "sys.exit", "quit")


def unreached(origin: Call, later: Sequence[Call]) -> str | None:
    """Whether every path from ``origin`` reaches one of ``later``: ``None`` when it does, else ``""``
    (none is reached at all) or the ``if`` test whose branch goes without (``"`path` is false"``)."""
    branches: dict[int, tuple[cst.If, set[int]]] = {}
    for other in later:
        branch = branch_of(other, origin)
        if branch is None:
            return None  # on every path
        branches.setdefault(id(branch[0]), (branch[0], set()))[1].add(branch[1])
    for statement, covered in branches.values():
        count, has_else = if_blocks(statement)
        blocks = list(blocks_of(statement))
        if has_else and all(i in covered or exits(blocks[i]) for i in range(count)):
            return None  # every branch reaches one (or leaves)
    if not branches:
        return ""
    statement, covered = next(iter(branches.values()))
    test = " ".join(source_of(statement.test).split())
    return f"`{test if len(test) <= 40 else test[:37] + '...'}` is {'false' if 0 in covered else 'true'}"
