"""Regenerate ``initlint/lint/protocols/hf_table.py`` from the installed transformers.

The linter never imports transformers, so what the base class's default ``PreTrainedModel._init_weights``
writes is read here, once, from the pinned transformers' source with the linter's own dispatch reader.
``tests/lint/test_hf_table.py`` fails when the table and the installed transformers disagree.

Usage::

    python scripts/generate_hf_table.py          # rewrite the table
    python scripts/generate_hf_table.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import pprint
from pathlib import Path

from initlint.lint.collect import collect_imports
from initlint.lint.names import ImportTable
from initlint.lint.protocols.dispatch import read_dispatch

from _tables import write_or_check  # scripts/ is on sys.path when a script runs

TABLE = Path(__file__).resolve().parents[1] / "initlint" / "lint" / "protocols" / "hf_table.py"
HEADER = '''"""transformers' ``PreTrainedModel``, as the init protocols need to know it. Generated: do not edit.

Regenerate with ``python scripts/generate_hf_table.py`` (from transformers {version}).
``BASE_INIT_WEIGHTS`` is the dispatch (see ``dispatch.py``) of the base class's default
``PreTrainedModel._init_weights``; ``PRETRAINED_BASES`` the names the base class is reached by.
"""

TRANSFORMERS_VERSION = {version!r}

PRETRAINED_BASES = frozenset({{{bases}}})

BASE_INIT_WEIGHTS: list = '''
BASES = ("transformers.PreTrainedModel", "transformers.modeling_utils.PreTrainedModel")


def base_dispatch() -> list:
    """The dispatch of ``PreTrainedModel._init_weights``, read from the installed source."""
    spec = importlib.util.find_spec("transformers.modeling_utils")  # located, never imported
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    table = ImportTable("transformers.modeling_utils")
    collect_imports(tree, table)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "PreTrainedModel":
            for method in node.body:
                if isinstance(method, ast.FunctionDef) and method.name == "_init_weights":
                    dispatch = read_dispatch(method, table, method=True)
                    assert dispatch is not None
                    return dispatch
    raise SystemExit("transformers.modeling_utils has no PreTrainedModel._init_weights")


def render() -> str:
    """The text of the table module."""
    version = importlib.metadata.version("transformers")
    header = HEADER.format(version=version, bases=", ".join(repr(b) for b in sorted(BASES)))
    return header + pprint.pformat(base_dispatch(), width=110) + "\n"


def main() -> int:
    return write_or_check(TABLE, render())


if __name__ == "__main__":
    raise SystemExit(main())
