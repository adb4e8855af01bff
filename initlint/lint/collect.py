"""Turn one parsed file into its ``FileSummary``: imports, classes, and what each method does.

This is the only place that walks class bodies; the project-wide rules read its output.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import libcst as cst

from initlint.lint import known
from initlint.lint.names import ImportTable, dotted
from initlint.lint.summary import ClassSummary, MethodFacts, TensorDef
from initlint.lint.walk import iter_tree

__all__ = ["collect_imports", "collect_classes", "self_root", "source_of", "blocks_of"]

_EMPTY_MODULE = cst.Module(body=[])
_COMPOUND = (cst.If, cst.Try, cst.With, cst.For, cst.While)


def source_of(node: cst.CSTNode) -> str:
    """The source text of a node (for messages)."""
    return _EMPTY_MODULE.code_for_node(node)


def _nested_statements(statements: Sequence[cst.BaseStatement]) -> Iterable[cst.BaseStatement]:
    """Module-level statements, looking inside ``if``/``try``/``with`` blocks but not defs."""
    for statement in statements:
        yield statement
        if isinstance(statement, _COMPOUND):
            for block in blocks_of(statement):
                yield from _nested_statements(block)


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


def collect_imports(module: cst.Module, table: ImportTable) -> None:
    """Fill ``table`` with the module's imports and top-level definitions."""
    for statement in _nested_statements(module.body):
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    table.add(small)
        elif isinstance(statement, (cst.ClassDef, cst.FunctionDef)):
            table.define(statement.name.value)


def collect_classes(module: cst.Module, table: ImportTable) -> list[tuple[cst.ClassDef, ClassSummary]]:
    """Every class of the module (nested ones too), with the facts the class rules need."""
    found: list[tuple[cst.ClassDef, ClassSummary]] = []

    def walk(statements: Sequence[cst.BaseStatement], prefix: str) -> None:
        for statement in _nested_statements(statements):
            if isinstance(statement, cst.ClassDef):
                summary = _summarize_class(statement, f"{prefix}{statement.name.value}", table)
                found.append((statement, summary))
                if isinstance(statement.body, cst.IndentedBlock):
                    walk(statement.body.body, f"{summary.name}.")

    walk(module.body, "")
    return found


def _summarize_class(node: cst.ClassDef, name: str, table: ImportTable) -> ClassSummary:
    summary = ClassSummary(
        name=name,
        line=0,
        col=0,
        bases=[_base_name(arg.value, table) for arg in node.bases if arg.keyword is None and arg.star == ""],
    )
    if not isinstance(node.body, cst.IndentedBlock):
        return summary
    created: dict[str, list[TensorDef]] = {}
    for statement in node.body.body:
        if isinstance(statement, cst.FunctionDef):
            scanner = _MethodScanner(_self_name(statement), table, _argument_names(statement))
            scanner.scan(statement.body)
            summary.methods[statement.name.value] = scanner.facts
            created[statement.name.value] = scanner.tensors
    tensors: dict[str, TensorDef] = {}
    for method in _built_by_init(summary):
        for tensor in created.get(method, ()):
            tensors.setdefault(tensor.name, tensor)
    summary.tensors = list(tensors.values())
    return summary


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


def _base_name(node: cst.BaseExpression, table: ImportTable) -> str | None:
    """The qualified name of a base class; its plain name where no import binds it."""
    if isinstance(node, cst.Subscript):  # Generic[T], nn.Module subclasses with type parameters
        node = node.value
    return table.qualify(node) or dotted(node)


def _argument_names(node: cst.FunctionDef) -> frozenset[str]:
    params = node.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    every += [p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)]
    return frozenset(p.name.value for p in every[1:])


def _self_name(node: cst.FunctionDef) -> str:
    params = node.params.params or node.params.posonly_params
    return params[0].name.value if params else "self"


def self_root(node: cst.BaseExpression, self_name: str = "self") -> str | None:
    """``X`` when ``node`` is ``self.X``, ``self.X.data`` or ``self.X[...]``; else ``None``."""
    while True:
        if isinstance(node, cst.Subscript):
            node = node.value
        elif isinstance(node, cst.Attribute) and node.attr.value == "data":
            node = node.value
        else:
            break
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == self_name:
        return node.attr.value
    return None


def _literal_string(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


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

    # -- helpers ---------------------------------------------------------------------------
    def _root(self, node: cst.BaseExpression) -> str | None:
        root = self_root(node, self.self_name)
        if root is None and self.aliases:  # w = self.weight; nn.init.normal_(w)
            while isinstance(node, cst.Subscript) or (isinstance(node, cst.Attribute) and node.attr.value == "data"):
                node = node.value
            if isinstance(node, cst.Name):
                return self.aliases.get(node.value)
        return root

    def _is_self(self, node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.Name) and node.value == self.self_name

    def _is_argument(self, node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.Name) and node.value in self.arguments

    def _is_empty(self, node: cst.BaseExpression) -> bool:
        """``torch.empty(0)``, ``torch.zeros(0)``, ``torch.tensor([])``: tensors without elements."""
        if not isinstance(node, cst.Call) or not node.args:
            return False
        factory = self.table.qualify(node.func)
        first = node.args[0].value
        if factory in ("torch.empty", "torch.zeros", "torch.ones"):
            return isinstance(first, cst.Integer) and first.value == "0"
        return factory == "torch.tensor" and isinstance(first, cst.List) and not first.elements

    def _write(self, name: str | None) -> None:
        if name is not None and name not in self._written:
            self._written.add(name)
            self.facts.writes.append(name)

    def _tensor(self, name: str, kind: str, persistent: bool = True) -> None:
        self.tensors.append(TensorDef(name=name, kind=kind, persistent=persistent))

    def _constructs(self, value: cst.BaseExpression | None) -> str | None:
        """``"parameter"``/``"buffer"`` when ``value`` builds one (directly or in a container)."""
        if isinstance(value, cst.IfExp):
            return self._constructs(value.body) or self._constructs(value.orelse)
        if not isinstance(value, cst.Call):
            return None
        name = self.table.qualify(value.func)
        if value.args and (self._is_argument(value.args[0].value) or self._is_empty(value.args[0].value)):
            return None
        if name in known.PARAMETER_CONSTRUCTORS:
            return "parameter"
        if name in known.BUFFER_CONSTRUCTORS:
            return "buffer"
        if name in known.PARAMETER_CONTAINERS and value.args:
            constructs = any(
                isinstance(node, cst.Call) and self.table.qualify(node.func) in known.PARAMETER_CONSTRUCTORS
                for node in iter_tree(value)
            )
            return "parameter" if constructs else None
        return None

    def _assigned(self, target: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
        self._write(self._root(target))
        if (
            isinstance(target, cst.Attribute)
            and self._is_self(target.value)
            and (kind := self._constructs(value)) is not None
        ):
            persistent = not (kind == "buffer" and _persistent_false(value))
            self._tensor(target.attr.value, kind, persistent)

    # -- visitors --------------------------------------------------------------------------
    def scan(self, body: cst.CSTNode) -> None:
        """Read every node of the method's body (closures inside it included)."""
        handlers = {
            cst.Assign: self.visit_Assign,
            cst.AnnAssign: self.visit_AnnAssign,
            cst.AugAssign: self.visit_AugAssign,
            cst.For: self.visit_For,
            cst.Call: self.visit_Call,
        }
        for node in iter_tree(body):
            handler = handlers.get(type(node))
            if handler is not None:
                handler(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if isinstance(target.target, (cst.Tuple, cst.List)):  # self.cos, self.sin = ...
                for element in target.target.elements:
                    self._write(self._root(element.value))
            else:
                self._assigned(target.target, node.value)
                if isinstance(target.target, cst.Name):
                    alias = self._root(node.value)
                    if alias is not None:
                        self.aliases[target.target.value] = alias
                    else:
                        self.aliases.pop(target.target.value, None)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._assigned(node.target, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._write(self._root(node.target))

    def visit_For(self, node: cst.For) -> None:
        if isinstance(node.iter, (cst.List, cst.Tuple)):
            for element in node.iter.elements:
                self._write(self._root(element.value))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            self._method_call(node, func)
        elif isinstance(func, cst.Name) and func.value in ("getattr", "setattr"):
            self._dynamic_attr(node, func.value)
        callee = (dotted(func) or "").rpartition(".")[2]
        if callee in known.READ_ONLY_CALLS:
            return
        if callee not in ("setattr", "delattr") and not _explicit_base_call(func):
            if any(self._is_self(arg.value) for arg in node.args):  # init_weights(self): anything
                self.facts.writes_all_parameters = self.facts.writes_all_buffers = True
        for arg in node.args:
            value = arg.value
            elements = value.elements if isinstance(value, (cst.List, cst.Tuple)) else ()
            for candidate in (value, *(e.value for e in elements)):
                self._write(self._root(candidate))

    def _method_call(self, node: cst.Call, func: cst.Attribute) -> None:
        method, receiver = func.attr.value, func.value
        if self._is_self(receiver):
            self._self_method(node, method)
        elif isinstance(receiver, cst.Call) and dotted(receiver.func) == "super":
            _append_once(self.facts.super_calls, method)
        elif node.args and self._is_self(node.args[0].value) and dotted(receiver) is not None:
            _append_once(self.facts.super_calls, method)  # Base.reset_parameters(self)
        elif method.endswith("_") and not method.startswith("_"):
            self._write(self._root(receiver))

    def _self_method(self, node: cst.Call, method: str) -> None:
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

    def _registered(self, node: cst.Call, kind: str) -> None:
        args = node.args
        if len(args) < 2 or _is_none(args[1].value) or self._is_argument(args[1].value):
            return
        if self._is_empty(args[1].value):  # a zero-element anchor holds nothing to initialize
            return
        name = _literal_string(args[0].value) or f"<{source_of(args[0].value)}>"
        persistent = True
        for index, arg in enumerate(args):
            is_flag = (arg.keyword is not None and arg.keyword.value == "persistent") or (
                arg.keyword is None and index == 2
            )
            if is_flag and isinstance(arg.value, cst.Name) and arg.value.value == "False":
                persistent = False
        self._tensor(name, kind, persistent)
        self._write(name)

    def _dynamic_attr(self, node: cst.Call, which: str) -> None:
        args = node.args
        if len(args) < 2 or not self._is_self(args[0].value):
            return
        name = _literal_string(args[1].value)
        if which == "setattr" and len(args) >= 3 and (kind := self._constructs(args[2].value)):
            self._tensor(name or f"<{source_of(args[1].value)}>", kind)
        if name is None:
            self.facts.writes_all_parameters = self.facts.writes_all_buffers = True
        else:
            self._write(name)


def _explicit_base_call(func: cst.BaseExpression) -> bool:
    """``nn.Linear.reset_parameters(self)``: a method of a class (by the naming convention)."""
    if not isinstance(func, cst.Attribute):
        return False
    receiver = dotted(func.value)
    return receiver is not None and receiver.rpartition(".")[2][:1].isupper()


def _persistent_false(value: cst.BaseExpression | None) -> bool:
    if not isinstance(value, cst.Call):
        return False
    return any(
        arg.keyword is not None
        and arg.keyword.value == "persistent"
        and isinstance(arg.value, cst.Name)
        and arg.value.value == "False"
        for arg in value.args
    )


def _append_once(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)
