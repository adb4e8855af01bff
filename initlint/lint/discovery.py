"""Which files a run reads: walking the paths given, skipping what no one wants linted."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from initlint.config import Config, ConfigError

__all__ = ["absolute", "discover", "discover_files", "module_name", "module_of", "modules_under", "relative"]

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
    return [Path(shown) for shown, _ in discover_files(paths, config, force_exclude)]


def discover_files(paths: Iterable[Path], config: Config, force_exclude: bool = False) -> list[tuple[str, str]]:
    """``discover`` as ``(shown, absolute)`` strings: no path object per file (a warm run of a large
    tree spends most of its time here otherwise)."""
    paths = list(paths)
    root = os.path.abspath(config.root)
    found: dict[str, str] = {}
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise ConfigError(f"{path}: no such file or directory")
        shown = str(path)
        if path.is_dir():
            found.update((full, name) for name, full in _walk(shown, root, config))
        elif not (force_exclude and config.is_excluded(relative(path, config.root))):
            found[os.path.abspath(shown)] = shown
    kept = _not_gitignored(found, config.root, explicit=paths)
    return sorted(((found[full], full) for full in kept), key=lambda pair: _sort_key(pair[0]))


def _sort_key(shown: str) -> list[str]:
    """The order of ``pathlib`` paths (component by component), which a string sort is not."""
    return shown.split(os.sep)


def _walk(top: str, root: str, config: Config) -> Iterator[tuple[str, str]]:
    """``(shown, absolute)`` of the Python files under ``top``, folder by folder in sorted order."""
    prefix = "" if top == "." else top.rstrip(os.sep) + os.sep
    base = os.path.abspath(top)
    excluding = bool(config.exclude)
    stack = [(prefix, base)]
    while stack:
        shown_dir, full_dir = stack.pop()
        dirs, files = _listing(full_dir)
        below = []
        for name in sorted(dirs):
            full = os.path.join(full_dir, name)
            if name in SKIP_DIRS or name.endswith(".egg-info") or os.path.exists(os.path.join(full, "pyvenv.cfg")):
                continue
            if excluding and config.is_excluded(_relative_to(full, root)):
                continue
            below.append((shown_dir + name + os.sep, full))
        for name in sorted(files):
            if name.endswith(SUFFIXES):
                full = os.path.join(full_dir, name)
                if not (excluding and config.is_excluded(_relative_to(full, root))):
                    yield shown_dir + name, full
        stack += reversed(below)


def _listing(folder: str) -> tuple[list[str], list[str]]:
    """The names of the folders to descend into and of the other entries, as ``os.walk`` sees them:
    a symbolic link to a folder is neither walked nor read as a file."""
    dirs: list[str] = []
    files: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                if not is_dir:
                    files.append(entry.name)
                elif not entry.is_symlink():
                    dirs.append(entry.name)
    except OSError:
        pass  # unreadable or vanished: as os.walk, skip it
    return dirs, files


def _relative_to(full: str, root: str) -> str:
    """An absolute path relative to the absolute ``root``, ``/``-separated (itself when outside)."""
    if full.startswith(root + os.sep):
        return full[len(root) + 1 :].replace(os.sep, "/")
    return full.replace(os.sep, "/")


def modules_under(root: Path) -> dict[str, str]:
    """Dotted module name -> absolute path of every Python file under ``root`` (virtualenvs and
    build folders aside); where two files claim a name, the later in sorted order wins."""
    found: dict[str, str] = {}
    top = os.path.abspath(root)
    stack = [(top, _package_of(top))]
    while stack:
        folder, package = stack.pop()
        dirs, files = _listing(folder)
        for name in sorted(files):
            if name.endswith(SUFFIXES):
                stem = _stem(name)
                found[package if stem == "__init__" else f"{package}.{stem}" if package else stem] = (
                    os.path.join(folder, name)
                )
        below = []
        for name in sorted(dirs):
            if name not in SKIP_DIRS and not name.endswith(".egg-info"):
                child = os.path.join(folder, name)
                inner = "" if not os.path.exists(os.path.join(child, "__init__.py")) else (
                    f"{package}.{name}" if package else name
                )
                below.append((child, inner))
        stack += reversed(below)
    return found


def _not_gitignored(found: dict[str, str], root: Path, explicit: list[Path]) -> list[str]:
    """The absolute paths of ``found`` that git does not ignore (when ``root`` is a git work tree and
    git is installed).

    What was named on the command line is linted even if ignored, and so is everything under a
    folder that was named although git ignores it (``initlint .venv/lib/.../torch/nn``).
    """
    files = list(found)
    if not files or not (root / ".git").exists():
        return files
    named = [os.path.abspath(p) for p in explicit]
    ignored = _git_ignored([*named, *files], root)
    if ignored is None:
        return files
    wanted = [w + os.sep for w in named if w in ignored]
    return [f for f in files if f not in ignored or f + os.sep in wanted or f.startswith(tuple(wanted))]


def _git_ignored(paths: list[str], root: Path) -> set[str] | None:
    import subprocess  # only in a git work tree

    try:
        result = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "--stdin", "-z"],
            input="\0".join(paths),
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode not in (0, 1):  # 1: nothing ignored; anything else: not a usable repo
        return None
    return set(p for p in result.stdout.split("\0") if p)


def module_name(path: Path) -> tuple[str, bool]:
    """The dotted module name of a file from its package folders, and whether it is a package."""
    return module_of(os.path.abspath(path))


def module_of(full: str) -> tuple[str, bool]:
    """``module_name`` of an absolute path string."""
    folder, name = os.path.split(full)
    package = _package_of(folder)
    stem = _stem(name)
    if stem == "__init__":
        return package, True
    return (f"{package}.{stem}" if package else stem), False


def _stem(name: str) -> str:
    """``Path(name).stem``, without the path object."""
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


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
