"""The summary cache: a warm run parses only the files that changed.

One JSON file per (initlint version, configuration) under ``<root>/.initlint_cache/``, mapping each
file to its size, modification time, content hash and ``FileSummary``. A file whose size and mtime are
unchanged is trusted; otherwise its content hash decides. The cache is written atomically (a temporary
file renamed over the old one), so two runs at once never see half a file; a cache that cannot be read
(corrupted, truncated, another format) is ignored and rebuilt. JSON, never pickle: a cache file must
not be able to run code.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from initlint.__about__ import __version__
from initlint.lint.summary import FileSummary
from initlint.lint.torch_table import TORCH_VERSION

__all__ = ["SummaryCache", "content_hash", "CACHE_DIR"]

CACHE_DIR = ".initlint_cache"
_FORMAT = 3  # 2: findings and classes carry fixes; 3: init-protocol facts


def content_hash(data: bytes) -> str:
    """A short, fast digest of a file's bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class SummaryCache:
    """File summaries remembered between runs.

    Args:
        root: the project root; the cache lives in ``root/.initlint_cache``.
        settings: everything besides a file's content that changes its summary (the analysis options).
        enabled: ``False`` makes every lookup miss and ``save`` a no-op.
    """

    def __init__(self, root: Path, settings: str, enabled: bool = True) -> None:
        key = hashlib.blake2b(f"{_FORMAT}|{__version__}|{TORCH_VERSION}|{settings}".encode(), digest_size=8)
        self.path = root / CACHE_DIR / f"summaries-{key.hexdigest()}.json"
        self.enabled = enabled
        self._entries: dict[str, dict[str, Any]] = self._load() if enabled else {}
        self._dirty = False

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") != _FORMAT or data.get("version") != __version__:
                return {}
            entries = data["entries"]
            return entries if isinstance(entries, dict) else {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}  # missing, corrupted, truncated or foreign: rebuilt by this run

    def lookup(self, path: Path, stat: os.stat_result) -> tuple[FileSummary | None, str | None]:
        """(summary, None) when the file is unchanged by size and mtime; else (None, known hash)."""
        entry = self._entries.get(str(path))
        if entry is None:
            return None, None
        if entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
            summary = self._summary(entry)
            if summary is not None:
                return summary, None
        return None, entry.get("hash")

    def by_hash(self, path: Path, digest: str, stat: os.stat_result) -> FileSummary | None:
        """The cached summary if the content is unchanged (a touched file); refreshes the mtime."""
        entry = self._entries.get(str(path))
        if entry is None or entry.get("hash") != digest:
            return None
        summary = self._summary(entry)
        if summary is not None:
            entry.update(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
            self._dirty = True
        return summary

    def store(self, path: Path, stat: os.stat_result, digest: str, summary: FileSummary) -> None:
        """Remember one file's summary."""
        if not self.enabled:
            return
        self._entries[str(path)] = {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "hash": digest,
            "summary": summary.to_json(),
        }
        self._dirty = True

    def save(self) -> None:
        """Write the cache atomically, if anything changed. Failures to write are not errors."""
        if not (self.enabled and self._dirty):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            ignore = self.path.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Created by initlint.\n*\n", encoding="utf-8")
            payload = {"format": _FORMAT, "version": __version__, "entries": self._entries}
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".summaries-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(payload, handle, separators=(",", ":"))
                os.replace(tmp, self.path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError:
            pass  # a read-only checkout still lints; it just stays cold
        self._dirty = False

    @staticmethod
    def _summary(entry: dict[str, Any]) -> FileSummary | None:
        try:
            return FileSummary.from_json(entry["summary"])
        except (KeyError, TypeError, ValueError):
            return None
