"""What the language server asks of the linter, without any LSP: lint one document with the open
buffers, fix all of it, index a workspace folder.

One long-lived ``Project`` per project root (the folder with ``pyproject.toml`` or ``.git``), rebuilt when
its ``pyproject.toml`` changes; the open buffers are its overlays, and files changed on disk are read
again before each run. Not thread-safe: the server calls it from one worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from initlint.config import Config, find_project_root, load_config
from initlint.lint.discovery import absolute, discover, relative
from initlint.lint.engine import Project, lint_file
from initlint.lint.fixer import fix_text
from initlint.lint.summary import Finding

__all__ = ["Session"]

_INDEX_CHUNK = 16  # files analysed per step of the workspace indexing (progress is reported, and a document
# waiting for its diagnostics analysed, between steps: at most this many files' wait)


class Session:
    """The projects of the open documents, by root."""

    def __init__(self, cache: bool = True) -> None:
        self.cache = cache
        self._projects: dict[Path, tuple[tuple[int, int] | None, Project]] = {}

    def project_for(self, path: Path) -> Project:
        """The project ``path`` belongs to; raises ``ConfigError`` for a broken ``[tool.initlint]``."""
        root = find_project_root([path])
        stamp = _stamp(root / "pyproject.toml")
        known = self._projects.get(root)
        if known is None or known[0] != stamp:
            # a buffer at the top of a drive (an untitled file saved nowhere yet) must not have the whole
            # drive walked for its modules, nor a cache written there
            top = root.parent == root
            known = (stamp, Project(load_config(root), cache=self.cache and not top, scan=not top))
            self._projects[root] = known
        return known[1]

    def forget(self, root: Path | None = None) -> None:
        """Start afresh (files were created or deleted on disk): every project, or the one at ``root``."""
        if root is None:
            self._projects.clear()
        else:
            self._projects.pop(root, None)

    def lint(self, path: Path, buffers: Mapping[Path, str]) -> list[Finding]:
        """The findings of the document at ``path``, whose text is ``buffers[path]``, with the other open
        buffers of its project standing in for their files. An excluded file has none."""
        project = self.project_for(path)
        if project.config.is_excluded(relative(path, project.config.root)):
            return []
        project.forget_changed()
        project.set_overlays({**_inside(buffers, project.config), absolute(path): buffers[path]})  # its text, always
        return lint_file(project, path)

    def fix_all(self, path: Path, buffers: Mapping[Path, str], unsafe: bool = False) -> tuple[str, list[Finding]]:
        """The document's text with its safe (or all) fixes applied, as ``--fix`` would, and what was fixed."""
        project = self.project_for(path)
        if project.config.is_excluded(relative(path, project.config.root)):
            return buffers[path], []
        project.forget_changed()
        others = _inside(buffers, project.config)

        def lint(text: str) -> list[Finding]:
            project.set_overlays({**others, absolute(path): text})
            return lint_file(project, path)

        try:
            return fix_text(buffers[path], lint, unsafe)
        finally:
            project.set_overlays(others)

    def index_steps(self, folder: Path) -> Iterator[tuple[int, int, Callable[[], None]]]:
        """The indexing of a workspace folder, in steps: ``(done, total, step)`` where each ``step()``
        analyses the next files (and the last saves the summary cache)."""
        project = self.project_for(folder / "__init__.py")
        files = discover([folder], project.config)
        total = len(files)
        for start in range(0, total, _INDEX_CHUNK):
            chunk = files[start : start + _INDEX_CHUNK]

            def step(chunk: list[Path] = chunk, last: bool = start + _INDEX_CHUNK >= total) -> None:
                project.analyze(chunk)
                if last:
                    project.save()

            yield start, total, step

    def save(self) -> None:
        """Write every project's summary cache."""
        for _, project in self._projects.values():
            project.save()


def _inside(buffers: Mapping[Path, str], config: Config) -> dict[Path, str]:
    """The buffers of files under the project root (which may be ``/`` or a UNC share's ``//host/share``)."""
    root = str(absolute(config.root)).rstrip(os.sep) + os.sep
    return {absolute(path): text for path, text in buffers.items() if str(absolute(path)).startswith(root)}


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns
