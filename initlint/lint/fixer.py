"""Applying fixes: edits to text, text to files (atomically), and the lint-fix loop behind ``--fix``
and ``--diff``.

A file is only ever written when the user asked for ``--fix``, only while its bytes are still those
the lint pass read, and so that a killed run leaves it either as it was or fully fixed, with its mode,
owner and links (``writeback.py``). Fixed text that CPython cannot parse is never written.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from initlint.config import Config
from initlint.lint.cache import content_hash
from initlint.lint.engine import LintResult, lint_paths
from initlint.lint.source import Source
from initlint.lint.summary import Finding, Fix
from initlint.lint.writeback import FileChanged, write_back

__all__ = ["apply_fixes", "fix_text", "encode", "read_as_linted", "FixRun", "fix_paths", "MAX_PASSES"]

MAX_PASSES = 5  # a fix can make room for another (ruff loops likewise); five is more than any case we know


def apply_fixes(text: str, fixes: Sequence[Fix]) -> tuple[str, list[Fix]]:
    """Apply each fix whose edits overlap no edit of an earlier one; return the text and those applied.

    Insertions at the same place keep the order of their fixes.
    """
    source = Source(text)
    taken: list[tuple[int, int]] = []
    planned: list[tuple[int, int, int, str]] = []  # start, end, order, content
    applied: list[Fix] = []
    for fix in fixes:
        spans = [(source.offset(e.line, e.col), source.offset(e.end_line, e.end_col)) for e in fix.edits]
        if any(_overlaps(span, other) for span in spans for other in taken) or any(
            _overlaps(a, b) for i, a in enumerate(spans) for b in spans[i + 1 :]
        ):
            continue
        taken += spans
        planned += [(start, end, len(planned) + i, edit.content) for i, ((start, end), edit) in
                    enumerate(zip(spans, fix.edits))]
        applied.append(fix)
    pieces, at = [], 0
    for start, end, _, content in sorted(planned):
        pieces += [text[at:start], content]
        at = end
    pieces.append(text[at:])
    return "".join(pieces), applied


def fix_text(text: str, lint: Callable[[str], list[Finding]], unsafe: bool = False) -> tuple[str, list[Finding]]:
    """The lint-fix loop on one text that is not written anywhere (an editor's "fix all").

    Args:
        lint: the findings of a version of the text.

    Returns the fixed text (never one that CPython cannot parse) and the findings fixed.
    """
    fixed: list[Finding] = []
    for _ in range(MAX_PASSES):
        done = {(f.code, f.message) for f in fixed}  # a fix that did not resolve its finding runs once
        findings = [f for f in lint(text) if f.fix is not None and f.fix.applies(unsafe) and (f.code, f.message) not in done]
        new_text, applied = apply_fixes(text, [f.fix for f in findings if f.fix is not None])
        if not applied or not _parses(new_text):
            break
        fixed += [f for f in findings if f.fix in applied]
        text = new_text
    return text, fixed


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Two replaced ranges share a character, or an insertion falls strictly inside a replacement."""
    if a[0] == a[1] or b[0] == b[1]:
        point, span = (a, b) if a[0] == a[1] else (b, a)
        return span[0] < point[0] < span[1]
    return a[0] < b[1] and b[0] < a[1]


def encode(text: str, bom: bool = False) -> bytes:
    """The bytes of a fixed text (UTF-8, with the byte-order mark the file had)."""
    return ("\ufeff" if bom else "").encode() + text.encode("utf-8")


def read_as_linted(path: Path, lint_hash: str | None) -> tuple[bytes, str]:
    """The bytes and text of a file the lint pass read, provided they are still what it read.

    Raises:
        FileChanged: another program saved the file since the lint pass read it.
        OSError, UnicodeDecodeError: it cannot be read.
    """
    data = path.read_bytes()
    if lint_hash is not None and content_hash(data) != lint_hash:
        raise FileChanged(path)
    return data, data.decode("utf-8-sig")


@dataclass
class FixRun:
    """What ``--fix``/``--diff`` did: the findings left, the fixes applied, and a diff per file."""

    result: LintResult
    fixed: list[Finding] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # files whose fixed text would not parse
    unwritable: dict[str, str] = field(default_factory=dict)  # file -> why it could not be written


def fix_paths(
    paths: Iterable[Path],
    config: Config,
    *,
    unsafe: bool = False,
    write: bool = True,
    force_exclude: bool = False,
    cache: bool = False,
    jobs: int = 1,
) -> FixRun:
    """Lint, apply the applicable fixes, and lint again until nothing more is fixed.

    Args:
        write: write the fixed files (``--fix``); otherwise only compute the diffs (``--diff``), in one
            pass, since the next pass would need the unwritten text.
    """
    paths = list(paths)
    run = FixRun(lint_paths(paths, config, force_exclude, cache, jobs))
    originals: dict[str, str] = {}
    current: dict[str, str] = {}
    applied_before: set[tuple[str, str, str]] = set()  # a fix that did not resolve its finding runs once
    for _ in range(MAX_PASSES if write else 1):
        by_path: dict[str, list[Finding]] = {}
        for finding in run.result.findings:
            done = (finding.path, finding.code, finding.message) in applied_before
            skipped = finding.path in run.refused or finding.path in run.unwritable
            if finding.fix is not None and finding.fix.applies(unsafe) and not skipped and not done:
                by_path.setdefault(finding.path, []).append(finding)
        if not by_path:
            break
        changed = False
        for shown, findings in by_path.items():
            changed |= _fix_file(Path(shown), findings, run, originals, current, write, run.result.hashes.get(shown))
        applied_before.update((f.path, f.code, f.message) for f in run.fixed)
        if not write or not changed:
            break
        run.result = lint_paths(paths, config, force_exclude, cache, jobs)
    fixed_here = {(f.path, f.code, f.line) for f in run.fixed}
    if not write:  # a dry run: what --fix would leave
        run.result = LintResult([f for f in run.result.findings if (f.path, f.code, f.line) not in fixed_here],
                                run.result.files_checked, run.result.hashes)
    run.diffs = {path: _diff(path, originals[path], current[path]) for path in originals
                 if originals[path] != current[path]}
    return run


def _fix_file(
    path: Path,
    findings: list[Finding],
    run: FixRun,
    originals: dict[str, str],
    current: dict[str, str],
    write: bool,
    lint_hash: str | None,
) -> bool:
    try:
        data, text = read_as_linted(path, lint_hash)
    except FileChanged as exc:
        run.unwritable[str(path)] = exc.strerror
        return False
    except (OSError, UnicodeDecodeError) as exc:
        run.unwritable[str(path)] = str(exc)
        return False
    bom = data.startswith(b"\xef\xbb\xbf")
    fixes = [f.fix for f in findings if f.fix is not None]
    new_text, applied = apply_fixes(text, fixes)
    if not applied:
        return False
    if not _parses(new_text):
        run.refused.append(str(path))
        return False
    if write:
        try:
            write_back(path, data, encode(new_text, bom))
        except OSError as exc:
            run.unwritable[str(path)] = exc.strerror or str(exc)
            return False
    originals.setdefault(str(path), text)
    current[str(path)] = new_text
    run.fixed += [f for f in findings if f.fix in applied]
    return True


def _diff(path: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=path, tofile=path
    ))
