"""Adding ``# noqa: CODE`` comments: ``--add-noqa`` on a codebase, and the editor's "Disable INIxxx for
this line".

A directive goes where Python reads a comment: at the end of the reported line, after any comment
already there, merged into a ``# noqa: X`` already there. Positions come from ``tokenize``, so a ``#``
inside a string is never taken for a comment; a line that ends inside a multi-line string or with a
backslash continuation cannot take a comment at all, and its findings are reported as not
suppressible. Only comments change, so every file keeps its syntax tree (checked before writing).
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from initlint.config import Config
from initlint.lint.analyze import _NOQA as NOQA_COMMENT  # the one definition of what suppresses a line
from initlint.lint.engine import lint_paths
from initlint.lint.fixer import apply_fixes, encode, read_as_linted
from initlint.lint.source import Source
from initlint.lint.summary import Edit, Finding, Fix
from initlint.lint.writeback import FileChanged, write_back

__all__ = ["noqa_edits", "NoqaRun", "add_noqa_paths"]

_STRING_ENDS = {"FSTRING_END": "FSTRING_START", "TSTRING_END": "TSTRING_START"}  # Python 3.12+, 3.14+


def noqa_edits(text: str, codes_by_line: Mapping[int, Iterable[str]]) -> tuple[list[Edit], dict[int, str]]:
    """Edits adding ``# noqa: CODES`` to each line (1-based) of ``text``.

    Returns the edits (one per line) and, for each line that cannot take a comment, why.
    """
    source = Source(text)
    try:
        comments, blocked = _comment_sites(source)
    except (tokenize.TokenError, SyntaxError) as exc:
        why = f"the file cannot be tokenized ({exc})"
        return [], {line: why for line in codes_by_line}
    edits: list[Edit] = []
    refused: dict[int, str] = {}
    for line, codes in sorted(codes_by_line.items()):
        wanted = sorted(set(codes))
        if line in blocked or not 0 < line <= len(source.lines):
            refused[line] = blocked.get(line, "the line is not in the file")
            continue
        comment = comments.get(line)
        if comment is not None:
            edits.append(_merged(line, *comment, wanted))
            continue
        content = source.line(line).rstrip("\r\n")
        if content.rstrip().endswith("\\"):
            refused[line] = "the line continues with a backslash, where no comment may follow"
            continue
        start = len(content.rstrip()) + 1
        edits.append(Edit(line, start, line, len(content) + 1, f"  # noqa: {', '.join(wanted)}"))
    return edits, refused


def _comment_sites(source: Source) -> tuple[dict[int, tuple[int, str]], dict[int, str]]:
    """The comment on each line (its 0-based column and text), and the lines ending inside a string."""
    comments: dict[int, tuple[int, str]] = {}
    blocked: dict[int, str] = {}
    opened: list[int] = []  # start lines of the f-strings (t-strings) being read
    lines = iter(source.lines)
    for token in tokenize.generate_tokens(lambda: next(lines, "")):
        kind = tokenize.tok_name[token.type]
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = (token.start[1], token.string)
        elif kind in _STRING_ENDS.values():
            opened.append(token.start[0])
        elif token.type == tokenize.STRING or kind in _STRING_ENDS:
            first = opened.pop() if kind in _STRING_ENDS and opened else token.start[0]
            for line in range(first, token.end[0]):
                blocked[line] = (f"the line ends inside a string that closes on line {token.end[0]}, "
                                 "where no comment may go")
    return comments, blocked


def _merged(line: int, col: int, comment: str, codes: list[str]) -> Edit:
    """Add ``codes`` to the last ``# noqa: X`` of the comment, or a new directive after it."""
    body = comment.rstrip()
    matches = list(NOQA_COMMENT.finditer(body))
    last = matches[-1] if matches else None
    if last is not None and last.group("codes"):
        known = {c.upper() for c in last.group("codes").replace(",", " ").split()}
        added = [c for c in codes if c not in known]
        at = col + last.end("codes") + 1
        return Edit(line, at, line, at, "".join(f", {c}" for c in added))
    end = col + len(body) + 1
    return Edit(line, end, line, col + len(comment) + 1, f"  # noqa: {', '.join(codes)}")


@dataclass
class NoqaRun:
    """What ``--add-noqa`` did."""

    added: int = 0  # directives added or extended (one per line)
    files: list[str] = field(default_factory=list)  # files written
    unsuppressible: list[tuple[Finding, str]] = field(default_factory=list)  # findings left, and why
    unwritable: dict[str, str] = field(default_factory=dict)  # file -> why it was not written


def add_noqa_paths(
    paths: Iterable[Path], config: Config, *, force_exclude: bool = False, cache: bool = False, jobs: int = 1
) -> NoqaRun:
    """Lint ``paths`` and suppress every finding with a ``# noqa`` directive on its line."""
    run = NoqaRun()
    by_path: dict[str, list[Finding]] = {}
    result = lint_paths(paths, config, force_exclude, cache, jobs)
    for finding in result.findings:
        by_path.setdefault(finding.path, []).append(finding)
    for shown, findings in by_path.items():
        _add_to_file(Path(shown), findings, run, result.hashes.get(shown))
    return run


def _add_to_file(path: Path, findings: list[Finding], run: NoqaRun, lint_hash: str | None) -> None:
    codes_by_line: dict[int, set[str]] = {}
    for finding in findings:
        if finding.code == "INI900":  # the file does not parse: no comment can be placed safely
            run.unsuppressible.append((finding, "the file cannot be parsed; fix it or `exclude` it"))
        else:
            codes_by_line.setdefault(finding.line, set()).add(finding.code)
    if not codes_by_line:
        return
    try:
        data, text = read_as_linted(path, lint_hash)
    except FileChanged as exc:
        run.unwritable[str(path)] = exc.strerror
        return
    except (OSError, UnicodeDecodeError) as exc:
        run.unwritable[str(path)] = str(exc)
        return
    edits, refused = noqa_edits(text, codes_by_line)
    run.unsuppressible += [(f, refused[f.line]) for f in findings if f.line in refused and f.code != "INI900"]
    new_text, applied = apply_fixes(text, [Fix("add noqa", "safe", (edit,)) for edit in edits if edit.content])
    if not applied:
        return
    if not _same_tree(text, new_text):
        run.unwritable[str(path)] = "adding the comments would change the code; please report this"
        return
    try:
        write_back(path, data, encode(new_text, bom=data.startswith(b"\xef\xbb\xbf")))
    except OSError as exc:
        run.unwritable[str(path)] = exc.strerror or str(exc)
        return
    run.added += len(applied)
    run.files.append(str(path))


def _same_tree(old: str, new: str) -> bool:
    try:
        return ast.dump(ast.parse(old)) == ast.dump(ast.parse(new))
    except (SyntaxError, ValueError):
        return False
