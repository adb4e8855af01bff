"""Regenerate ``initlint/lint/torch_table.py`` from the installed torch.

The linter never imports torch, so what it knows about torch.nn's built-in modules (which of them
define ``reset_parameters``, which tensors they create) is written down here, from the pinned torch.
``tests/lint/test_torch_table.py`` fails when the table and the installed torch disagree.

Usage::

    python scripts/generate_torch_table.py          # rewrite the table
    python scripts/generate_torch_table.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import inspect
import pprint
from pathlib import Path

import ast

import torch
import torch.nn

from initlint.lint.collect import collect_classes, collect_imports
from initlint.lint.names import ImportTable

from _tables import write_or_check  # scripts/ is on sys.path when a script runs

TABLE = Path(__file__).resolve().parents[1] / "initlint" / "lint" / "torch_table.py"
HEADER = '''"""torch.nn's built-in modules, as the linter needs to know them. Generated: do not edit.

Regenerate with ``python scripts/generate_torch_table.py`` (from torch {version}).
Maps every qualified name of a built-in module to (defines reset_parameters, tensors it creates).
"""

TORCH_VERSION = {version!r}

BUILTIN_MODULES: dict[str, tuple[bool, tuple[str, ...]]] = '''


def _own_tensors(cls: type, cache: dict[str, dict[str, list[str]]]) -> list[str]:
    path = inspect.getsourcefile(cls)
    if path is None:
        return []
    if path not in cache:
        module = ast.parse(Path(path).read_text(encoding="utf-8"))
        table = ImportTable(cls.__module__, path.endswith("__init__.py"))
        collect_imports(module, table)
        cache[path] = {
            s.name: [t.name for t in s.tensors if not t.name.startswith("<")]  # dynamic names
            for _, s in collect_classes(module, table)
        }
    return cache[path].get(cls.__qualname__, [])


def build_table() -> dict[str, tuple[bool, tuple[str, ...]]]:
    """Every torch.nn Module subclass under each name it is reachable by."""
    namespaces = {"torch.nn": torch.nn, "torch.nn.modules": torch.nn.modules}
    classes: dict[type, set[str]] = {}
    for prefix, namespace in namespaces.items():
        for attr in dir(namespace):
            value = getattr(namespace, attr)
            if isinstance(value, type) and issubclass(value, torch.nn.Module):
                classes.setdefault(value, set()).add(f"{prefix}.{attr}")
    for cls in list(classes):
        for base in cls.__mro__:
            if isinstance(base, type) and issubclass(base, torch.nn.Module):
                classes.setdefault(base, set()).add(f"{base.__module__}.{base.__qualname__}")
    sources: dict[str, dict[str, list[str]]] = {}
    table: dict[str, tuple[bool, tuple[str, ...]]] = {}
    for cls, names in classes.items():
        has_reset = any("reset_parameters" in vars(base) for base in cls.__mro__)
        tensors: list[str] = []
        for base in cls.__mro__:
            if isinstance(base, type) and issubclass(base, torch.nn.Module):
                tensors += [t for t in _own_tensors(base, sources) if t not in tensors]
        for name in names | {f"{cls.__module__}.{cls.__qualname__}"}:
            table[name] = (has_reset, tuple(sorted(tensors)))
    return dict(sorted(table.items()))


def render() -> str:
    """The text of the table module."""
    version = torch.__version__.split("+")[0]
    return HEADER.format(version=version) + pprint.pformat(build_table(), width=110, sort_dicts=True) + "\n"


def main() -> int:
    return write_or_check(TABLE, render())


if __name__ == "__main__":
    raise SystemExit(main())
