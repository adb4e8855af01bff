"""Read an init dispatch (``def _init_weights(self, module): if isinstance(module, X): ...``) into data.

A dispatch is a list of steps, each a small JSON value, so it can be cached with the file summary and
judged later for any class of the project (``evaluate.py``):

- ``["write", "weight"]``: ``module.weight`` is written (``init.normal_(module.weight)``,
  ``module.weight.data.zero_()``, ``module.weight = nn.Parameter(...)``);
- ``["child", "gate", "weight"]``: ``module.gate.weight`` is written, a tensor of a submodule;
- ``["all", "parameter"]`` / ``["all", "buffer"]``: a loop over ``module.parameters()`` / ``buffers()``;
- ``["method", "reset_parameters"]``: ``module.reset_parameters()``, whatever that writes for the class;
- ``["helper", kind, name]``: the module is handed on: ``self._init(module)`` (kind ``self``),
  ``super()._init_weights(module)`` (``super``), ``Base._init_weights(self, module)`` (``class``, named
  ``"qualified.Base:_init_weights"``) or a function of the project (``function``);
- ``["if", [[condition, steps], ...], else_steps]``: an ``if``/``elif``/``else`` chain.

A condition is ``["isinstance", [qualified names]]``, ``["name", op, text]`` (a test on
``module.__class__.__name__``: op ``in``, ``==``, ``startswith``, ``endswith``), ``["has", attr]``
(``hasattr``, ``getattr(module, attr, None) is not None``), ``["and", [...]]``, ``["or", [...]]``,
``["not", condition]`` or ``["?"]`` (anything else: it may or may not hold).
"""

from __future__ import annotations

import ast
from typing import Any

from initlint.lint.astwalk import walk
from initlint.lint.names import ImportTable, dotted, strip_tensor

__all__ = ["read_dispatch", "UNKNOWN", "DYNAMIC"]

UNKNOWN: list[Any] = ["?"]
DYNAMIC = "<dynamic>"  # a write through getattr(module, <not a literal>): any dynamically named tensor
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_READERS = frozenset({"isinstance", "hasattr", "getattr", "len", "print", "id", "type"})


class _Reader:
    """Turns the statements of one function into dispatch steps about its argument ``name``."""

    def __init__(self, name: str, table: ImportTable, self_name: str | None) -> None:
        self.names = {name}  # the argument and its local aliases
        self.members: dict[str, str] = {}  # loop variable -> the container of the module it runs over
        self.table = table
        self.self_name = self_name

    # -- what a node says about the module --------------------------------------------------------
    def _is_self(self, node: ast.expr) -> bool:
        return self.self_name is not None and isinstance(node, ast.Name) and node.id == self.self_name

    def _is_module(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id in self.names

    def _attribute(self, node: ast.expr) -> str | None:
        """``X`` when ``node`` is ``module.X`` or ``getattr(module, "X")`` (``.data``/subscripts stripped);
        ``DYNAMIC`` for ``getattr(module, f"{name}_inv_freq")``."""
        node = strip_tensor(node)
        if isinstance(node, ast.Attribute) and self._is_module(node.value):
            return node.attr
        if isinstance(node, ast.Call) and dotted(node.func) == "getattr" and len(node.args) >= 2:
            if self._is_module(node.args[0]):
                name = node.args[1]
                return name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else DYNAMIC
        return None

    def _child(self, node: ast.expr) -> tuple[str, str] | None:
        """``(a, X)`` when ``node`` is ``module.a.X``: a tensor of the submodule ``a``."""
        node = strip_tensor(node)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            if self._is_module(node.value.value):
                return node.value.attr, node.attr
        return None

    def _written(self, node: ast.expr) -> list[Any]:
        attribute = self._attribute(node)
        if attribute is not None:
            return [["write", attribute]]
        stripped = strip_tensor(node)
        if isinstance(stripped, ast.Name) and stripped.id in self.members:  # for w in module.weights: normal_(w)
            return [["write", self.members[stripped.id]]]
        child = self._child(node)
        return [["child", *child]] if child is not None else []

    def _class_name(self, node: ast.expr) -> bool:
        """``module.__class__.__name__`` or ``type(module).__name__``."""
        if not (isinstance(node, ast.Attribute) and node.attr == "__name__"):
            return False
        inner = node.value
        if isinstance(inner, ast.Attribute) and inner.attr == "__class__":
            return self._is_module(inner.value)
        return (
            isinstance(inner, ast.Call) and dotted(inner.func) == "type" and len(inner.args) == 1
            and self._is_module(inner.args[0])
        )

    # -- conditions ------------------------------------------------------------------------------
    def condition(self, node: ast.expr) -> list[Any]:
        """The condition ``node`` states about the module."""
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            return [op, [self.condition(value) for value in node.values]]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ["not", self.condition(node.operand)]
        if isinstance(node, ast.Call):
            return self._call_condition(node)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return self._compare(node.left, node.ops[0], node.comparators[0])
        return UNKNOWN

    def _call_condition(self, node: ast.Call) -> list[Any]:
        func = dotted(node.func)
        args = node.args
        if func == "isinstance" and len(args) == 2 and self._is_module(args[0]):
            targets = args[1].elts if isinstance(args[1], (ast.Tuple, ast.List)) else [args[1]]
            names = [self.table.qualify(t) or dotted(t) for t in targets]
            return ["isinstance", [n for n in names if n]] if all(names) else UNKNOWN
        if func in ("hasattr", "getattr") and len(args) >= 2 and self._is_module(args[0]):
            if isinstance(args[1], ast.Constant) and isinstance(args[1].value, str):
                return ["has", args[1].value] if func == "hasattr" else UNKNOWN
        if isinstance(node.func, ast.Attribute) and self._class_name(node.func.value) and args:
            text = args[0]
            if node.func.attr in ("startswith", "endswith") and isinstance(text, ast.Constant):
                return ["name", node.func.attr, str(text.value)]
        return UNKNOWN

    def _compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> list[Any]:
        if isinstance(op, ast.In) and isinstance(left, ast.Constant) and self._class_name(right):
            return ["name", "in", str(left.value)]
        if isinstance(op, (ast.Eq, ast.NotEq)) and self._class_name(left) and isinstance(right, ast.Constant):
            test = ["name", "==", str(right.value)]
            return test if isinstance(op, ast.Eq) else ["not", test]
        if isinstance(op, ast.In) and self._class_name(left) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
            options = [["name", "==", str(e.value)] for e in right.elts if isinstance(e, ast.Constant)]
            return ["or", options] if len(options) == len(right.elts) else UNKNOWN
        if isinstance(op, ast.IsNot) and isinstance(right, ast.Constant) and right.value is None:
            # getattr(module, "bias", None) is not None: false when the class has no such attribute
            if isinstance(left, ast.Call) and dotted(left.func) == "getattr" and len(left.args) >= 2:
                first, name = left.args[0], left.args[1]
                if self._is_module(first) and isinstance(name, ast.Constant) and isinstance(name.value, str):
                    return ["has", name.value]
            attribute = self._attribute(left)
            if attribute is not None:
                return ["has", attribute]
        return UNKNOWN

    # -- statements ------------------------------------------------------------------------------
    def steps(self, statements: list[ast.stmt]) -> list[Any]:
        """The dispatch steps of a block."""
        found: list[Any] = []
        for statement in statements:
            found += self._statement(statement)
        return found

    def _statement(self, node: ast.stmt) -> list[Any]:
        if isinstance(node, ast.If):
            chain = self._chain(node)
            return [chain] if chain else []
        if isinstance(node, (ast.For, ast.AsyncFor)):
            return self._loop(node)
        if isinstance(node, (ast.With, ast.AsyncWith, ast.Try)) or type(node).__name__ == "TryStar":
            blocks = [node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])]
            blocks += [handler.body for handler in getattr(node, "handlers", [])]
            return [step for block in blocks for step in self.steps(block)]
        if isinstance(node, ast.While):
            return self.steps(node.body)
        if isinstance(node, _FUNCTIONS) or isinstance(node, ast.ClassDef):
            return []
        found: list[Any] = []
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            found += self._assignment(node)
        for sub in walk(node):
            if type(sub) is ast.Call:
                found += self._call(sub)  # type: ignore[arg-type]
        return found

    def _chain(self, node: ast.If) -> list[Any] | None:
        branches = []
        current: ast.stmt = node
        while True:
            assert isinstance(current, ast.If)
            branches.append([self.condition(current.test), self.steps(current.body)])
            if len(current.orelse) == 1 and isinstance(current.orelse[0], ast.If):
                current = current.orelse[0]
                continue
            otherwise = self.steps(current.orelse)
            if not otherwise and not any(steps for _, steps in branches):
                return None  # a chain that writes nothing, whatever it tests
            return ["if", branches, otherwise]

    def _loop(self, node: ast.For | ast.AsyncFor) -> list[Any]:
        found: list[Any] = []
        iterable = node.iter
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute):
            receiver, method = iterable.func.value, iterable.func.attr
            if self._is_module(receiver) and method in ("parameters", "named_parameters"):
                found.append(["all", "parameter"])
            elif self._is_module(receiver) and method in ("buffers", "named_buffers"):
                found.append(["all", "buffer"])
        if isinstance(iterable, (ast.Tuple, ast.List)):  # for p in (module.weight, module.bias)
            found += [["write", a] for e in iterable.elts if (a := self._attribute(e)) is not None]
        container = self._container(iterable)
        if container is not None and isinstance(node.target, ast.Name):
            self.members[node.target.id] = container
        else:
            for target in ast.walk(node.target):
                if isinstance(target, ast.Name):
                    self.members.pop(target.id, None)
        return found + self.steps(node.body) + self.steps(node.orelse)

    def _container(self, iterable: ast.expr) -> str | None:
        """``X`` when a loop runs over the members of ``module.X`` (``module.X.values()``, ``.parameters()``):
        a ``ParameterList``/``ParameterDict`` whose members the body writes."""
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute) and not iterable.args \
                and iterable.func.attr in ("values", "parameters"):
            iterable = iterable.func.value
        return self._attribute(iterable) if isinstance(iterable, ast.Attribute) else None

    def _assignment(self, node: ast.Assign | ast.AnnAssign | ast.AugAssign) -> list[Any]:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        found = []
        for target in targets:
            found += self._written(target)
            if isinstance(target, ast.Name) and node.value is not None and self._is_module(node.value):
                self.names.add(target.id)  # m = module
        return found

    def _call(self, node: ast.Call) -> list[Any]:
        func = node.func
        arguments = [*node.args, *(k.value for k in node.keywords)]
        if isinstance(func, ast.Attribute):
            receiver, method = func.value, func.attr
            if self._is_module(receiver):
                return [] if method.startswith("__") else [["method", method]]
            if method.endswith("_") and not method.startswith("_"):
                written = self._written(receiver)  # module.weight.data.normal_()
                if written:
                    return written
        callee = dotted(func) or ""
        last = callee.rpartition(".")[2]
        if last in _READERS:
            return []
        if arguments and self._is_module(arguments[0]):
            return [self._helper(func, last or func.attr)] if isinstance(func, ast.Attribute) or callee else []
        if isinstance(func, ast.Attribute) and len(node.args) >= 2 and self._is_self(node.args[0]) \
                and self._is_module(node.args[1]):  # PreTrainedModel._init_weights(self, module)
            owner = self.table.qualify(func.value)
            return [["helper", "class", f"{owner}:{func.attr}"]] if owner else [["helper", "unknown", func.attr]]
        if last.endswith("_") and arguments:  # init.normal_(module.weight), trunc_normal_(module.weight)
            return self._written(arguments[0])
        return []

    def _helper(self, func: ast.expr, last: str) -> list[Any]:
        if isinstance(func, ast.Attribute):
            receiver = func.value
            if isinstance(receiver, ast.Call) and dotted(receiver.func) == "super":
                return ["helper", "super", last]
            if isinstance(receiver, ast.Name) and receiver.id == self.self_name:
                return ["helper", "self", last]
        qualified = self.table.qualify(func)
        return ["helper", "function", qualified] if qualified else ["helper", "unknown", last]


def read_dispatch(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, table: ImportTable, method: bool
) -> list[Any] | None:
    """The dispatch of a function over its module argument (the first after ``self`` for a method).

    ``None`` when the function takes no such argument.
    """
    positional = [*node.args.posonlyargs, *node.args.args]
    index = 1 if method else 0
    if len(positional) <= index:
        return None
    self_name = positional[0].arg if method else None
    reader = _Reader(positional[index].arg, table, self_name)
    if isinstance(node, ast.Lambda):
        return reader.steps([ast.Expr(node.body)])
    return reader.steps(node.body)
