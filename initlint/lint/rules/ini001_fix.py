"""INI001's fix: give a module the canonical shape of ``nn.Linear``.

``__init__`` allocates each tensor with ``torch.empty`` and calls ``self.reset_parameters()``, which
re-creates the values the original initializer expression gave them::

    torch.zeros(...)            ->  zero_()
    torch.ones(...)             ->  fill_(1)
    torch.full(size, v)         ->  fill_(v)
    torch.randn(...)            ->  normal_()          torch.randn(...) * s  ->  normal_(std=s)
    torch.rand(...)             ->  uniform_()         torch.rand(...) * s   ->  uniform_(0, s)
    torch.empty(...).m_(...)    ->  m_(...)
    nn.init.*(self.x, ...)      ->  moved as it is (so are in-place calls on ``self.x`` in ``__init__``)

No fix when any tensor's initializer is something else, when a moved expression reads a local of
``__init__``, or when anything else in ``__init__`` touches the tensors.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cached_property

from initlint.lint.names import ImportTable
from initlint.lint.source import Source
from initlint.lint.summary import ClassSummary, Fix

__all__ = ["reset_parameters_fix"]

_FILLS = {"torch.zeros": "zero_()", "torch.ones": "fill_(1)", "torch.randn": "normal_()", "torch.rand": "uniform_()"}
_SCALED = {"torch.randn": "normal_(std={})", "torch.rand": "uniform_(0, {})", "torch.ones": "fill_({})"}
_PARAMETER = frozenset({"torch.nn.Parameter", "torch.nn.parameter.Parameter"})
_BUFFER = frozenset({"torch.nn.Buffer", "torch.nn.parameter.Buffer"})
_KEPT_KEYWORDS = frozenset({"dtype", "device", "requires_grad", "layout", "pin_memory", "memory_format"})


@dataclass
class _Plan:
    """What the fix does to one ``__init__`` statement."""

    statement: ast.stmt
    tensor: str
    initializer: ast.expr | None = None  # replaced by ``torch.empty(...)``
    empty: str = ""
    reset: str = ""  # the statement reset_parameters() runs, "" for moved statements
    moved: bool = False


class _NoFix(Exception):
    """The class is outside what the fix can rewrite faithfully."""


def reset_parameters_fix(node: ast.ClassDef, summary: ClassSummary, source: Source, imports: ImportTable) -> Fix | None:
    """The unsafe INI001 fix for ``node``, or ``None`` where no faithful one exists."""
    try:
        return _Fixer(node, summary, source, imports).fix()
    except _NoFix:
        return None


class _Fixer:
    def __init__(self, node: ast.ClassDef, summary: ClassSummary, source: Source, imports: ImportTable) -> None:
        self.node, self.summary, self.source, self.imports = node, summary, source, imports
        init = next((s for s in node.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"), None)
        if init is None or "reset_parameters" in summary.methods or not init.args.args or _returns_early(init):
            raise _NoFix
        self.init = init
        self.self_name = init.args.args[0].arg
        self.tensors = {t.name for t in summary.tensors}
        self.torch = next((local for local, full in imports.aliases.items() if full == "torch"), None)

    @cached_property
    def locals(self) -> frozenset[str]:
        return _locals_of(self.init)

    def fix(self) -> Fix:
        plans = [plan for statement in self.init.body if (plan := self._plan(statement)) is not None]
        created = {p.tensor for p in plans if not p.moved}
        if created != self.tensors or self.torch is None or self._others_touch_tensors(plans):
            raise _NoFix
        for tensor in created:  # torch.empty(...) with nothing moved after it: no values to give back
            if not any(p.tensor == tensor and p.reset for p in plans):
                raise _NoFix
        edits = [self.source.replace(p.initializer, p.empty) for p in plans if p.initializer is not None]
        edits += [self.source.delete_lines(p.statement.lineno, _end(p.statement)) for p in plans if p.moved]
        body_indent, newline = self.source.indent(self.init.body[0].lineno), self.source.newline
        call = f"{body_indent}{self.self_name}.reset_parameters(){newline}"
        edits.append(self.source.insert_lines(_end(self.init) + 1, call))
        edits.append(self.source.insert_lines(_end(self.init) + 1, self._method(plans, body_indent)))
        names = ", ".join(f"`{p.tensor}`" for p in plans if not p.moved)
        return Fix(f"Add `reset_parameters()` re-creating {names}, called from `__init__`", "unsafe", tuple(edits))

    # -- one statement -------------------------------------------------------------------
    def _plan(self, statement: ast.stmt) -> _Plan | None:
        created = self._created(statement)
        if created is not None:
            tensor, initializer = created
            return self._translate(statement, tensor, initializer)
        moved = self._moved_tensor(statement)
        if moved is not None:
            self._check_portable(statement)
            if self._shares_lines(statement):
                raise _NoFix
            text = self.source.lines_text(statement.lineno, _end(statement))
            return _Plan(statement, moved, reset=text, moved=True)
        return None

    def _created(self, statement: ast.stmt) -> tuple[str, ast.expr] | None:
        """``(tensor, initializer)`` for ``self.x = nn.Parameter(init)``, ``self.register_buffer("x", init)``..."""
        if isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            value = statement.value
            if len(targets) != 1 or not self._is_self_attr(targets[0]) or not isinstance(value, ast.Call):
                return None
            if self.imports.qualify(value.func) in _PARAMETER | _BUFFER and value.args:
                return targets[0].attr, value.args[0]  # type: ignore[attr-defined]
            return None
        if not isinstance(statement, ast.Expr) or not isinstance(call := statement.value, ast.Call):
            return None
        func = call.func
        if not (isinstance(func, ast.Attribute) and self._is_self(func.value) and len(call.args) >= 2):
            return None
        name = call.args[0]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            return None
        if func.attr == "register_buffer":
            return name.value, call.args[1]
        wrapped = call.args[1]
        if func.attr == "register_parameter" and isinstance(wrapped, ast.Call) and wrapped.args:
            if self.imports.qualify(wrapped.func) in _PARAMETER:
                return name.value, wrapped.args[0]
        return None

    def _translate(self, statement: ast.stmt, tensor: str, initializer: ast.expr) -> _Plan:
        """Split an initializer into ``torch.empty(...)`` and the in-place call giving the values."""
        scale = None
        if isinstance(initializer, ast.BinOp) and isinstance(initializer.op, ast.Mult):
            factory, scale = (initializer.left, initializer.right)
            if not isinstance(factory, ast.Call):
                factory, scale = scale, factory
        else:
            factory = initializer
        chained = None
        if isinstance(factory, ast.Call) and isinstance(factory.func, ast.Attribute) and scale is None:
            inner = factory.func.value
            if isinstance(inner, ast.Call) and self.imports.qualify(inner.func) == "torch.empty":
                chained, factory = factory, inner  # torch.empty(...).normal_(0, 0.02)
        if not isinstance(factory, ast.Call):
            raise _NoFix
        kind = self.imports.qualify(factory.func)
        args, fill = self._empty_arguments(factory, kind)
        empty = f"{self.torch}.empty({', '.join(args)})"
        target = f"{self.self_name}.{tensor}"
        if chained is not None:
            method = chained.func.attr  # type: ignore[attr-defined]
            if not method.endswith("_") or method.startswith("_"):
                raise _NoFix
            self._check_portable(chained, skip=factory)
            inside = ", ".join(self.source.segment(a) for a in [*chained.args, *chained.keywords])
            reset = f"{target}.{method}({inside})"
        elif kind == "torch.empty" and scale is None:
            reset = ""  # the values come from nn.init calls moved after it
        elif scale is not None:
            if kind not in _SCALED:
                raise _NoFix
            self._check_portable(scale)
            reset = f"{target}.{_SCALED[kind].format(self.source.segment(scale))}"
        elif kind == "torch.full":
            self._check_portable(fill)  # type: ignore[arg-type]
            reset = f"{target}.fill_({self.source.segment(fill)})"  # type: ignore[arg-type]
        elif kind in _FILLS:
            reset = f"{target}.{_FILLS[kind]}"
        else:
            raise _NoFix
        return _Plan(statement, tensor, initializer, empty, reset)

    def _empty_arguments(self, factory: ast.Call, kind: str | None) -> tuple[list[str], ast.expr | None]:
        """The arguments ``torch.empty`` takes from a factory call, and ``torch.full``'s fill value."""
        if kind not in (*_FILLS, "torch.full", "torch.empty"):
            raise _NoFix
        positional, fill = list(factory.args), None
        if kind == "torch.full":
            fill = positional.pop(1) if len(positional) > 1 else None
            fill = fill or next((k.value for k in factory.keywords if k.arg == "fill_value"), None)
            if fill is None:
                raise _NoFix
        keywords = [k for k in factory.keywords if k.arg != "fill_value"]
        # ``**factory_kwargs`` (device, dtype) passes on where the factory takes no generator
        spread_ok = kind not in ("torch.randn", "torch.rand")
        if any(k.arg not in _KEPT_KEYWORDS and not (k.arg is None and spread_ok) for k in keywords) or not positional:
            raise _NoFix  # a generator, out=: not a plain allocation
        return [self.source.segment(a) for a in [*positional, *keywords]], fill

    # -- checks ----------------------------------------------------------------------------
    def _moved_tensor(self, statement: ast.stmt) -> str | None:
        """The tensor of ``nn.init.x_(self.t, ...)`` or ``self.t.data.x_(...)`` statements."""
        if not isinstance(statement, ast.Expr) or not isinstance(call := statement.value, ast.Call):
            return None
        qualified = self.imports.qualify(call.func) or ""
        if qualified.startswith("torch.nn.init.") and call.args:
            return self._tensor_of(call.args[0])
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr.endswith("_") and not func.attr.startswith("_"):
            return self._tensor_of(func.value)
        return None

    def _tensor_of(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Attribute) and node.attr == "data":
            node = node.value
        if self._is_self_attr(node) and node.attr in self.tensors:  # type: ignore[attr-defined]
            return node.attr  # type: ignore[attr-defined]
        return None

    def _others_touch_tensors(self, plans: list[_Plan]) -> bool:
        """Whether a statement the fix leaves in ``__init__`` mentions a tensor, or calls a method
        (or anything given ``self``) that may write one."""
        planned = {id(p.statement) for p in plans}
        facts = self.summary.methods["__init__"]
        if facts.writes_all_parameters or facts.writes_all_buffers:
            return True
        for method in facts.self_calls:
            called = self.summary.methods.get(method)
            if called is not None and (set(called.writes) & self.tensors or called.writes_all_parameters):
                return True
        for statement in self.init.body:
            if id(statement) in planned:
                continue
            for node in ast.walk(statement):
                if self._is_self_attr(node) and node.attr in self.tensors:  # type: ignore[attr-defined]
                    return True
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in self.tensors:
                    return True  # getattr(self, "weight")
        return False

    def _check_portable(self, node: ast.AST, skip: ast.AST | None = None) -> None:
        """A moved expression may read module-level names and ``self``, never a local of ``__init__``."""
        for child in ast.walk(node):
            if child is skip:
                continue
            if isinstance(child, ast.Name) and child.id in self.locals and child.id != self.self_name:
                raise _NoFix

    def _shares_lines(self, statement: ast.stmt) -> bool:
        return any(
            other is not statement and other.lineno <= _end(statement) and _end(other) >= statement.lineno
            for other in self.init.body
        )

    def _is_self(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id == self.self_name

    def _is_self_attr(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and self._is_self(node.value)

    # -- the new method ----------------------------------------------------------------------
    def _method(self, plans: list[_Plan], body_indent: str) -> str:
        outer = self.source.indent(self.init.lineno)
        step = body_indent[len(outer) :] or "    "
        inner = body_indent + step
        lines: list[str] = []
        for plan in plans:
            if plan.moved:
                lines += [inner + line[len(body_indent) :] if line.startswith(body_indent) else line
                          for line in plan.reset.splitlines(keepends=True)]
            elif plan.reset:
                lines.append(f"{inner}{plan.reset}{self.source.newline}")
        newline = self.source.newline
        return (
            f"{newline}{outer}def reset_parameters({self.self_name}) -> None:{newline}"
            f"{body_indent}with {self.torch}.no_grad():{newline}" + "".join(lines)
        )


def _end(node: ast.stmt) -> int:
    return node.end_lineno or node.lineno


def _returns_early(init: ast.FunctionDef) -> bool:
    """A ``return`` in ``__init__`` would skip the ``self.reset_parameters()`` added at its end."""
    stack: list[ast.AST] = list(init.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return):
            return True
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))
    return False


def _locals_of(init: ast.FunctionDef) -> frozenset[str]:
    """The arguments of ``__init__`` and every name it binds."""
    args = init.args
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a}
    for node in ast.walk(init):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return frozenset(names)
