"""Indentation as CPython reads it, for libcst's tokenizer, which reads some of it differently.

CPython counts a tab as a move to the next multiple of 8 columns and lets a form feed reset the count
(``Tokenizer.c``); libcst's tokenizer rejects some files CPython accepts that way ("no matching outer
block for dedent": a tab after spaces, a form feed before a deeper indent). A file CPython parses must
never be reported unparsable, so the script-order rules read a copy whose leading whitespace is the
spaces CPython counted, and their findings are moved back to the columns of the original.
"""

from __future__ import annotations

import tokenize
from dataclasses import dataclass, replace

from initlint.lint.source import Source
from initlint.lint.summary import Finding, Fix, Question

__all__ = ["Reindented"]

_TAB = 8  # CPython's tab size for indentation


@dataclass(frozen=True)
class Reindented:
    """A text with its leading tabs and form feeds spelt as spaces, and the lines that changed:
    line -> (length of the original indentation, length of the new one)."""

    text: str
    shifts: dict[int, tuple[int, int]]

    @classmethod
    def of(cls, text: str) -> Reindented | None:
        """The copy, or ``None`` when no line's indentation holds a tab or form feed."""
        lines = list(Source(text).lines)  # split where Python ends lines (not at form feeds)
        inside = _string_lines(lines)
        shifts: dict[int, tuple[int, int]] = {}
        for number, line in enumerate(lines, start=1):
            indent = line[: len(line) - len(line.lstrip(" \t\f"))]
            if number in inside or not ("\t" in indent or "\f" in indent):
                continue
            spaces = " " * _columns(indent)
            lines[number - 1] = spaces + line[len(indent):]
            shifts[number] = (len(indent), len(spaces))
        return cls("".join(lines), shifts) if shifts else None

    def restore(self, finding: Finding) -> Finding:
        """A finding of the copy, at the original's columns (fix edits too)."""
        fix = finding.fix
        if fix is not None:
            fix = Fix(fix.message, fix.applicability, tuple(
                replace(edit, col=self._col(edit.line, edit.col), end_col=self._col(edit.end_line, edit.end_col))
                for edit in fix.edits))
        return replace(finding, col=self._col(finding.line, finding.col),
                       end_col=self._col(finding.end_line, finding.end_col) if finding.end_col else 0, fix=fix)

    def restore_question(self, question: Question) -> Question:
        """A tree rule's question of the copy, at the original's columns."""
        return replace(question, col=self._col(question.line, question.col),
                       end_col=self._col(question.end_line, question.end_col))

    def _col(self, line: int, col: int) -> int:
        shift = self.shifts.get(line)
        if shift is None or col <= 1:
            return col
        old, new = shift
        return col - new + old if col - 1 >= new else old + 1  # inside the indentation: where the code starts


def _columns(indent: str) -> int:
    """The column CPython's tokenizer reaches after ``indent``."""
    col = 0
    for char in indent:
        if char == " ":
            col += 1
        elif char == "\t":
            col = (col // _TAB + 1) * _TAB
        else:  # a form feed starts the count again
            col = 0
    return col


def _string_lines(lines: list[str]) -> set[int]:
    """The lines that begin inside a string (their leading whitespace is the string's content)."""
    inside: set[int] = set()
    opened: list[int] = []
    read = iter(lines)
    try:
        for token in tokenize.generate_tokens(lambda: next(read, "")):
            kind = tokenize.tok_name[token.type]
            if kind in ("FSTRING_START", "TSTRING_START"):
                opened.append(token.start[0])
            elif token.type == tokenize.STRING or kind in ("FSTRING_END", "TSTRING_END"):
                first = opened.pop() if kind != "STRING" and opened else token.start[0]
                inside.update(range(first + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass  # what was read so far stands; the rest is indentation as far as can be told
    return inside
