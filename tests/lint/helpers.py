"""Helpers for linting small projects written into a temporary folder."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

from initlint.config import load_config
from initlint.lint.engine import lint_paths
from initlint.lint.summary import Finding


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``{relative path: source}`` under ``root`` and return it."""
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return root


def lint_tree(root: Path, files: dict[str, str], targets: list[str] | None = None, **config: object) -> list[Finding]:
    """Lint ``files`` written under ``root`` (all of them, or only ``targets``)."""
    write_tree(root, files)
    (root / "pyproject.toml").touch()
    cfg = dataclasses.replace(load_config(root), **config)
    paths = [root / t for t in targets] if targets is not None else [root]
    return lint_paths(paths, cfg).findings
