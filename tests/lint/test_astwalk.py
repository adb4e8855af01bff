"""``astwalk.preorder``: the one walk of a method that its class summary and its protocol facts share.

The scanner of ``collect.py`` reads it in source order, skipping what is not code of the body; the facts
read it sorted by depth, which must be ``ast.walk``'s order. Checked against ``ast`` itself on a snippet
with every kind of header (decorators, annotations, defaults, lambdas, nested defs and classes) and on
real files: torch's ``nn.Module`` and this package's own sources.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path

import pytest

from initlint.lint.astwalk import preorder
from initlint.lint.protocols.facts import WALKED

KINDS = WALKED | {ast.AnnAssign, ast.AugAssign, ast.Name, ast.Constant, ast.Lambda, ast.arg}

SNIPPET = '''
class Block(nn.Module):
    @decorate(make(1))
    def __init__(self, dim: Annotated[int, check(2)] = default(3), *, act=lambda x=fill(4): x.relu_()) -> Out[5]:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        w = self.proj.weight
        nn.init.normal_(w)

        @wraps(helper(6))
        def inner(m: Hint[7] = other(8)) -> Ret[9]:
            return [build(m) for m in range(10)]

        class Local(Base[11]):
            x: int = field(12)

            @staticmethod
            def go(y=call(13)):
                return y[14]

        for i, layer in enumerate(self.layers):
            layer.weight.data += 15
'''


def _source_order(node: ast.AST) -> Iterator[ast.AST]:
    yield node
    for child in ast.iter_child_nodes(node):
        yield from _source_order(child)


def _headers(function: ast.AST) -> set[int]:
    """The ids of the nodes under a decorator, a return annotation or the parameters of any def or lambda."""
    found: set[int] = set()
    for node in ast.walk(function):
        parts: list[ast.AST] = []
        if isinstance(node, ast.arguments):
            parts += ast.iter_child_nodes(node)
        parts += getattr(node, "decorator_list", [])
        if isinstance(getattr(node, "returns", None), ast.AST):
            parts.append(node.returns)  # type: ignore[attr-defined]
        found |= {id(sub) for part in parts for sub in ast.walk(part)}
    return found


def _functions(path: Path) -> list[ast.AST]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _check(function: ast.AST) -> None:
    walked = preorder(function, KINDS)
    nodes = [node for node, _, _ in walked]
    assert nodes == [node for node in _source_order(function) if type(node) in KINDS]
    by_depth = [node for node, _, _ in sorted(walked, key=itemgetter(1))]
    assert by_depth == [node for node in ast.walk(function) if type(node) in KINDS]
    headers = _headers(function)
    assert [code for _, _, code in walked] == [id(node) not in headers for node in nodes]


def test_snippet_headers_are_not_code_and_orders_match_ast() -> None:
    tree = ast.parse(SNIPPET)
    (init,) = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "__init__"]
    _check(init)
    walked = preorder(init, KINDS)
    code = {node.value for node, _, is_code in walked if type(node) is ast.Constant and is_code}
    header = {node.value for node, _, is_code in walked if type(node) is ast.Constant and not is_code}
    # class bases and bodies and the loop are code; decorators, annotations and defaults are not
    assert code == {10, 11, 12, 14, 15} and header == {1, 2, 3, 4, 5, 6, 7, 8, 9, 13}


def _real_files() -> list[Path]:
    files = sorted((Path(__file__).resolve().parents[2] / "initlint").rglob("*.py"))
    spec = importlib.util.find_spec("torch")  # located, not imported
    if spec is not None and spec.origin is not None:
        files.append(Path(spec.origin).parent / "nn" / "modules" / "module.py")
    return files


@pytest.mark.parametrize("path", _real_files(), ids=lambda p: "/".join(p.parts[-3:]))
def test_real_files(path: Path) -> None:
    for function in _functions(path):
        _check(function)
