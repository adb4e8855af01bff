"""Positions and diagnostics as plain JSON values, without pygls or lsprotocol.

The server answers its first document before pygls is loaded (``early.py``) and, once it is, through
lsprotocol's types (``convert.py``); both take their positions and diagnostics from here, so the two
can never disagree.
"""

from __future__ import annotations

from typing import Any

from initlint.lint.rules import RULES_BY_CODE
from initlint.lint.source import Source
from initlint.lint.summary import Finding

__all__ = ["Positions", "diagnostic_json", "SOURCE", "ERROR", "WARNING"]

SOURCE = "initlint"
ERROR, WARNING = 1, 2  # LSP DiagnosticSeverity


class Positions:
    """One text, converting initlint's 1-based lines and characters to LSP's 0-based lines and units of
    the negotiated position encoding (``utf-8``, ``utf-16`` or ``utf-32``)."""

    def __init__(self, text: str, encoding: str = "utf-16") -> None:
        self.text = text
        self.source = Source(text)
        self.encoding = encoding

    def at(self, line: int, col: int) -> tuple[int, int]:
        """The LSP ``(line, character)`` of 1-based ``line:col`` (characters); past the end: the end."""
        offset = self.source.offset(max(line, 1), max(col, 1))
        number = self.source.line_at(offset)
        prefix = self.text[self.source.starts[number - 1] : offset]
        return number - 1, self._units(prefix)

    def _units(self, text: str) -> int:
        if self.encoding == "utf-8":
            return len(text.encode("utf-8", "surrogatepass"))
        if self.encoding == "utf-32":
            return len(text)
        return len(text.encode("utf-16-le", "surrogatepass")) // 2


def diagnostic_json(positions: Positions, finding: Finding) -> dict[str, Any]:
    """A finding as an LSP ``Diagnostic`` (an empty span widened to the end of its line)."""
    start = positions.at(finding.line, finding.col)
    end = positions.at(finding.end_line or finding.line, finding.end_col or finding.col)
    if end == start:
        line = positions.source.line(finding.line).rstrip("\r\n")
        end = positions.at(finding.line, len(line) + 1)
    data: dict[str, Any] = {
        "range": {"start": {"line": start[0], "character": start[1]}, "end": {"line": end[0], "character": end[1]}},
        "message": finding.message,
        "severity": ERROR if finding.code == "INI900" else WARNING,
        "code": finding.code,
        "source": SOURCE,
    }
    rule = RULES_BY_CODE.get(finding.code)
    if rule is not None:
        data["codeDescription"] = {"href": rule.docs_url()}
    return data
