"""Regenerate ``initlint/lint/torch_table.py`` from the installed torch.

The linter never imports torch, so what it knows about torch.nn's built-in modules (which of them
define ``reset_parameters``, which tensors they create) is written down here, from the pinned torch.
``tests/lint/test_torch_table.py`` fails when the table and the installed torch disagree.

Usage::

    python scripts/generate_torch_table.py          # rewrite the table
    python scripts/generate_torch_table.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import importlib
import inspect
import pprint
from pathlib import Path

import ast

import torch
import torch.nn

from initlint.lint.collect import collect_classes, collect_imports
from initlint.lint.names import ImportTable
from initlint.lint.protocols.facts import collect_protocol_facts
from initlint.lint.summary import FileSummary

from _tables import write_or_check  # scripts/ is on sys.path when a script runs

TABLE = Path(__file__).resolve().parents[1] / "initlint" / "lint" / "torch_table.py"
HEADER = '''"""torch.nn's built-in modules, as the linter needs to know them. Generated: do not edit.

Regenerate with ``python scripts/generate_torch_table.py`` (from torch {version}).
Maps every qualified name of a built-in module to (defines reset_parameters, tensors it creates).
``RESET_LOOP_MISSES`` maps each built-in whose tree holds tensors that a loop calling every
``reset_parameters()`` leaves alone (its own, or those of a built-in its ``__init__`` builds) to them,
as ``Class.tensor``: ``nn.MultiheadAttention`` initializes its ``in_proj_weight`` in
``_reset_parameters()`` only.
"""

TORCH_VERSION = {version!r}

BUILTIN_MODULES: dict[str, tuple[bool, tuple[str, ...]]] = '''


def _read(cls: type, cache: dict[str, dict[str, tuple[list[str], list[str]]]]) -> tuple[list[str], list[str]]:
    """The tensors ``cls`` creates itself and the classes its ``__init__`` builds (qualified)."""
    path = inspect.getsourcefile(cls)
    if path is None:
        return [], []
    if path not in cache:
        module = ast.parse(Path(path).read_text(encoding="utf-8"))
        table = ImportTable(cls.__module__, path.endswith("__init__.py"))
        collect_imports(module, table)
        classes = collect_classes(module, table)
        collect_protocol_facts(module, table, classes, FileSummary(path=path, module=cls.__module__))
        cache[path] = {
            s.name: (
                [t.name for t in s.tensors if not t.name.startswith("<")],  # dynamic names
                [b for b in s.protocol.get("builds", []) if ":" not in b],
            )
            for _, s in classes
        }
    return cache[path].get(cls.__qualname__, ([], []))


def _own_tensors(cls: type, cache: dict[str, dict[str, tuple[list[str], list[str]]]]) -> list[str]:
    return _read(cls, cache)[0]


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


def reset_loop_misses(table: dict[str, tuple[bool, tuple[str, ...]]]) -> dict[str, tuple[str, ...]]:
    """Each built-in whose tree keeps tensors that ``reset_parameters()`` on every module leaves alone."""
    sources: dict[str, dict[str, tuple[list[str], list[str]]]] = {}
    builds: dict[str, list[str]] = {}
    for name in table:
        module, _, attr = name.rpartition(".")
        cls = getattr(importlib.import_module(module), attr, None)
        builds[name] = [] if cls is None else [
            b for base in cls.__mro__ if isinstance(base, type) and issubclass(base, torch.nn.Module)
            for b in _read(base, sources)[1]
        ]

    def misses(name: str, seen: frozenset[str]) -> set[str]:
        resets, tensors = table[name]
        found = set() if resets else {f"{name.rpartition('.')[2]}.{t}" for t in tensors}
        for built in builds.get(name, ()):
            if built in table and built not in seen:
                found |= misses(built, seen | {built})
        return found

    result = {name: tuple(sorted(misses(name, frozenset({name})))) for name in table}
    return {name: missed for name, missed in result.items() if missed}


def render() -> str:
    """The text of the table module."""
    version = torch.__version__.split("+")[0]
    table = build_table()
    return (
        HEADER.format(version=version) + pprint.pformat(table, width=110, sort_dicts=True) + "\n\n"
        "RESET_LOOP_MISSES: dict[str, tuple[str, ...]] = "
        + pprint.pformat(reset_loop_misses(table), width=110, sort_dicts=True) + "\n"
    )


def main() -> int:
    return write_or_check(TABLE, render())


if __name__ == "__main__":
    raise SystemExit(main())
