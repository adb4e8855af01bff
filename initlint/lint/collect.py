"""Turn one file's ``ast`` tree into its ``FileSummary`` facts: imports, classes, and what each
method does.

This is the only place that walks class bodies; the project-wide rules read its output. It reads
CPython's ``ast``, not libcst: every candidate file needs these facts, and ``ast.parse`` is about ten
times faster than ``libcst.parse_module`` (issue 7). libcst is parsed only for the files a
script-order rule reads, and where a fix rewrites code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence

from initlint.lint import known
from initlint.lint.astwalk import Walked, preorder, walk
from initlint.lint.names import ImportTable, dotted, strip_tensor
from initlint.lint.summary import ClassSummary, MethodFacts, TensorDef

__all__ = ["collect_imports", "collect_classes", "self_root", "arguments_of"]

_TIED = ("weight", "bias")  # what ``tie_weights()`` shares between two modules
# the node types the method scanner reads (its ``handlers``)
_SCANNED = frozenset({ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.Call})
# and where a guard starts or ends: every statement (a method with a top-level ``if flag:`` only)
_GUARDED = _SCANNED | frozenset(kind for kind in vars(ast).values()
                                 if isinstance(kind, type) and issubclass(kind, ast.stmt))
_COMPOUND = (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def arguments_of(call: ast.Call) -> list[ast.expr]:
    """A call's argument values: positional ones, then keyword ones, in source order."""
    return [*call.args, *(keyword.value for keyword in call.keywords)]


def _nested_statements(statements: Sequence[ast.stmt]) -> Iterable[ast.stmt]:
    """Statements of a block, looking inside ``if``/``try``/``with``/loops but not defs."""
    for statement in statements:
        yield statement
        if isinstance(statement, _COMPOUND) or type(statement).__name__ == "TryStar":
            for block in _blocks(statement):
                yield from _nested_statements(block)


def _blocks(statement: ast.stmt) -> Iterable[Sequence[ast.stmt]]:
    for attr in ("body", "orelse", "finalbody"):
        yield getattr(statement, attr, ())
    for handler in getattr(statement, "handlers", ()):
        yield handler.body


def collect_imports(module: ast.Module, table: ImportTable) -> None:
    """Fill ``table`` with the module's imports, top-level definitions and class aliases."""
    for statement in _nested_statements(module.body):
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            table.add(statement)
        elif isinstance(statement, (ast.ClassDef, *_FUNCTIONS)):
            table.define(statement.name)
    for statement in module.body:  # ``Base = torch.nn.Module`` at the top level, after what it names
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
            if isinstance(target, ast.Name) and (dotted(value) or "").rpartition(".")[2][:1].isupper():
                qualified = table.qualify(value)
                if qualified is not None and qualified != f"{table.module}.{target.id}":
                    table.aliases[target.id] = qualified


def collect_classes(
    module: ast.Module, table: ImportTable, walks: dict[ast.AST, Walked] | None = None,
    kinds: frozenset[type] = frozenset(),
) -> list[tuple[ast.ClassDef, ClassSummary]]:
    """Every class of the module (nested ones too), with the facts the class rules need.

    Args:
        walks: where to keep each method's walk (``astwalk.preorder``), for the protocol facts to
            read instead of walking the method again.
        kinds: the node types to keep in those walks besides the ones read here.
    """
    found: list[tuple[ast.ClassDef, ClassSummary]] = []
    _classes_in(module.body, "", table, {} if walks is None else walks, kinds | _SCANNED, found)
    return found


def _classes_in(
    statements: Sequence[ast.stmt], prefix: str, table: ImportTable, walks: dict[ast.AST, Walked],
    kinds: frozenset[type], found: list[tuple[ast.ClassDef, ClassSummary]],
) -> None:
    # a module-level function, not a closure calling itself: that closure is a reference cycle holding
    # the whole tree, freed only by a full garbage collection (a third of a cold run's collector time)
    for statement in _nested_statements(statements):
        if isinstance(statement, ast.ClassDef):
            summary = _summarize_class(statement, f"{prefix}{statement.name}", table, walks, kinds)
            found.append((statement, summary))
            _classes_in(statement.body, f"{summary.name}.", table, walks, kinds, found)
        elif isinstance(statement, _FUNCTIONS):  # a factory's local class, named as Python names it
            _classes_in(statement.body, f"{prefix}{statement.name}.<locals>.", table, walks, kinds, found)


def _summarize_class(
    node: ast.ClassDef, name: str, table: ImportTable, walks: dict[ast.AST, Walked], kinds: frozenset[type]
) -> ClassSummary:
    # ``class`` is always the first word of its line, so the byte offset is the column too; the
    # analysis moves the position to the name for the classes it may report
    summary = ClassSummary(
        name=name,
        line=node.lineno,
        col=node.col_offset + 1,
        bases=[_base_name(base, table) for base in node.bases if not isinstance(base, ast.Starred)],
        end_col=node.col_offset + 1 + len("class"),
    )
    created: dict[str, list[TensorDef]] = {}
    filled: dict[str, list[str]] = {}
    containers: set[str] = set()
    for statement in node.body:
        if isinstance(statement, _FUNCTIONS):
            scanner = _MethodScanner(_self_name(statement), table, _argument_names(statement))
            walked = walks[statement] = preorder(statement, kinds)
            scanner.scan(statement, walked)
            summary.methods[statement.name] = scanner.facts
            if statement.name == "__init__":
                summary.ties = scanner.ties
            created[statement.name] = scanner.tensors
            filled[statement.name] = scanner.filled
            containers |= scanner.containers
    tensors: dict[tuple[str, str], TensorDef] = {}
    for method in _built_by_init(summary):
        for tensor in created.get(method, ()):  # one per name, or per guard where guards tell them apart
            tensors.setdefault((tensor.name, tensor.condition), tensor)
        for name in filled.get(method, ()):  # self.weights[k] = nn.Parameter(...) into a ParameterDict
            if name in containers:
                tensors.setdefault((name, ""), TensorDef(name=name, kind="parameter"))
    summary.tensors = _merge_guarded(list(tensors.values()))
    return summary


def _merge_guarded(tensors: list[TensorDef]) -> list[TensorDef]:
    """One definition per name, unguarded, unless a name is a parameter under one guard and a buffer under
    the other (``if requires_grad: Parameter(...) else: register_buffer(...)``): then one per guard."""
    kinds: dict[str, set[tuple[str, bool]]] = {}
    for tensor in tensors:
        kinds.setdefault(tensor.name, set()).add((tensor.kind, tensor.persistent))
    merged: dict[tuple[str, str], TensorDef] = {}
    for tensor in tensors:
        if tensor.condition and len(kinds[tensor.name]) == 1:  # the same tensor on every path that makes it
            tensor = TensorDef(tensor.name, tensor.kind, tensor.persistent) if _both_ways(tensors, tensor) else tensor
        merged.setdefault((tensor.name, tensor.condition), tensor)
    unguarded = {name for name, condition in merged if not condition}
    return [t for (name, condition), t in merged.items() if not condition or name not in unguarded]


def _both_ways(tensors: list[TensorDef], tensor: TensorDef) -> bool:
    """Whether ``tensor``'s name is also made unguarded or under the opposite guard."""
    opposite = tensor.condition[1:] if tensor.condition.startswith("!") else f"!{tensor.condition}"
    return any(t.name == tensor.name and t.condition in ("", opposite) for t in tensors)


def _built_by_init(summary: ClassSummary) -> list[str]:
    """The methods that run when the module is built: ``__init__`` and what it calls on ``self``.

    Tensors a method registers lazily later (a cache filled in ``forward``) are created on the
    materialized device, so they are no concern of empty init. A class without ``__init__`` may be
    built by a base that calls any of its methods: all of them count.
    """
    if "__init__" not in summary.methods:
        return list(summary.methods)
    reached, work = [], ["__init__"]
    while work:
        method = work.pop()
        if method in reached or method not in summary.methods:
            continue
        reached.append(method)
        work += summary.methods[method].self_calls
    return reached


def _base_name(node: ast.expr, table: ImportTable) -> str | None:
    """The qualified name of a base class; its plain name where no import binds it."""
    if isinstance(node, ast.Subscript):  # Generic[T], nn.Module subclasses with type parameters
        node = node.value
    return table.qualify(node) or dotted(node)


def _positional(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    return [*node.args.posonlyargs, *node.args.args]


def _argument_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> frozenset[str]:
    args = node.args
    every = [*_positional(node), *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return frozenset(a.arg for a in every[1:])


def _self_name(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    params = _positional(node)
    return params[0].arg if params else "self"


def self_root(node: ast.expr, self_name: str = "self") -> str | None:
    """``X`` when ``node`` is ``self.X``, ``self.X.data`` or ``self.X[...]``; else ``None``."""
    node = strip_tensor(node)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == self_name:
        return node.attr
    return None


def _literal_string(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_constant(node: ast.expr, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


class _MethodScanner:
    """Records the tensors a method creates on ``self`` and the ones it writes."""

    def __init__(self, self_name: str, table: ImportTable, arguments: frozenset[str] = frozenset()) -> None:
        self.self_name = self_name
        self.arguments = arguments  # a tensor passed in by the caller is not created here
        self.table = table
        self.facts = MethodFacts()
        self.tensors: list[TensorDef] = []
        self._written: set[str] = set()
        self.aliases: dict[str, str] = {}  # local name -> the tensor of self it refers to
        # ``self.X = nn.ParameterDict()`` / ``ParameterList``: parameters may be put into X later, and
        # ``self.X[k] = nn.Parameter(...)``, ``self.X.append(nn.Parameter(...))`` do it (X is a tensor
        # of the class when it is one of those containers: a plain list or dict registers nothing)
        self.containers: set[str] = set()
        self.filled: list[str] = []
        self.ties: list[str] = []  # ``self.a.weight = self.b.weight``: two modules share one tensor
        self.bound: set[str] = set(arguments)  # names the method binds: its arguments, assigned and loop names
        self._top: set[int] = set()  # the statements of the method's own block, and those run with the defaults
        self._guards: dict[int, str] = {}  # statement -> the guard of a top-level `if flag:` it sits under
        self._guard = ""  # the guard of the statement being read

    # -- helpers ---------------------------------------------------------------------------
    def _root(self, node: ast.expr) -> str | None:
        root = self_root(node, self.self_name)
        if root is None and self.aliases:  # w = self.weight; nn.init.normal_(w)
            stripped = strip_tensor(node)
            if isinstance(stripped, ast.Name):
                return self.aliases.get(stripped.id)
        return root

    def _is_self(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id == self.self_name

    def _is_argument(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id in self.arguments

    def _is_empty(self, node: ast.expr) -> bool:
        """``torch.empty(0)``, ``torch.zeros(0)``, ``torch.tensor([])``: tensors without elements."""
        if not isinstance(node, ast.Call) or not node.args:
            return False
        factory = self.table.qualify(node.func)
        first = node.args[0]
        if factory in ("torch.empty", "torch.zeros", "torch.ones"):
            return isinstance(first, ast.Constant) and type(first.value) is int and first.value == 0
        return factory == "torch.tensor" and isinstance(first, ast.List) and not first.elts

    def _write(self, name: str | None) -> None:
        if name is None:
            return
        guarded = self.facts.guarded
        if name not in self._written:
            self._written.add(name)
            self.facts.writes.append(name)
            if self._guard:
                guarded[name] = self._guard
        elif guarded.get(name) != self._guard:
            guarded.pop(name, None)  # written under two guards, or under none: unguarded

    def _tensor(self, name: str, kind: str, persistent: bool = True) -> None:
        self.tensors.append(TensorDef(name=name, kind=kind, persistent=persistent, condition=self._guard))

    def _constructs(self, value: ast.expr | None) -> str | None:
        """``"parameter"``/``"buffer"`` when ``value`` builds one (directly or in a container)."""
        if isinstance(value, ast.IfExp):
            return self._constructs(value.body) or self._constructs(value.orelse)
        if not isinstance(value, ast.Call):
            return None
        name = self.table.qualify(value.func)
        arguments = arguments_of(value)
        if arguments and (self._is_argument(arguments[0]) or self._is_empty(arguments[0])):
            return None
        if name in known.PARAMETER_CONSTRUCTORS:
            return "parameter"
        if name in known.BUFFER_CONSTRUCTORS:
            return "buffer"
        if name in known.PARAMETER_CONTAINERS and arguments:
            constructs = any(
                isinstance(node, ast.Call) and self.table.qualify(node.func) in known.PARAMETER_CONSTRUCTORS
                for node in ast.walk(value)
            )
            return "parameter" if constructs else None
        return None

    def _assigned(self, target: ast.expr, value: ast.expr | None) -> None:
        self._write(self._root(target))
        if type(target) is ast.Attribute and target.attr in _TIED and type(value) is ast.Attribute:
            self._tie(target, value)
        if isinstance(target, ast.Attribute) and self._is_self(target.value):
            if isinstance(value, ast.Call) and self.table.qualify(value.func) in known.PARAMETER_CONTAINERS:
                self.containers.add(target.attr)
            if (kind := self._constructs(value)) is not None:
                persistent = not (kind == "buffer" and _persistent_false(value))
                self._tensor(target.attr, kind, persistent)
        elif isinstance(target, ast.Subscript) and self._constructs(value) == "parameter":
            self._filled(target.value)

    def _tie(self, target: ast.Attribute, value: ast.Attribute) -> None:
        left, right = dotted(target), dotted(value)
        if left is None or right is None or left == right or target.attr != value.attr:
            return
        head = f"{self.self_name}."
        if left.startswith(head) and right.startswith(head) and left.count(".") >= 2 and right.count(".") >= 2:
            self.ties.append(f"{left} = {right}")

    def _filled(self, container: ast.expr) -> None:
        """A parameter is put into ``container``; it counts if that is ``self.X``, a parameter container."""
        if isinstance(container, ast.Attribute) and self._is_self(container.value):
            self.filled.append(container.attr)

    def _puts_parameter(self, value: ast.expr) -> bool:
        """``nn.Parameter(...)`` made here, alone or in a list, dict or comprehension."""
        return any(self._constructs(node) == "parameter" for node in ast.walk(value) if isinstance(node, ast.Call))

    # -- visitors --------------------------------------------------------------------------
    def scan(self, method: ast.FunctionDef | ast.AsyncFunctionDef, walked: Walked) -> None:
        """Read every node of the method's body (closures inside it included), in source order, from
        the method's walk (``astwalk.preorder``: the nodes of decorators, annotations and defaults are
        not code of the body)."""
        handlers = {
            ast.Assign: self.visit_Assign,
            ast.AnnAssign: self.visit_AnnAssign,
            ast.AugAssign: self.visit_AugAssign,
            ast.For: self.visit_For,
            ast.Call: self.visit_Call,
        }
        # an argument rebound under a condition may still be the caller's tensor on the other path, unless
        # that path is the one its default takes (`if atomref is None: atomref = torch.zeros(...)`)
        self._top = _default_path(method)
        self._guards = guards = _guards(method.body, self.self_name)
        if guards:  # the guard switches at statements the shared walk leaves out: walk them too
            walked = preorder(method, _GUARDED)
        top = {id(statement) for statement in method.body}
        for node, _, code in walked:  # pre-order, in source order
            if not code:
                continue
            if guards:  # a statement's subtree is read before its next sibling: the guard holds until then
                key = id(node)
                if key in guards:
                    self._guard = guards[key]
                elif key in top:
                    self._guard = ""
            handler = handlers.get(type(node))
            if handler is not None:
                handler(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._bind(target)
            if isinstance(target, ast.Name) and target.id in self.arguments and id(node) in self._top \
                    and self._replaces(target.id, node.value):
                self.arguments = self.arguments - {target.id}  # kernel_size = torch.tensor(...): made here
            if isinstance(target, (ast.Tuple, ast.List)):  # self.cos, self.sin = ...
                for element in target.elts:
                    self._write(self._root(element))
            else:
                self._assigned(target, node.value)
                if isinstance(target, ast.Name):
                    alias = self._root(node.value)
                    if alias is not None:
                        self.aliases[target.id] = alias
                    else:
                        self.aliases.pop(target.id, None)

    def _is_local_tensor(self, receiver: ast.expr) -> bool:
        """Whether ``receiver`` is rooted in ``self`` or in a name this method binds (not a module such as
        ``init`` in ``init.normal_(self.w)``, imported at the top or not)."""
        while isinstance(receiver, (ast.Attribute, ast.Subscript, ast.Call)):
            receiver = receiver.func if isinstance(receiver, ast.Call) else receiver.value
        return isinstance(receiver, ast.Name) and (receiver.id == self.self_name or receiver.id in self.bound)

    def _bind(self, target: ast.expr) -> None:
        if type(target) is ast.Name:  # most targets: no walk
            self.bound.add(target.id)
            return
        for sub in walk(target):
            if isinstance(sub, ast.Name):
                self.bound.add(sub.id)

    def _replaces(self, name: str, value: ast.expr) -> bool:
        """Whether ``name = value`` binds a tensor made here rather than the caller's: a tensor factory
        (``torch.tensor(kernel_size)`` copies), or anything that does not read the argument."""
        if isinstance(value, ast.Call) and (self.table.qualify(value.func) or "") in _FACTORIES:
            return True
        return not any(isinstance(sub, ast.Name) and sub.id == name for sub in ast.walk(value))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._assigned(node.target, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._write(self._root(node.target))

    def visit_For(self, node: ast.For) -> None:
        self._bind(node.target)
        if isinstance(node.iter, (ast.List, ast.Tuple)):
            for element in node.iter.elts:
                self._write(self._root(element))
        member, container = _loop_member(node.target, node.iter)
        if member is not None:  # for w in self.weights: nn.init.orthogonal_(w) writes each member
            root = self._root(container) if container is not None else None
            if root is not None:
                self.aliases[member] = root
            else:
                self.aliases.pop(member, None)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            self._method_call(node, func)
            if _in_place(func) and self._is_local_tensor(func.value):
                return  # x.copy_(self.buf): a tensor's in-place method writes x and reads its arguments
        elif isinstance(func, ast.Name) and func.id in ("getattr", "setattr"):
            self._dynamic_attr(node, func.id)
        callee = (dotted(func) or "").rpartition(".")[2]
        if callee in known.READ_ONLY_CALLS:
            return
        arguments = arguments_of(node)
        if callee not in ("setattr", "delattr") and not _explicit_base_call(func):
            if any(self._is_self(value) for value in arguments):  # init_weights(self): anything
                self.facts.writes_all_parameters = self.facts.writes_all_buffers = True
        for value in arguments:
            elements = value.elts if isinstance(value, (ast.List, ast.Tuple)) else ()
            for candidate in (value, *elements):
                self._write(self._root(candidate))

    def _method_call(self, node: ast.Call, func: ast.Attribute) -> None:
        method, receiver = func.attr, func.value
        if self._is_self(receiver):
            self._self_method(node, method)
        elif isinstance(receiver, ast.Call) and dotted(receiver.func) == "super":
            _append_once(self.facts.super_calls, method)
        elif node.args and self._is_self(node.args[0]) and dotted(receiver) is not None:
            _append_once(self.facts.super_calls, method)  # Base.reset_parameters(self)
        elif method.endswith("_") and not method.startswith("_"):
            self._write(self._root(receiver))
        elif method in _FILLING and any(self._puts_parameter(value) for value in arguments_of(node)):
            self._filled(receiver)

    def _self_method(self, node: ast.Call, method: str) -> None:
        facts = self.facts
        if method in ("parameters", "named_parameters"):
            facts.writes_all_parameters = True
        elif method in ("buffers", "named_buffers"):
            facts.writes_all_buffers = True
        elif method in ("apply", "_apply"):
            facts.writes_all_parameters = facts.writes_all_buffers = True
        elif method in ("register_buffer", "register_parameter"):
            self._registered(node, "buffer" if method == "register_buffer" else "parameter")
        else:
            _append_once(facts.self_calls, method)

    def _registered(self, node: ast.Call, kind: str) -> None:
        args = arguments_of(node)
        if len(args) < 2 or _is_constant(args[1], None) or self._is_argument(args[1]):
            return
        if self._is_empty(args[1]):  # a zero-element anchor holds nothing to initialize
            return
        name = _literal_string(args[0]) or f"<{ast.unparse(args[0])}>"
        flag = next((k.value for k in node.keywords if k.arg == "persistent"), None)
        if flag is None and len(node.args) > 2:
            flag = node.args[2]
        self._tensor(name, kind, persistent=not (flag is not None and _is_constant(flag, False)))
        self._write(name)

    def _dynamic_attr(self, node: ast.Call, which: str) -> None:
        args = arguments_of(node)
        if len(args) < 2 or not self._is_self(args[0]):
            return
        name = _literal_string(args[1])
        if which == "setattr" and len(args) >= 3 and (kind := self._constructs(args[2])):
            self._tensor(name or f"<{ast.unparse(args[1])}>", kind)
        if name is None:
            self.facts.writes_all_parameters = self.facts.writes_all_buffers = True
        else:
            self._write(name)


def _flag(test: ast.expr, self_name: str) -> str:
    """``"flag"`` for ``if flag:``/``if self.flag:``, ``"!flag"`` for ``if not ...:``; ``""`` for other tests."""
    negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    if negated:
        test = test.operand  # type: ignore[attr-defined]
    if isinstance(test, ast.Attribute) and isinstance(test.value, ast.Name) and test.value.id == self_name:
        name = test.attr
    elif isinstance(test, ast.Name):
        name = test.id
    else:
        return ""
    return f"!{name}" if negated else name


def _guards(body: Sequence[ast.stmt], self_name: str) -> dict[int, str]:
    """The statements of each top-level ``if flag: ... else: ...`` of a method, with their guard."""
    guards: dict[int, str] = {}
    for statement in body:
        if isinstance(statement, ast.If) and (flag := _flag(statement.test, self_name)):
            other = flag[1:] if flag.startswith("!") else f"!{flag}"
            guards.update((id(s), flag) for s in statement.body)
            guards.update((id(s), other) for s in statement.orelse)
    return guards


def _default_path(method: ast.FunctionDef | ast.AsyncFunctionDef) -> set[int]:
    """The method's top-level statements, and the statements under an ``if`` that the arguments' literal
    defaults decide (``x is None``, ``x is not None``, ``isinstance(x, ...)``, ``not ...``): those run when
    the caller passes none of them, so a tensor they make from an argument is made here."""
    args = method.args
    positional = [*args.posonlyargs, *args.args]
    pairs = [*zip(positional[len(positional) - len(args.defaults):], args.defaults),
             *zip(args.kwonlyargs, args.kw_defaults)]
    values: dict[str, str] = {}  # argument -> "none" / "value" (a non-tensor literal) while known
    for arg, default in pairs:
        if isinstance(default, ast.Constant):
            values[arg.arg] = "none" if default.value is None else "value"
    reached = {id(statement) for statement in method.body}
    if not values:
        return reached

    def walk(statements: Sequence[ast.stmt]) -> None:  # statements only: no subtree is read twice
        for statement in statements:
            reached.add(id(statement))
            if isinstance(statement, ast.Assign):
                for target in statement.targets:
                    if isinstance(target, ast.Name) and target.id in values:
                        values[target.id] = _literal_kind(statement.value)
                    elif not isinstance(target, (ast.Name, ast.Attribute, ast.Subscript)):
                        values.clear()  # a, b = ...: what it rebinds is unknown from here on
            elif isinstance(statement, ast.AnnAssign):
                if isinstance(statement.target, ast.Name) and statement.target.id in values:
                    values[statement.target.id] = "unknown"
            elif isinstance(statement, ast.If) and (taken := _decide(statement.test, values)) is not None:
                walk(statement.body if taken else statement.orelse)
            elif not isinstance(statement, (ast.Expr, ast.Assert, ast.Pass)):
                values.clear()  # an undecided branch, a loop, a with: it may rebind any of them
            if not values:
                return

    walk(method.body)
    return reached


def _literal_kind(value: ast.expr) -> str:
    if isinstance(value, ast.Constant):
        return "none" if value.value is None else "value"
    if isinstance(value, (ast.BinOp, ast.UnaryOp)) and all(
            isinstance(sub, (ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop, ast.Load))
            for sub in ast.walk(value)):
        return "value"  # 1. / (num_layers + 1): arithmetic on numbers
    return "unknown"


def _decide(test: ast.expr, values: dict[str, str]) -> bool | None:
    """The value of an ``if`` test on the arguments' known defaults, or ``None`` when it depends on more."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _decide(test.operand, values)
        return None if inner is None else not inner
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and _is_constant(test.comparators[0], None) \
            and isinstance(test.left, ast.Name) and values.get(test.left.id, "unknown") != "unknown":
        none = values[test.left.id] == "none"
        if isinstance(test.ops[0], ast.Is):
            return none
        if isinstance(test.ops[0], ast.IsNot):
            return not none
    if isinstance(test, ast.Call) and dotted(test.func) == "isinstance" and len(test.args) == 2 \
            and isinstance(test.args[0], ast.Name) and values.get(test.args[0].id, "unknown") != "unknown":
        tensor_class = (dotted(test.args[1]) or "").rpartition(".")[2] in ("Tensor", "Parameter")
        if values[test.args[0].id] == "none" or tensor_class:
            return False  # None, or a number, is no tensor
    return None


_FILLING = frozenset({"append", "extend", "insert", "update", "__setitem__"})
_FACTORIES = frozenset(f"torch.{name}" for name in (
    "tensor", "zeros", "ones", "full", "empty", "arange", "linspace", "logspace", "eye", "rand", "randn", "randint",
    "randperm", "zeros_like", "ones_like", "full_like", "empty_like", "rand_like", "randn_like"))


def _in_place(func: ast.Attribute) -> bool:
    """``x.normal_(...)``, ``init.normal_(...)``: a method named like an in-place one (``m_``, not ``_m``)."""
    return func.attr.endswith("_") and not func.attr.startswith("_")


def _loop_member(target: ast.expr, iterable: ast.expr) -> tuple[str | None, ast.expr | None]:
    """The loop variable that names each member of a container, and the container:
    ``for w in c``, ``for w in c.values()``, ``for k, w in c.items()``, ``for i, w in enumerate(c)``."""
    pair = isinstance(target, ast.Tuple) and len(target.elts) == 2
    member = target.elts[1] if pair else target  # type: ignore[attr-defined]
    if not isinstance(member, ast.Name):
        return None, None
    container: ast.expr | None = iterable
    if isinstance(iterable, ast.Call) and not iterable.keywords:
        func = iterable.func
        if isinstance(func, ast.Name) and func.id == "enumerate" and pair and len(iterable.args) == 1:
            return _loop_member(ast.Name(id=member.id), iterable.args[0])
        method = func.attr if isinstance(func, ast.Attribute) and not iterable.args else None
        if method == "items" and pair or method in ("values", "parameters") and not pair:
            container = func.value  # type: ignore[union-attr]
        else:
            container = None
    elif pair:
        container = None
    return member.id, container


def _explicit_base_call(func: ast.expr) -> bool:
    """``nn.Linear.reset_parameters(self)``: a method of a class (by the naming convention)."""
    if not isinstance(func, ast.Attribute):
        return False
    receiver = dotted(func.value)
    return receiver is not None and receiver.rpartition(".")[2][:1].isupper()


def _persistent_false(value: ast.expr | None) -> bool:
    if not isinstance(value, ast.Call):
        return False
    return any(k.arg == "persistent" and _is_constant(k.value, False) for k in value.keywords)


def _append_once(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)
