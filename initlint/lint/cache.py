"""The cache: a warm run reads one small index and stats each file; it parses only what changed.

Under ``<root>/.initlint_cache/`` each (format, initlint version, torch table, settings) gets its own
folder, named by a hash of them, so a change of version or of a setting never reads another's data::

    .initlint_cache/v7-<key>/index.json     one entry per file (below)
    .initlint_cache/v7-<key>/s/<name>.json  the full summary of a file whose entry cannot hold it

An entry holds the file's ``stat`` signature (size, mtime, ctime, inode), its content hash, the facts a
run prints from (the single-file findings, ``# noqa`` lines), the name of the summary file when the
summary has classes or imports, whether the file could define an init-protocol root (``roots``), and the
findings of the class rules (``cf``) per init-protocol generation they were judged under, each with the
modules they were resolved through (module -> the file and content hash it was found in). The index also
keeps, per set of root files (their paths and hashes), the modules the verdicts read and a generation
that changes when one of them did (``protocols``). A whole run and a one-file run judge a file's classes
under different sets of root files, so its class findings are kept for each generation still recorded:
neither kind of run throws away what the other needs. A file whose signature is unchanged is trusted
(an edit that restores the mtime still changes the ctime); a file changed less than ``_RACY_NS`` before
it was recorded may change again within the clock's granularity, so it is hashed again until it is older. Everything is written atomically (a temporary file renamed over the
old one), so two runs at once never see half a file. What is read is checked before it is trusted:
every entry and protocol record carries a checksum of its own content (``c``), the index and each summary
file one over all of their bytes (``sum``), and each entry's fields are checked for their types when the
run first reads that entry. When the index's own checksum holds, its records are byte for byte what was
written and their checksums are not computed again (the warm path); when it fails, every record is
checked on its own. A record that fails is dropped (that file is analysed again), a damaged index
(corrupted, truncated, foreign) as a whole, so a damaged cache costs a cold run, never a traceback or a
lost finding. JSON, never pickle: a cache file must not be able to run code.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import asdict
from typing import Any

from initlint.__about__ import __version__
from initlint.lint.summary import FileSummary, Finding
from initlint.lint.torch_table import TORCH_VERSION

__all__ = ["SummaryCache", "content_hash", "CACHE_DIR", "FORMAT"]

CACHE_DIR = ".initlint_cache"
FORMAT = 8  # 3: one index per settings, stat signatures, class findings with their deps; 4: init protocols;
# 5: class findings point at the name; 6: a checksum in every record (``c``); 7: class findings per
# init-protocol generation, a checksum over the whole index (``sum``); 8: questions and ties in summaries,
# tensors and writes under a guard, the torch built-ins a class builds (three branches had each called
# their change 7)
_PROTOCOL_RECORDS = 8  # roots keys remembered: runs over that many different sets of files stay warm
_RACY_NS = 2_000_000_000  # timestamps coarser than this are not trusted to tell two writes apart


def content_hash(data: bytes) -> str:
    """A short, fast digest of a file's bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def signature(stat: os.stat_result) -> list[int]:
    """What must be unchanged for a file to be trusted without reading it."""
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


class SummaryCache:
    """File summaries and findings remembered between runs.

    Args:
        root: the project root; the cache lives in ``root/.initlint_cache``.
        settings: everything besides a file's content that changes its summary or its findings.
        enabled: ``False`` makes every lookup miss and ``save`` a no-op.
    """

    def __init__(self, root: os.PathLike[str] | str, settings: str, enabled: bool = True) -> None:
        key = hashlib.blake2b(f"{FORMAT}|{__version__}|{TORCH_VERSION}|{settings}".encode(), digest_size=8)
        self.folder = os.path.join(os.fspath(root), CACHE_DIR, f"v{FORMAT}-{key.hexdigest()}")
        self.path = os.path.join(self.folder, "index.json")
        self.enabled = enabled
        self._started = time.time_ns()
        self.protocols: dict[str, dict[str, Any]] = {}  # roots key -> the modules verdicts read, generation
        self._dirty = False  # what is dropped while loading is dropped from the file at the next save
        self._unchecked: set[str] = set()  # entries whose field types are checked when first read
        self._changed: set[str] = set()  # entries to seal again at the next save
        self.entries: dict[str, dict[str, Any]] = self._load() if enabled else {}

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read()
            data = json.loads(raw)
        except (OSError, ValueError, RecursionError):
            return {}  # missing, corrupted or truncated: rebuilt by this run
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != __version__:
            return {}  # foreign
        files, protocols = data.get("files"), data.get("protocols")
        if not isinstance(files, dict):
            files = {}
        if not isinstance(protocols, dict):
            protocols = {}
        whole = _whole(raw, data.get("sum"), _INDEX_HEAD)
        entries = files if whole else {path: entry for path, entry in files.items() if _sealed(entry)}
        self._unchecked = set(entries)
        self.protocols = {key: record for key, record in protocols.items()
                          if (whole or _sealed(record)) and isinstance(record, dict) and _record_ok(record)}
        self._dirty = not whole or len(self.protocols) != len(protocols)
        return entries

    def entry(self, path: str) -> dict[str, Any] | None:
        """The entry of ``path``, if there is one whose fields have the types the engine reads them as
        (checked on first reading; one that has not is dropped)."""
        entry = self.entries.get(path)
        if entry is not None and path in self._unchecked:
            self._unchecked.discard(path)
            if not _entry_ok(entry):
                del self.entries[path]
                self._dirty = True
                return None
        return entry

    def fresh(self, path: str, stat: os.stat_result | None, module: tuple[str, bool]) -> dict[str, Any] | None:
        """The entry of ``path`` if its signature and module are unchanged and it can be trusted."""
        entry = self.entry(path)
        if entry is None or stat is None or entry["racy"] or entry["st"] != signature(stat):
            return None
        return entry if entry["mod"] == list(module) else None

    def known_hash(self, path: str, module: tuple[str, bool]) -> str | None:
        """The content hash last recorded for ``path`` (under the same module name), if any."""
        entry = self.entry(path)
        return entry["h"] if entry is not None and entry["mod"] == list(module) else None

    def touched(self, path: str, stat: os.stat_result) -> dict[str, Any]:
        """Record that ``path`` was read again and its content is unchanged; returns its entry."""
        entry = self.entries[path]
        entry["st"] = signature(stat)
        entry["racy"] = self._is_racy(stat)
        self._changed.add(path)
        self._dirty = True
        return entry

    def store(self, path: str, stat: os.stat_result | None, digest: str, summary: FileSummary,
              module: tuple[str, bool]) -> dict[str, Any]:
        """Remember one file's summary; returns its (new) entry, without class findings yet."""
        entry: dict[str, Any] = {
            "st": signature(stat) if stat is not None else None,
            "racy": stat is None or self._is_racy(stat),
            "h": digest,
            "mod": list(module),
            "parsed": summary.parsed,
            "skip": summary.skip_file,
            "noqa": {str(line): codes for line, codes in summary.noqa.items()},
            "findings": [_finding_json(f) for f in summary.findings],
            "roots": summary.roots,
        }
        if _from_entry(entry, summary.path, summary.module) != summary:
            entry["x"] = self._write_summary(path, digest, module, summary)
        old = self.entry(path)
        if old is not None and old["h"] == digest and old["mod"] == entry["mod"] and "cf" in old:
            entry["cf"] = old["cf"]  # same content: its class findings stand
        if stat is not None:
            self.entries[path] = entry
            self._unchecked.discard(path)
            self._changed.add(path)
            self._dirty = True
        return entry

    def class_findings(self, entry: dict[str, Any], generation: str | None) -> list[list[Any]] | None:
        """The class findings of an entry judged under the init-protocol ``generation``, or by none (those
        stand under every generation), and the modules they were resolved through: ``[findings, deps]``."""
        held = entry.get("cf")
        if held is None:
            return None
        found = held.get(generation or "")
        return found if found is not None else held.get("")

    def set_class_findings(self, path: str, findings: list[Finding], deps: list[list[Any]],
                           protocols: str | None = None) -> None:
        """Remember the class rules' findings of ``path``, the modules they depend on and the init-protocol
        generation (``protocols`` record; ``None``: no protocol judged them) they were judged under, beside
        those of other generations."""
        entry = self.entries.get(path)
        if entry is not None:
            held = dict(entry.get("cf") or {})
            held.pop(protocols or "", None)  # the newest last
            held[protocols or ""] = [[_finding_json(f) for f in findings], deps]
            entry["cf"] = held
            self._changed.add(path)
            self._dirty = True

    def set_protocols(self, key: str, deps: list[list[Any]], generation: str) -> None:
        """Remember, for the roots ``key``, every module the verdicts of a generation read."""
        self.protocols.pop(key, None)
        self.protocols[key] = _seal({"deps": deps, "gen": generation})
        while len(self.protocols) > _PROTOCOL_RECORDS:
            self.protocols.pop(next(iter(self.protocols)))
        self._dirty = True

    def summary(self, path: str, entry: dict[str, Any], module: str) -> FileSummary | None:
        """The full summary an entry stands for (``None`` if its summary file is lost or damaged)."""
        name = entry.get("x")
        if name is None:
            return _from_entry(entry, path, module)
        target = os.path.join(self.folder, "s", f"{name}.json")
        try:
            with open(target, "rb") as handle:
                raw = handle.read()
            data = json.loads(raw)
            if isinstance(data, dict) and _whole(raw, data.get("sum"), {}) and isinstance(data.get("summary"), dict):
                return FileSummary.from_json(data["summary"])
        except OSError:
            return None
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            pass
        try:
            os.unlink(target)  # damaged: the file analysed again writes it anew
        except OSError:
            pass
        return None

    def _write_summary(self, path: str, digest: str, module: tuple[str, bool], summary: FileSummary) -> str | None:
        key = f"{path}|{module}|{digest}".encode("utf-8", "surrogateescape")  # a file name need not be UTF-8
        name = hashlib.blake2b(key, digest_size=12).hexdigest()
        if not self.enabled:
            return name
        target = os.path.join(self.folder, "s", f"{name}.json")
        if not os.path.exists(target):
            body = json.dumps({"summary": summary.to_json()}, separators=(",", ":"))[1:]
            self._write(target, _head(_digest(body.encode("ascii")), {}) + body)
        return name

    def _write(self, target: str, text: str) -> None:
        """Write a file of the cache atomically; the first write marks the cache folder git-ignored."""
        top = os.path.dirname(self.folder)
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            ignore = os.path.join(top, ".gitignore")
            if not os.path.exists(ignore):
                with open(ignore, "w", encoding="utf-8") as handle:
                    handle.write("# Created by initlint.\n*\n")
        except OSError:
            return  # a read-only checkout still lints; it just stays cold
        _write_atomic(target, text)

    def _is_racy(self, stat: os.stat_result) -> bool:
        return max(stat.st_mtime_ns, stat.st_ctime_ns) > self._started - _RACY_NS

    def save(self) -> None:
        """Write the index atomically, if anything changed, and drop summary files no entry names.
        Failures to write are not errors."""
        if not (self.enabled and self._dirty):
            return
        live = {"", *(record["gen"] for record in self.protocols.values())}
        for path in self._changed:
            entry = self.entries.get(path)
            if entry is not None:
                if "cf" in entry:  # a generation no protocol record names again can never be reused
                    entry["cf"] = {gen: held for gen, held in entry["cf"].items() if gen in live}
                _seal(entry)
        self._changed.clear()
        body = json.dumps({"files": self.entries, "protocols": self.protocols}, separators=(",", ":"))[1:]
        self._write(self.path, _head(_digest(body.encode("ascii")), _INDEX_HEAD) + body)
        self._prune()
        self._dirty = False

    def _prune(self) -> None:
        """Delete unreferenced summary files once they outnumber the referenced ones."""
        folder = os.path.join(self.folder, "s")
        try:
            names = os.listdir(folder)
        except OSError:
            return
        wanted = {f"{e['x']}.json" for e in self.entries.values() if isinstance(e, dict) and e.get("x")}
        if len(names) <= 2 * len(wanted) + 64:
            return
        for name in names:
            if name not in wanted and name.endswith(".json"):
                try:
                    os.unlink(os.path.join(folder, name))
                except OSError:
                    pass  # another run's, or already gone


# --- what is loaded is checked: a checksum per record, the types of every field of an entry ----------

_INDEX_HEAD = {"format": FORMAT, "version": __version__}


def _head(digest: str, fields: dict[str, Any]) -> str:
    """The start of a cache file (the index, a summary file): ``fields``, then ``sum``, the checksum of
    everything after this head. (``json.dumps`` writes ASCII only, so the text and its bytes are the same.)"""
    return json.dumps({**fields, "sum": digest}, separators=(",", ":"))[:-1] + ","


def _digest(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def _whole(raw: bytes, digest: object, fields: dict[str, Any]) -> bool:
    """Whether the cache file ``raw`` is byte for byte what initlint wrote: its head (``fields``, then
    ``digest``) names the checksum of the rest, and the rest has it."""
    if not isinstance(digest, str):
        return False
    head = _head(digest, fields).encode("ascii")
    return raw.startswith(head) and _digest(raw[len(head):]) == digest


def _checksum(record: dict[str, Any]) -> str:
    body = json.dumps({k: v for k, v in record.items() if k != "c"}, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(body.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _seal(record: dict[str, Any]) -> dict[str, Any]:
    """Store ``record``'s checksum in it (in place); returns it."""
    record["c"] = _checksum(record)
    return record


def _sealed(record: object) -> bool:
    """Whether ``record`` is a dict whose content is what was written with its checksum."""
    return isinstance(record, dict) and isinstance(record.get("c"), str) and record["c"] == _checksum(record)


def _is_int(value: object) -> bool:
    return type(value) is int


def _is_str_or_none(value: object) -> bool:
    return value is None or isinstance(value, str)


def _deps_ok(deps: object) -> bool:
    return isinstance(deps, list) and all(
        isinstance(d, list) and len(d) == 3 and isinstance(d[0], str) and _is_str_or_none(d[1])
        and _is_str_or_none(d[2]) for d in deps)


def _findings_ok(findings: object) -> bool:
    return isinstance(findings, list) and all(_finding_ok(f) for f in findings)


def _finding_ok(data: object) -> bool:
    if not (isinstance(data, dict) and set(data) == _FINDING_FIELDS):
        return False
    fix = data["fix"]
    return (all(_is_int(data[k]) for k in ("line", "col", "end_line", "end_col"))
            and all(isinstance(data[k], str) for k in ("path", "code", "message"))
            and (fix is None or _fix_ok(fix)))


def _fix_ok(fix: object) -> bool:
    return (isinstance(fix, dict) and set(fix) == {"message", "applicability", "edits"}
            and isinstance(fix["message"], str) and isinstance(fix["applicability"], str)
            and isinstance(fix["edits"], list) and all(
                isinstance(e, dict) and set(e) == _EDIT_FIELDS and isinstance(e["content"], str)
                and all(_is_int(e[k]) for k in _EDIT_FIELDS - {"content"}) for e in fix["edits"]))


def _noqa_ok(noqa: object) -> bool:
    return isinstance(noqa, dict) and all(
        line.isascii() and line.isdigit() and isinstance(codes, list) and all(isinstance(c, str) for c in codes)
        for line, codes in noqa.items())


_SUMMARY_NAME = re.compile(r"[0-9a-f]{24}")  # what _write_summary names: never a path out of the cache
_FINDING_FIELDS = {"path", "line", "col", "code", "message", "end_line", "end_col", "fix"}
_EDIT_FIELDS = {"line", "col", "end_line", "end_col", "content"}
_REQUIRED = {"st", "racy", "h", "mod", "parsed", "skip", "noqa", "findings", "roots"}  # "x", "cf" optional


def _entry_ok(entry: object) -> bool:
    """Whether every field of an index entry has the type the engine reads it as. (A warm run checks
    every entry it reads: plain tests in one expression, the common empty fields cost nothing.)"""
    if type(entry) is not dict or not _REQUIRED <= entry.keys():
        return False
    st, mod, x, cf = entry["st"], entry["mod"], entry.get("x"), entry.get("cf")
    noqa, findings = entry["noqa"], entry["findings"]
    return ((st is None or (type(st) is list and len(st) == 4 and all(type(i) is int for i in st)))
            and type(entry["racy"]) is bool and type(entry["parsed"]) is bool and type(entry["skip"]) is bool
            and type(entry["roots"]) is bool and type(entry["h"]) is str
            and type(mod) is list and len(mod) == 2 and type(mod[0]) is str and type(mod[1]) is bool
            and (noqa == {} or _noqa_ok(noqa)) and (findings == [] or _findings_ok(findings))
            and (x is None or (type(x) is str and _SUMMARY_NAME.fullmatch(x) is not None))
            and ("cf" not in entry or (type(cf) is dict and all(
                held == [[], []] or (type(held) is list and len(held) == 2 and _findings_ok(held[0])
                                     and _deps_ok(held[1]))
                for held in cf.values()))))


def _record_ok(record: dict[str, Any]) -> bool:
    """Whether a protocol record has the shape ``set_protocols`` writes."""
    return _deps_ok(record.get("deps")) and isinstance(record.get("gen"), str)


def _finding_json(finding: Finding) -> dict[str, Any]:
    data = asdict(finding)
    data["path"] = ""  # a finding is shown with the path as the user wrote it
    return data


def findings_of(data: list[dict[str, Any]], shown: str) -> list[Finding]:
    """Findings from an entry, with the path as shown in this run."""
    return [Finding.from_json({**item, "path": shown}) for item in data]


def noqa_of(entry: dict[str, Any]) -> dict[int, list[str]]:
    """The ``# noqa`` lines of an entry."""
    return {int(line): codes for line, codes in entry["noqa"].items()}


def _from_entry(entry: dict[str, Any], path: str, module: str) -> FileSummary:
    """The summary of a file without classes or imports, from its entry alone."""
    return FileSummary(
        path=path,
        module=module,
        findings=findings_of(entry["findings"], path),
        noqa=noqa_of(entry),
        skip_file=entry["skip"],
        parsed=entry["parsed"],
        roots=entry.get("roots", False),
    )


def _write_atomic(target: str, text: str) -> None:
    tmp = f"{target}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except OSError:
        pass  # a read-only checkout still lints; it just stays cold
    finally:
        if os.path.exists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass
