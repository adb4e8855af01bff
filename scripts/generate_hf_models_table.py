"""Regenerate ``initlint/lint/hf_models.py``: what ``to_empty()`` breaks in transformers' model classes.

A training script that builds ``LlamaForCausalLM(config)`` on meta, calls ``to_empty()`` and then only loads
a checkpoint leaves the rotary ``inv_freq`` as uninitialized memory (INI108): no checkpoint holds a
``persistent=False`` buffer. The linter never imports transformers, and the pinned package is not part of a
user's project, so what each public model class's tree registers is read here, once, from the installed
source with the linter's own project index and INI108's own reading of a class (buffers its ``forward``
rewrites do not count). The weights a class ties (INI109: ``to_empty()`` gives each its own tensor, and a
checkpoint stores the shared one once) are read from the classes themselves (``_tied_weights_keys``), kept
where the class's config ties word embeddings by default: this script imports transformers, the linter never
does. ``tests/lint/test_hf_models_table.py`` fails when the table is stale, and executes a sample of it.

Usage::

    python scripts/generate_hf_models_table.py          # rewrite the table
    python scripts/generate_hf_models_table.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import pprint
import re
from pathlib import Path

from initlint.config import Config
from initlint.lint.engine import Project
from initlint.lint.modeltree import tree_of
from initlint.lint.rules.ini108_non_persistent_buffers_after_load import unfilled_buffers

from _tables import write_or_check  # scripts/ is on sys.path when a script runs

TABLE = Path(__file__).resolve().parents[1] / "initlint" / "lint" / "hf_models.py"
HEADER = '''"""What ``to_empty()`` breaks in transformers' model classes. Generated: do not edit.

Regenerate with ``python scripts/generate_hf_models_table.py`` (from transformers {version}). Keys are the
public model classes of transformers, by the name ``transformers`` exports them under.

``NON_PERSISTENT_BUFFERS``: the ``persistent=False`` buffers of the class's tree that its modules'
``forward`` do not recompute, as ``Class.buffer``: what a checkpoint load after ``to_empty()`` leaves
uninitialized. ``TIED_WEIGHTS``: the first weight the class ties to another (``target = source``) when its
config ties word embeddings, as its config class does by default.
"""

TRANSFORMERS_VERSION = {version!r}


def knows(name: str) -> bool:
    """Whether the table has facts about the model class ``name``."""
    return name in NON_PERSISTENT_BUFFERS or name in TIED_WEIGHTS


NON_PERSISTENT_BUFFERS: dict[str, tuple[str, ...]] = '''
_PUBLIC_MODEL = re.compile(r"^class ([A-Z]\w*(?:Model|For\w+|LMHead\w*))\(", re.MULTILINE)


def buffers_by_class() -> dict[str, tuple[str, ...]]:
    """Every public model class of the installed transformers' ``modeling_*.py`` files whose tree holds
    non-persistent buffers, with them."""
    spec = importlib.util.find_spec("transformers")  # located, never imported
    assert spec is not None and spec.origin is not None
    package = Path(spec.origin).parent
    index = Project(Config(root=package.parent), [], cache=False).index()
    table: dict[str, tuple[str, ...]] = {}
    for path in sorted(package.glob("models/*/modeling_*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        for name in _PUBLIC_MODEL.findall(path.read_text(encoding="utf-8")):
            tree = tree_of(f"{module}.{name}", index)
            found = {f"{cls.rpartition('.')[2]}.{buffer}" for cls, summary in tree if summary is not None
                     for buffer in unfilled_buffers(summary)}
            if found:
                table[name] = tuple(sorted(found))
    return table


def tied_by_default(names: list[str]) -> dict[str, str]:
    """The first tie of each class of ``names`` whose config ties word embeddings by default."""
    import warnings

    import transformers

    table: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            try:
                cls = getattr(transformers, name)
                ties = cls._tied_weights_keys
                if not ties or not getattr(cls.config_class(), "tie_word_embeddings", False):
                    continue
            except Exception:  # a class transformers does not export, or a config that needs arguments
                continue
            # a weight first (the output embedding): what a checkpoint saved with the tie stores once
            targets = sorted(ties, key=lambda key: (not key.endswith(".weight"), key)) if isinstance(ties, dict) else []
            if targets:
                table[name] = f"{targets[0]} = {ties[targets[0]]}"
    return table


def public_models() -> list[str]:
    """The public model classes of the installed transformers' ``modeling_*.py`` files."""
    spec = importlib.util.find_spec("transformers")
    assert spec is not None and spec.origin is not None
    return sorted({name for path in Path(spec.origin).parent.glob("models/*/modeling_*.py")
                   for name in _PUBLIC_MODEL.findall(path.read_text(encoding="utf-8"))})


def render() -> str:
    """The text of the table module."""
    version = importlib.metadata.version("transformers")
    return (HEADER.format(version=version) + pprint.pformat(buffers_by_class(), width=110) + "\n\n"
            + "TIED_WEIGHTS: dict[str, str] = " + pprint.pformat(tied_by_default(public_models()), width=110) + "\n")


def main() -> int:
    return write_or_check(TABLE, render())


if __name__ == "__main__":
    raise SystemExit(main())
