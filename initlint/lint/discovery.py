"""Which files a run reads: walking the paths given, skipping what no one wants linted."""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from initlint.config import Config, ConfigError

__all__ = ["absolute", "discover", "module_name", "relative"]

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "__pycache__",
        "build",
        "dist",
        "node_modules",
        "site-packages",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".initlint_cache",
        ".eggs",
    }
)
SUFFIXES = (".py", ".pyi")


def absolute(path: Path) -> Path:
    """``path`` made absolute without resolving symlinks (cheap: no system call per component)."""
    return Path(os.path.abspath(path))


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with ``/`` separators (the path itself when outside)."""
    full = os.path.abspath(path)
    base = os.path.abspath(root)
    if full == base or full.startswith(base + os.sep):
        return os.path.relpath(full, base).replace(os.sep, "/")
    return Path(path).as_posix()


def discover(paths: Iterable[Path], config: Config, force_exclude: bool = False) -> list[Path]:
    """The Python files under ``paths``, sorted, without excluded, ignored or virtualenv ones.

    A file named explicitly is always linted, unless ``force_exclude`` applies ``exclude`` to it too
    (as pre-commit needs). A path that does not exist is a ``ConfigError``.
    """
    found: list[Path] = []
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise ConfigError(f"{path}: no such file or directory")
        if path.is_dir():
            found += _walk(path, config)
        elif not (force_exclude and config.is_excluded(relative(path, config.root))):
            found.append(path)
    return sorted(set(_not_gitignored(found, config.root, explicit=list(paths))))


def _walk(top: Path, config: Config) -> Iterator[Path]:
    for folder, dirs, files in os.walk(top, onerror=None):
        base = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIP_DIRS
            and not d.endswith(".egg-info")
            and not (base / d / "pyvenv.cfg").exists()
            and not config.is_excluded(relative(base / d, config.root))
        )
        for name in sorted(files):
            candidate = base / name
            if name.endswith(SUFFIXES) and not config.is_excluded(relative(candidate, config.root)):
                yield candidate


def _not_gitignored(files: list[Path], root: Path, explicit: list[Path]) -> list[Path]:
    """Drop files git ignores (when ``root`` is a git work tree and git is installed).

    What was named on the command line is linted even if ignored, and so is everything under a
    folder that was named although git ignores it (``initlint .venv/lib/.../torch/nn``).
    """
    if not files or not (root / ".git").exists():
        return files
    ignored = _git_ignored([*explicit, *files], root)
    if ignored is None:
        return files
    wanted = [absolute(p) for p in explicit if absolute(p) in ignored]
    return [f for f in files if absolute(f) not in ignored or any(absolute(f).is_relative_to(w) for w in wanted)]


def _git_ignored(paths: list[Path], root: Path) -> set[Path] | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "--stdin", "-z"],
            input="\0".join(str(absolute(p)) for p in paths),
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode not in (0, 1):  # 1: nothing ignored; anything else: not a usable repo
        return None
    return {Path(p) for p in result.stdout.split("\0") if p}


def module_name(path: Path) -> tuple[str, bool]:
    """The dotted module name of a file from its package folders, and whether it is a package."""
    path = absolute(path)
    package = _package_of(str(path.parent))
    if path.stem == "__init__":
        return package, True
    return (f"{package}.{path.stem}" if package else path.stem), False


@functools.lru_cache(maxsize=4096)
def _package_of(folder: str) -> str:
    """``a.b`` for a folder ``.../a/b`` where both hold an ``__init__.py``; ``""`` otherwise."""
    if not os.path.exists(os.path.join(folder, "__init__.py")):
        return ""
    parent, name = os.path.split(folder)
    if parent == folder:
        return ""
    above = _package_of(parent)
    return f"{above}.{name}" if above else name
