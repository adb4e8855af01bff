"""Findings, fixes and noqa directives as LSP values: diagnostics, text edits, code actions.

Positions: initlint counts 1-based lines and characters, LSP 0-based lines and units of the
negotiated position encoding (UTF-16 unless the client offers another); lines end at ``\\n``,
``\\r\\n`` or ``\\r`` in both (``Source`` splits them as the LSP specification does).
"""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from initlint.lint.noqa import noqa_edits
from initlint.lint.rules import RULES_BY_CODE
from initlint.lint.source import Source
from initlint.lint.summary import Edit, Finding

__all__ = ["FIX_ALL", "Document", "diagnostic", "code_actions", "fix_all_action", "kind_wanted"]

SOURCE = "initlint"
FIX_ALL = "source.fixAll.initlint"


class Document:
    """One version of a document's text, converting between initlint's positions and LSP's."""

    def __init__(self, uri: str, version: int | None, text: str, encoding: str = "utf-16") -> None:
        self.uri = uri
        self.version = version
        self.text = text
        self.source = Source(text)
        self.encoding = encoding

    def position(self, line: int, col: int) -> types.Position:
        """The LSP position of 1-based ``line:col`` (characters); past the end: the end."""
        offset = self.source.offset(max(line, 1), max(col, 1))
        number = self.source.line_at(offset)
        prefix = self.text[self.source.starts[number - 1] : offset]
        return types.Position(line=number - 1, character=self._units(prefix))

    def _units(self, text: str) -> int:
        if self.encoding == types.PositionEncodingKind.Utf8:
            return len(text.encode("utf-8"))
        if self.encoding == types.PositionEncodingKind.Utf32:
            return len(text)
        return len(text.encode("utf-16-le")) // 2

    def text_edit(self, edit: Edit) -> types.TextEdit:
        """An initlint edit as an LSP one."""
        return types.TextEdit(
            range=types.Range(start=self.position(edit.line, edit.col), end=self.position(edit.end_line, edit.end_col)),
            new_text=edit.content,
        )

    def workspace_edit(self, edits: Sequence[types.TextEdit], versioned: bool) -> types.WorkspaceEdit:
        """The edits to this document, as ``documentChanges`` (with its version) when the client takes them."""
        if versioned:
            identifier = types.OptionalVersionedTextDocumentIdentifier(uri=self.uri, version=self.version)
            return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=identifier, edits=list(edits))])
        return types.WorkspaceEdit(changes={self.uri: list(edits)})

    def whole_change(self, new_text: str) -> types.TextEdit:
        """One edit turning this text into ``new_text``: the span between their common start and end."""
        old = self.text
        start = 0
        while start < min(len(old), len(new_text)) and old[start] == new_text[start]:
            start += 1
        end = 0
        while end < min(len(old), len(new_text)) - start and old[-1 - end] == new_text[-1 - end]:
            end += 1
        first, last = self._at(start), self._at(len(old) - end)
        return types.TextEdit(range=types.Range(start=first, end=last), new_text=new_text[start : len(new_text) - end])

    def _at(self, offset: int) -> types.Position:
        number = self.source.line_at(offset)
        return self.position(number, offset - self.source.starts[number - 1] + 1)


def diagnostic(document: Document, finding: Finding) -> types.Diagnostic:
    """A finding as an LSP diagnostic (an empty span widened to the end of its line)."""
    start = document.position(finding.line, finding.col)
    end = document.position(finding.end_line or finding.line, finding.end_col or finding.col)
    if end == start:
        line = document.source.line(finding.line).rstrip("\r\n")
        end = document.position(finding.line, len(line) + 1)
    rule = RULES_BY_CODE.get(finding.code)
    return types.Diagnostic(
        range=types.Range(start=start, end=end),
        message=finding.message,
        severity=types.DiagnosticSeverity.Error if finding.code == "INI900" else types.DiagnosticSeverity.Warning,
        code=finding.code,
        code_description=types.CodeDescription(href=rule.docs_url()) if rule is not None else None,
        source=SOURCE,
    )


def kind_wanted(kind: str, only: Sequence[str] | None) -> bool:
    """Whether a code action of ``kind`` answers a request for the kinds ``only`` (hierarchical: asking for
    ``source`` gets ``source.fixAll.initlint``)."""
    return only is None or any(kind == wanted or kind.startswith(f"{wanted}.") for wanted in only)


def code_actions(
    document: Document, findings: Sequence[Finding], wanted: types.Range,
    context: Sequence[types.Diagnostic], versioned: bool,
) -> list[types.CodeAction]:
    """The quick fixes for the findings in range ``wanted`` (or among the ``context`` diagnostics): each
    fix (safe ones preferred, unsafe ones labelled), and "Disable INIxxx for this line"."""
    actions: list[types.CodeAction] = []
    asked = {(d.code, d.range.start.line, d.range.start.character) for d in context}
    for finding in findings:
        shown = diagnostic(document, finding)
        where = shown.range
        near = (where.start.line, where.start.character) <= (wanted.end.line, wanted.end.character) and (
            wanted.start.line, wanted.start.character) <= (where.end.line, where.end.character)
        if not near and (finding.code, where.start.line, where.start.character) not in asked:
            continue
        if finding.fix is not None:
            safe = finding.fix.applicability == "safe"
            title = f"{finding.fix.message}{'' if safe else ' (unsafe fix: review the change)'}"
            edits = [document.text_edit(edit) for edit in finding.fix.edits]
            actions.append(types.CodeAction(
                title=title, kind=types.CodeActionKind.QuickFix, diagnostics=[shown], is_preferred=safe,
                edit=document.workspace_edit(edits, versioned),
            ))
        noqa, refused = noqa_edits(document.text, {finding.line: [finding.code]})
        if not refused:
            actions.append(types.CodeAction(
                title=f"Disable {finding.code} for this line", kind=types.CodeActionKind.QuickFix, diagnostics=[shown],
                edit=document.workspace_edit([document.text_edit(edit) for edit in noqa], versioned),
            ))
    return actions


def fix_all_action(document: Document, fixed_text: str, versioned: bool) -> types.CodeAction | None:
    """``source.fixAll.initlint``: the document with its safe fixes applied (``None``: nothing to fix)."""
    if fixed_text == document.text:
        return None
    edit = document.workspace_edit([document.whole_change(fixed_text)], versioned)
    return types.CodeAction(title="initlint: fix all safely fixable problems", kind=FIX_ALL, edit=edit)
