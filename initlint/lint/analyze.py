"""Analyse one file on its own into a ``FileSummary`` (pure: no state shared between files).

This is the unit the engine caches and runs in worker processes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

from initlint.lint.astwalk import Walked
from initlint.lint.collect import collect_classes, collect_imports
from initlint.lint.lazy import cst
from initlint.lint.names import ImportTable
from initlint.lint.protocols.facts import WALKED, collect_protocol_facts
from initlint.lint.protocols.roots import may_hold_roots
from initlint.lint.reindent import Reindented
from initlint.lint.rules import ALL_RULES, ClassRule, FileRule
from initlint.lint.rules.base import FileContext, Rule, TreeRule
from initlint.lint.source import Source
from initlint.lint.summary import ClassSummary, FileSummary, Finding, Question

if TYPE_CHECKING:
    from libcst.metadata import CodeRange

__all__ = ["read_source", "analyze_source", "noqa_map"]

_NOQA = re.compile(r"#\s*noqa(?::[\s]*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_FILE_NOQA = re.compile(r"^[ \t]*#[ \t]*initlint:[ \t]*noqa[ \t]*$", re.MULTILINE | re.IGNORECASE)
_AFTER_CLASS = re.compile(r"class[ \t\f]+")


def noqa_map(text: str) -> dict[int, list[str]]:
    """Line -> codes suppressed on that line (an empty list suppresses every code)."""
    found: dict[int, list[str]] = {}
    if "noqa" not in text:
        return found
    # lines counted between matches, as ``Source`` ends them (\r\n, \r, \n), without splitting the file
    line, counted, has_cr = 1, 0, "\r" in text
    for match in _NOQA.finditer(text):
        start = match.start()
        line += text.count("\n", counted, start)
        if has_cr:
            line += text.count("\r", counted, start) - text.count("\r\n", counted, start)
        counted = start
        codes = match.group("codes")
        found[line] = [c.upper() for c in re.split(r"[\s,]+", codes) if c] if codes else []
    return found


def read_source(path: Path) -> tuple[bytes, str | None, FileSummary | None]:
    """The bytes of a file and its text, or the INI900 summary saying why there is none."""
    shown, module = str(path), ""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return b"", None, _error(shown, module, 1, 1, f"cannot be read: {exc.strerror or exc}")
    try:
        return data, data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = (
            f"is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "initlint reads Python source as UTF-8"
        )
        return data, None, _error(shown, module, line, 1, message)


def analyze_source(
    text: str,
    path: str,
    module: str,
    is_package: bool = False,
    extra_optimizers: frozenset[str] = frozenset(),
    need_classes: bool = False,
) -> FileSummary:
    """Analyse source text (``path`` is only used in findings).

    Args:
        need_classes: parse even if no rule applies, because another file inherits from a class here.
    """
    summary = FileSummary(path=path, module=module, noqa=noqa_map(text))
    # the regex tries every line start; the lowered copy is found in a fraction of that
    file_noqa = "initlint" in text.lower() and _FILE_NOQA.search(text) is not None
    if file_noqa and not need_classes:
        summary.skip_file = True
        return summary
    if "\0" in text:
        return _error(path, module, Source(text).line_at(text.index("\0")), 1, "contains a NUL byte")
    rules = [rule for rule in ALL_RULES if rule.applies_to(text, extra_optimizers)]
    if not rules and not need_classes:
        summary.parsed = False  # nothing any rule could report: not worth a parse
        return summary
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        line, col = exc.lineno or 1, exc.offset or 1
        if "too many nested" in str(exc.msg) or "too complex" in str(exc.msg):
            return _error(path, module, line, 1, "is nested too deeply to be parsed (CPython itself cannot compile it)")
        return _error(path, module, line, col, f"could not be parsed: {exc.msg}")
    except (RecursionError, MemoryError):
        return _error(path, module, 1, 1, "is nested too deeply to be parsed (CPython itself cannot compile it)")
    except ValueError as exc:  # "source code string cannot contain null bytes", in older Pythons
        return _error(path, module, 1, 1, f"could not be parsed: {exc}")
    try:
        table = ImportTable(module, is_package)
        collect_imports(tree, table)
        walks: dict[ast.AST, Walked] = {}  # each method walked once, for its summary and its facts
        classes = collect_classes(tree, table, walks, WALKED)
        collect_protocol_facts(tree, table, classes, summary, walks)
        _prepare_fixes(classes, text, table, rules)
        summary.classes = [cls for _, cls in classes]
        summary.imports = table.aliases
        # read only where a rule parses the file anyway: a file parsed for another's bases must not add roots
        summary.roots = bool(rules) and may_hold_roots(summary)
        file_rules = [rule for rule in rules if issubclass(rule, FileRule) and rule.wants(tree, table)]
        if file_rules:
            own = {f"{module}.{cls.name}": cls for _, cls in classes}
            findings, summary.questions = _file_findings(path, text, table, extra_optimizers, file_rules, own)
            summary.findings += findings
    except cst.ParserSyntaxError as exc:
        message = re.sub(r"^parser error: error at \d+:\d+: ", "", " ".join(exc.message.split()))
        return _error(path, module, exc.raw_line, exc.raw_column + 1, f"could not be parsed: {message}")
    except RecursionError:
        return _error(path, module, 1, 1, "is nested too deeply to be parsed")
    except Exception as exc:  # a bug of ours must not hide the other files' findings
        return _error(path, module, 1, 1, f"could not be analysed ({type(exc).__name__}: {exc}); please report it")
    summary.skip_file = file_noqa
    return summary


def _file_findings(
    path: str,
    text: str,
    table: ImportTable,
    extra_optimizers: frozenset[str],
    rules: list[type[FileRule]],
    classes: dict[str, ClassSummary],
) -> tuple[list[Finding], list[Question]]:
    """Run the script-order rules on the file's libcst tree (parsed only for them: CPython's parser
    has already accepted the file, so libcst's native parser will not meet nesting it cannot take);
    the tree rules' questions wait for the project's classes."""
    from libcst.metadata import MetadataWrapper, PositionProvider  # loads libcst: only for these files

    try:
        tree = cst.parse_module(text)
    except cst.ParserSyntaxError:
        # CPython parsed it: libcst's tokenizer read its tabs or form feeds otherwise (see reindent.py)
        copy = Reindented.of(text)
        if copy is None:
            raise
        findings, questions = _file_findings(path, copy.text, table, extra_optimizers, rules, classes)
        return [copy.restore(f) for f in findings], [copy.restore_question(q) for q in questions]
    positions: dict[cst.CSTNode, CodeRange] = {}

    def span(node: cst.CSTNode) -> tuple[int, int, int, int]:
        if not positions:  # computed only for files that have something to report
            positions.update(MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider))
        where = positions[node]
        return where.start.line, where.start.column + 1, where.end.line, where.end.column + 1

    context = FileContext(
        imports=table,
        position=lambda node: span(node)[:2],
        extra_optimizers=extra_optimizers,
        span=span,
        source=Source(text),
        classes=classes,
    )
    findings, questions = [], []
    for rule in rules:
        for node, message, *fix in rule().check(tree, context):
            line, col, end_line, end_col = span(node)
            findings.append(Finding(path, line, col, rule.code, message, end_line, end_col, fix[0] if fix else None))
        if issubclass(rule, TreeRule):
            for node, model, qualified in rule().ask(tree, context):
                questions.append(Question(rule.code, *span(node), model, qualified))
    return findings, questions


def _prepare_fixes(
    classes: list[tuple[ast.ClassDef, ClassSummary]], text: str, table: ImportTable, rules: list[type[Rule]]
) -> None:
    """Point each class the class rules may judge (those creating tensors or building torch built-ins) at its
    name, and let each class rule prepare its fix for each class creating tensors."""
    class_rules = [rule for rule in rules if issubclass(rule, ClassRule)]
    source: Source | None = None  # split into lines only for files with such a class
    for node, summary in classes:
        if not (summary.tensors or "builtins" in summary.protocol):  # INI004 judges the built-ins a class builds
            continue
        source = source or Source(text)
        _point_at_name(node, summary, source)
        if summary.tensors:
            for rule in class_rules:
                fix = rule.prepare_fix(node, summary, source, table)
                if fix is not None:
                    summary.fixes[rule.code] = fix


def _point_at_name(node: ast.ClassDef, summary: ClassSummary, source: Source) -> None:
    """Move the class's position from ``class`` to its name, where ruff and pyright point; not when a
    backslash puts the name on the next line (a ``# noqa`` is written on the keyword's line)."""
    line = source.line(node.lineno)
    after = _AFTER_CLASS.match(line, summary.col - 1)
    if after is not None and line.startswith(node.name, after.end()):
        summary.col, summary.end_col = after.end() + 1, after.end() + 1 + len(node.name)


def _error(path: str, module: str, line: int, col: int, message: str) -> FileSummary:
    finding = Finding(path, line, col, "INI900", f"this file {message}", line, col)
    return FileSummary(path=path, module=module, findings=[finding])
