"""Findings, fixes and noqa directives as LSP values: diagnostics, text edits, code actions.

Positions: initlint counts 1-based lines and characters, LSP 0-based lines and units of the
negotiated position encoding (UTF-16 unless the client offers another); lines end at ``\\n``,
``\\r\\n`` or ``\\r`` in both (``Source`` splits them as the LSP specification does).
"""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from initlint.lint.noqa import noqa_edits
from initlint.lint.summary import Edit, Finding
from initlint.server.positions import SOURCE, Positions, diagnostic_json

__all__ = ["FIX_ALL", "SOURCE", "Document", "diagnostic", "code_actions", "fix_all_action", "kind_wanted"]

FIX_ALL = "source.fixAll.initlint"


class Document(Positions):
    """One version of a document's text, converting between initlint's positions and LSP's."""

    def __init__(self, uri: str, version: int | None, text: str, encoding: str = "utf-16") -> None:
        super().__init__(text, encoding)
        self.uri = uri
        self.version = version

    def position(self, line: int, col: int) -> types.Position:
        """The LSP position of 1-based ``line:col`` (characters); past the end: the end."""
        number, character = self.at(line, col)
        return types.Position(line=number, character=character)

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
    """A finding as an LSP diagnostic (the values of ``positions.diagnostic_json``, typed)."""
    data = diagnostic_json(document, finding)
    where = data["range"]
    href = data.get("codeDescription", {}).get("href")
    return types.Diagnostic(
        range=types.Range(start=types.Position(**where["start"]), end=types.Position(**where["end"])),
        message=data["message"],
        severity=types.DiagnosticSeverity(data["severity"]),
        code=data["code"],
        code_description=types.CodeDescription(href=href) if href is not None else None,
        source=data["source"],
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
