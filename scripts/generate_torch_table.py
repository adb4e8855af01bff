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
import warnings
from pathlib import Path

import ast

import torch
import torch.nn
import torch.nn.utils.parametrize

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
``BUILTIN_BASES`` maps each built-in's class name to its built-in ancestors' (``__mro__`` order, itself
left out); ``BUILTIN_SWITCHES`` each built-in's class name to the ``__init__`` arguments that decide which of
its tensors exist: (argument, position after ``self`` or ``None`` for keyword-only, default, tensors that
exist only with the default, tensors that exist only with another value), found by building it both ways;
``BUILTIN_BUFFERS`` the names of the built-ins' buffers (the other tensors are parameters).
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


def _classes() -> dict[str, type]:
    """Each built-in module class by its name (the linter's ``torch:<name>``); a name used twice is an error."""
    found: dict[str, type] = {}
    for name in build_table():
        module, _, attr = name.rpartition(".")
        cls = getattr(importlib.import_module(module), attr, None)
        if cls is None:
            continue
        if found.setdefault(cls.__name__, cls) is not cls:
            raise SystemExit(f"two torch.nn modules are named {cls.__name__}: the linter's torch:<name> is ambiguous")
    # what ``nn.utils.parametrizations.weight_norm`` puts between a module and its re-parametrized tensor
    found["ParametrizationList"] = torch.nn.utils.parametrize.ParametrizationList
    return dict(sorted(found.items()))


def builtin_bases(classes: dict[str, type]) -> dict[str, tuple[str, ...]]:
    """Class name -> its built-in ancestors' names, in ``__mro__`` order."""
    return {
        name: tuple(base.__name__ for base in cls.__mro__[1:]
                    if isinstance(base, type) and issubclass(base, torch.nn.Module))
        for name, cls in classes.items()
    }


def _own(module: torch.nn.Module, buffers: set[str]) -> set[str]:
    """The tensors ``module`` holds itself; adds the names of its buffers to ``buffers``."""
    held = {n for n, b in module.named_buffers(recurse=False) if b is not None}
    buffers |= held
    return {n for n, _ in module.named_parameters(recurse=False)} | held


def builtin_switches(
    classes: dict[str, type], table: dict[str, tuple[bool, tuple[str, ...]]]
) -> tuple[dict[str, tuple[tuple, ...]], frozenset[str]]:
    """Class name -> the boolean (or ``None``-default) ``__init__`` arguments that change which tensors it creates,
    found by building it on the meta device with the default and with another value; and the names of the
    buffers those builds held."""
    found: dict[str, tuple[tuple, ...]] = {}
    buffers: set[str] = set()
    creating = {name.rpartition(".")[2] for name, (_, tensors) in table.items() if tensors}
    for name, cls in classes.items():
        if name not in creating:
            continue
        parameters = [p for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
                      if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        # small sizes that every built-in accepts (heads and groups must divide the others)
        required = {p.name: 2 if p.name in ("num_heads", "num_groups", "nhead") else 4
                    for p in parameters if p.default is p.empty}
        try:
            with torch.device("meta"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                default = _own(cls(**required), buffers)
        except Exception:  # noqa: BLE001 - a base class or one that needs other arguments: nothing to learn
            continue
        switches = []
        for position, parameter in enumerate(parameters):
            if parameter.name in ("device", "dtype") or not (parameter.default is None
                                                             or isinstance(parameter.default, bool)):
                continue
            other = 3 if parameter.default is None else not parameter.default
            try:
                with torch.device("meta"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    changed = _own(cls(**required, **{parameter.name: other}), buffers)
            except Exception:  # noqa: BLE001 - an argument that takes no such value
                continue
            if changed != default:
                where = None if parameter.kind == parameter.KEYWORD_ONLY else position
                switches.append((parameter.name, where, parameter.default, tuple(sorted(default - changed)),
                                 tuple(sorted(changed - default))))
        if switches:
            found[name] = tuple(switches)
    return found, frozenset(buffers)


def render() -> str:
    """The text of the table module."""
    version = torch.__version__.split("+")[0]
    table = build_table()
    classes = _classes()
    switches, buffers = builtin_switches(classes, table)
    return (
        HEADER.format(version=version) + pprint.pformat(table, width=110, sort_dicts=True) + "\n\n"
        "RESET_LOOP_MISSES: dict[str, tuple[str, ...]] = "
        + pprint.pformat(reset_loop_misses(table), width=110, sort_dicts=True) + "\n\n"
        "BUILTIN_BASES: dict[str, tuple[str, ...]] = "
        + pprint.pformat(builtin_bases(classes), width=110, sort_dicts=True) + "\n\n"
        "BUILTIN_SWITCHES: dict[str, tuple[tuple[str, int | None, bool | None, tuple[str, ...], tuple[str, ...]], "
        "...]] = "
        + pprint.pformat(switches, width=110, sort_dicts=True) + "\n\n"
        f"BUILTIN_BUFFERS = frozenset({sorted(buffers)!r})\n"
    )


def main() -> int:
    return write_or_check(TABLE, render())


if __name__ == "__main__":
    raise SystemExit(main())
