"""Source text by lines: what fixes need to turn tree positions into edits.

``ast`` counts columns in UTF-8 bytes, libcst in characters, and an ``Edit`` in characters; this is
the one place that converts, and that knows a line's indentation.
"""

from __future__ import annotations

import ast
import bisect
import re

from initlint.lint.summary import Edit

__all__ = ["Source"]

_LINE_END = re.compile(r"\r\n|\r|\n")


class Source:
    """The text of one file, split into lines that keep their line endings."""

    def __init__(self, text: str) -> None:
        self.text = text
        ends = list(_LINE_END.finditer(text))
        self.starts = [0] + [m.end() for m in ends]  # offset of each line's first character
        self.lines = [text[start:end] for start, end in zip(self.starts, [*self.starts[1:], len(text)])]
        self.newline = ends[0].group() if ends else "\n"

    def line_at(self, offset: int) -> int:
        """The 1-based line holding character ``offset``."""
        return bisect.bisect_right(self.starts, offset)

    def offset(self, line: int, col: int) -> int:
        """The character offset of 1-based ``line:col`` (past the end: the end)."""
        if line > len(self.starts):
            return len(self.text)
        return min(self.starts[line - 1] + col - 1, len(self.text))

    def line(self, number: int) -> str:
        """Line ``number`` (1-based) with its line ending; ``""`` past the end."""
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    def indent(self, number: int) -> str:
        """The leading whitespace of line ``number``."""
        line = self.line(number)
        return line[: len(line) - len(line.lstrip(" \t"))]

    def char_col(self, number: int, byte_col: int) -> int:
        """The 1-based character column of an ``ast`` (0-based, UTF-8 byte) column on line ``number``."""
        return len(self.line(number).encode("utf-8")[:byte_col].decode("utf-8", errors="replace")) + 1

    def segment(self, node: ast.AST) -> str:
        """The source of an ``ast`` node, as written (``ast.get_source_segment`` splits the whole file
        on every call)."""
        first, last = node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]
        if first == last:
            line = self.line(first).encode("utf-8")
            return line[node.col_offset : node.end_col_offset].decode("utf-8")  # type: ignore[attr-defined]
        head = self.line(first).encode("utf-8")[node.col_offset :].decode("utf-8")  # type: ignore[attr-defined]
        tail = self.line(last).encode("utf-8")[: node.end_col_offset].decode("utf-8")  # type: ignore[attr-defined]
        return head + "".join(self.lines[first : last - 1]) + tail

    def replace(self, node: ast.AST, content: str) -> Edit:
        """An edit replacing an ``ast`` node's text."""
        line, end_line = node.lineno, node.end_lineno or node.lineno  # type: ignore[attr-defined]
        col = self.char_col(line, node.col_offset)  # type: ignore[attr-defined]
        end_col = self.char_col(end_line, node.end_col_offset or 0)  # type: ignore[attr-defined]
        return Edit(line, col, end_line, end_col, content)

    def lines_text(self, first: int, last: int) -> str:
        """Lines ``first`` to ``last``, joined, with their line endings."""
        text = "".join(self.lines[first - 1 : last])
        return text if text.endswith(("\n", "\r")) else text + self.newline

    def delete_lines(self, first: int, last: int) -> Edit:
        """An edit removing whole lines ``first`` to ``last``."""
        return Edit(first, 1, last + 1, 1, "")

    def insert_lines(self, before: int, text: str) -> Edit:
        """An edit inserting whole lines before line ``before`` (past the end: at the end)."""
        if before > len(self.lines) or (before == len(self.lines) and not self.lines[-1]):
            last = self.lines[-1] if self.lines else ""
            if last and not last.endswith(("\n", "\r")):
                text = self.newline + text
        return Edit(before, 1, before, 1, text)
