"""What a name may be bound to where it is read, resolved by scope the way Python does.

A script often builds the same name in several functions (``fabric = L.Fabric(strategy="fsdp")``
in one, ``fabric = L.Fabric(strategy="ddp")`` in another). What a read of ``fabric`` means is the
binding of the same scope that reaches it (the last one before it on each path through ``if``,
``for``, ``try``), else, for a name the scope never binds, every binding of the nearest enclosing
function's scope, else the module's. A parameter, an import, a loop variable or a name bound by
unpacking something unknown is ``None``: unknown, never another function's value.
"""

from __future__ import annotations

from collections.abc import Sequence

from initlint.lint.lazy import cst
from initlint.lint.names import dotted
from initlint.lint.walk import iter_tree

__all__ = ["Bindings", "bindings_of", "local_names"]

_State = dict[str, frozenset[int]]  # name -> the bindings (by number) that may reach this point


class _Scope:
    """One function, class or module body: its local names and every binding of them."""

    def __init__(self, parent: _Scope | None, local: set[str], is_class: bool = False) -> None:
        self.parent = parent
        self.local = local
        self.is_class = is_class
        self.values: list[cst.BaseExpression | None] = []
        self.by_name: dict[str, list[int]] = {}

    def bind(self, state: _State, name: str, value: cst.BaseExpression | None) -> None:
        number = len(self.values)
        self.values.append(value)
        self.by_name.setdefault(name, []).append(number)
        state[name] = frozenset({number})

    def every(self, name: str) -> tuple[cst.BaseExpression | None, ...]:
        return tuple(self.values[n] for n in self.by_name.get(name, ()))


class Bindings:
    """The bindings that may reach each name read in one module.

    Args:
        module: the parsed file; its nodes are the keys of every question asked.
    """

    def __init__(self, module: cst.Module) -> None:
        self._reads: dict[int, tuple[_Scope, frozenset[int] | None]] = {}
        self._attributes: dict[str, list[cst.BaseExpression]] = {}  # ``self.fabric = ...``, file-wide
        _load_types()
        pending: list[tuple[cst.CSTNode, _Scope | None]] = [(module, None)]
        while pending:
            node, parent = pending.pop()
            pending.extend(_Reader(self, node, parent).read())

    def values(self, expr: cst.BaseExpression) -> tuple[cst.BaseExpression | None, ...]:
        """What ``expr`` may evaluate to: the values reaching a name, the file's bindings of a dotted
        name (``self.fabric``), the expression itself otherwise. ``None`` stands for unknown."""
        if isinstance(expr, cst.Name):
            entry = self._reads.get(id(expr))
            if entry is None:
                return (None,)
            scope, reaching = entry
            if reaching is not None:
                return tuple(scope.values[n] for n in reaching) or (None,)
            return _free(scope, expr.value) or (None,)
        if isinstance(expr, cst.Attribute):
            name = dotted(expr)
            if name is not None:
                return tuple(self._attributes.get(name, ())) or (None,)
        return (expr,)

    def resolved(self, expr: cst.BaseExpression, depth: int = 3) -> tuple[cst.BaseExpression | None, ...]:
        """``values``, followed through names bound to names (``s = strategy``) up to ``depth`` times."""
        result: list[cst.BaseExpression | None] = []
        for value in self.values(expr):
            if depth and isinstance(value, (cst.Name, cst.Attribute)) and value is not expr:
                result.extend(self.resolved(value, depth - 1))
            else:
                result.append(value)
        return tuple(result)


def _free(scope: _Scope, name: str) -> tuple[cst.BaseExpression | None, ...]:
    """A name the scope never binds: every binding of the nearest enclosing scope that has one
    (class bodies are skipped, as Python skips them for the functions inside)."""
    outer = scope.parent
    while outer is not None:
        if not outer.is_class and name in outer.local:
            return outer.every(name) or (None,)
        outer = outer.parent
    return ()


_last: tuple[cst.Module, Bindings] | None = None


def bindings_of(module: cst.Module) -> Bindings:
    """The module's bindings, read once however many rules ask about the same tree."""
    global _last
    if _last is None or _last[0] is not module:
        _last = (module, Bindings(module))
    return _last[1]


_COMPREHENSIONS = ("ListComp", "SetComp", "GeneratorExp", "DictComp")
_INNER: tuple[type, ...] = ()  # lambdas and comprehensions, filled once libcst is loaded
_OWN_SCOPES: tuple[type, ...] = ()


def _load_types() -> None:
    global _INNER, _OWN_SCOPES
    if not _INNER:
        _INNER = (cst.Lambda, *(getattr(cst, name) for name in _COMPREHENSIONS))
        _OWN_SCOPES = (cst.FunctionDef, cst.ClassDef, *_INNER)


class _Reader:
    """Reads one scope's statements in order, keeping the bindings that reach each point."""

    def __init__(self, bindings: Bindings, node: cst.CSTNode, parent: _Scope | None) -> None:
        self.bindings = bindings
        self.node = node
        is_class = isinstance(node, cst.ClassDef)
        self.scope = _Scope(parent, _locals(node), is_class)
        self.nested: list[tuple[cst.CSTNode, _Scope | None]] = []
        # the functions of a class body see the class's enclosing scope, not the class
        self.inner_parent = parent if is_class else self.scope

    def read(self) -> list[tuple[cst.CSTNode, _Scope | None]]:
        state: _State = {}
        if isinstance(self.node, cst.FunctionDef):
            for param in _parameters(self.node.params):
                self.scope.bind(state, param, None)
        body = self.node.body if isinstance(self.node, cst.Module) else _body(self.node)
        self.block(body, state)
        return self.nested

    # -- statements ------------------------------------------------------------------------
    def block(self, statements: Sequence[cst.BaseStatement], state: _State | None) -> _State | None:
        for statement in statements:
            if state is None:
                return None  # after a return or raise
            state = self.statement(statement, state)
        return state

    def statement(self, node: cst.BaseStatement, state: _State) -> _State | None:
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                self.read_expr(small, state)
                self.bind_small(small, state)
                if isinstance(small, (cst.Return, cst.Raise)):
                    return None
            return state
        if isinstance(node, cst.If):
            self.read_expr(node.test, state)
            taken = self.block(_body(node), dict(state))
            other = node.orelse
            if isinstance(other, cst.If):
                skipped = self.statement(other, dict(state))
            elif isinstance(other, cst.Else):
                skipped = self.block(_body(other), dict(state))
            else:
                skipped = state
            return _merge(taken, skipped)
        if isinstance(node, (cst.For, cst.While)):
            return self.loop(node, state)
        if isinstance(node, cst.With):
            for item in node.items:
                self.read_expr(item.item, state)
                if item.asname is not None:
                    self.bind_target(item.asname.name, None, state)
            return self.block(_body(node), state)
        if isinstance(node, (cst.Try, getattr(cst, "TryStar", cst.Try))):
            return self.try_(node, state)
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            for decorator in node.decorators:
                self.read_expr(decorator, state)
            if isinstance(node, cst.FunctionDef):
                for param in _all_params(node.params):
                    if param.default is not None:
                        self.read_expr(param.default, state)
            else:
                for arg in node.bases:
                    self.read_expr(arg, state)
            self.scope.bind(state, node.name.value, None)
            self.nested.append((node, self.inner_parent))
            return state
        if isinstance(node, cst.Match):
            self.read_expr(node.subject, state)
            ends = [self.block(_body(case), dict(state)) for case in node.cases]
            result: _State | None = state
            for end in ends:
                result = _merge(result, end)
            return result
        self.read_expr(node, state)
        return state

    def loop(self, node: cst.For | cst.While, state: _State) -> _State | None:
        self.read_expr(node.iter if isinstance(node, cst.For) else node.test, state)
        inside = dict(state)
        if isinstance(node, cst.For):
            self.bind_target(node.target, None, inside)
        after = _merge(state, self.block(_body(node), inside))
        if node.orelse is not None and after is not None:
            after = _merge(after, self.block(_body(node.orelse), dict(after)))
        return after

    def try_(self, node: cst.Try, state: _State) -> _State | None:
        body = self.block(_body(node), dict(state))
        ends: list[_State | None] = []
        for handler in node.handlers:
            start = _merge(dict(state), body) or dict(state)
            start = dict(start)
            if handler.type is not None:
                self.read_expr(handler.type, start)
            if handler.name is not None:
                self.bind_target(handler.name.name, None, start)
            ends.append(self.block(_body(handler), start))
        if node.orelse is not None:
            body = self.block(_body(node.orelse), dict(body)) if body is not None else None
        result = body
        for end in ends:
            result = _merge(result, end)
        if node.finalbody is not None:
            final = self.block(_body(node.finalbody), dict(result if result is not None else state))
            result = final if result is not None else None
        return result

    # -- bindings --------------------------------------------------------------------------
    def bind_small(self, node: cst.BaseSmallStatement, state: _State) -> None:
        if isinstance(node, cst.Assign):
            for target in node.targets:
                self.bind_target(target.target, node.value, state)
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            self.bind_target(node.target, node.value, state)
        elif isinstance(node, cst.AugAssign):
            self.bind_target(node.target, None, state)
        elif isinstance(node, (cst.Import, cst.ImportFrom)) and not isinstance(node.names, cst.ImportStar):
            for alias in node.names:
                name = dotted(alias.asname.name) if alias.asname else (dotted(alias.name) or "").partition(".")[0]
                if name:
                    self.scope.bind(state, name, None)
        elif isinstance(node, cst.Del):
            for name in _target_names(node.target):
                state[name] = frozenset()

    def bind_target(self, target: cst.BaseExpression, value: cst.BaseExpression | None, state: _State) -> None:
        """Bind a target; unpacking a literal tuple or list binds element by element."""
        if isinstance(target, (cst.Tuple, cst.List)):
            elements = value.elements if isinstance(value, (cst.Tuple, cst.List)) else None
            aligned = elements is not None and len(elements) == len(target.elements) and not any(
                isinstance(e, (cst.StarredElement,)) for e in (*target.elements, *elements)
            )
            for i, element in enumerate(target.elements):
                inner = element.value
                self.bind_target(inner, elements[i].value if aligned else None, state)  # type: ignore[index]
            return
        if isinstance(target, cst.StarredElement):
            self.bind_target(target.value, None, state)
        elif isinstance(target, cst.Name):
            self.scope.bind(state, target.value, value)
        elif isinstance(target, cst.Attribute) and value is not None:
            name = dotted(target)
            if name is not None:
                self.bindings._attributes.setdefault(name, []).append(value)

    # -- reads -----------------------------------------------------------------------------
    def read_expr(self, node: cst.CSTNode, state: _State, shadowed: frozenset[str] = frozenset()) -> None:
        """Record what reaches every name read in ``node``; names a comprehension or lambda binds
        are their own, unknown."""
        for child in iter_tree(node, prune=_INNER):
            if child is not node and isinstance(child, _INNER):
                self.read_expr(child, state, shadowed | _inner_names(child))
            elif isinstance(child, cst.Name):
                name = child.value
                if name in shadowed:
                    continue
                if name in self.scope.local:
                    self.bindings._reads[id(child)] = (self.scope, state.get(name, frozenset()))
                else:
                    self.bindings._reads[id(child)] = (self.scope, None)
            elif isinstance(child, cst.NamedExpr):
                self.bind_target(child.target, child.value, state)


def _merge(a: _State | None, b: _State | None) -> _State | None:
    if a is None:
        return b
    if b is None:
        return a
    merged = dict(a)
    for name, numbers in b.items():
        merged[name] = merged.get(name, frozenset()) | numbers
    return merged


def _body(node: cst.CSTNode) -> Sequence[cst.BaseStatement]:
    body = getattr(node, "body", None)
    return body.body if isinstance(body, cst.IndentedBlock) else ()


def _all_params(params: cst.Parameters) -> list[cst.Param]:
    star = [params.star_arg] if isinstance(params.star_arg, cst.Param) else []
    kwargs = [params.star_kwarg] if params.star_kwarg is not None else []
    return [*params.posonly_params, *params.params, *star, *params.kwonly_params, *kwargs]


def _parameters(params: cst.Parameters) -> list[str]:
    return [p.name.value for p in _all_params(params)]


def _inner_names(node: cst.CSTNode) -> frozenset[str]:
    """The names a lambda's parameters or a comprehension's ``for`` clauses bind."""
    if isinstance(node, cst.Lambda):
        return frozenset(_parameters(node.params))
    names: set[str] = set()
    clause = getattr(node, "for_in", None)
    while clause is not None:
        names.update(_target_names(clause.target))
        clause = clause.inner_for_in
    return frozenset(names)


def _target_names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _target_names(e.value)]
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return [target.value] if isinstance(target, cst.Name) else []


def local_names(node: cst.CSTNode) -> set[str]:
    """The names a function (or class, or module) binds in its own scope."""
    _load_types()
    return _locals(node)


def _locals(node: cst.CSTNode) -> set[str]:
    """The names a scope binds anywhere in its own body (not in nested functions or classes),
    its parameters included, less those it declares ``global`` or ``nonlocal``."""
    names: set[str] = set()
    declared: set[str] = set()
    if isinstance(node, cst.FunctionDef):
        names.update(_parameters(node.params))
    body = node.body if isinstance(node, cst.Module) else _body(node)
    for statement in body:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            names.add(statement.name.value)
            continue
        for current in iter_tree(statement, prune=_OWN_SCOPES):
            if isinstance(current, (cst.FunctionDef, cst.ClassDef)):
                names.add(current.name.value)
            elif isinstance(current, (cst.Global, cst.Nonlocal)):
                declared.update(n.name.value for n in current.names)
            elif isinstance(current, cst.Assign):
                names.update(n for t in current.targets for n in _target_names(t.target))
            elif isinstance(current, (cst.AnnAssign, cst.AugAssign, cst.For, cst.NamedExpr)):
                names.update(_target_names(current.target))
            elif isinstance(current, cst.AsName):
                names.update(_target_names(current.name))
            elif isinstance(current, cst.Import):
                names.update((dotted(a.name) or "").partition(".")[0] for a in current.names if a.asname is None)
            elif isinstance(current, cst.ImportFrom) and not isinstance(current.names, cst.ImportStar):
                names.update(dotted(a.name) or "" for a in current.names if a.asname is None)
    return names - declared
