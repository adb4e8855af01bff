"""Output formats: each a pure function from the findings to the text printed."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from initlint.__about__ import __version__

if TYPE_CHECKING:  # the CLI imports this module for the format names; a run imports the summaries itself
    from initlint.lint.summary import Finding, Fix

__all__ = ["FORMATS", "format_text", "format_json", "format_sarif", "format_github", "format_statistics"]


def _rules() -> dict:
    """The rules by code, imported only by the formats that name them (the text format does not)."""
    from initlint.lint.rules import RULES_BY_CODE

    return RULES_BY_CODE


def format_text(findings: Sequence[Finding], unsafe_fixes: bool = False, fixed: int = 0) -> str:
    """``path:line:col: CODE [*] message``, one a line (``[*]``: ``--fix`` can fix it), and a count.

    Args:
        unsafe_fixes: unsafe fixes count as fixable (``--unsafe-fixes``).
        fixed: how many findings ``--fix`` fixed in this run.
    """
    lines = [
        f"{f.path}:{f.line}:{f.col}: {f.code} {'[*] ' if (f.fix is not None and f.fix.applies(unsafe_fixes)) else ''}{f.message}"
        for f in findings
    ]
    if findings or fixed:
        total = len(findings) + fixed
        counts = f" ({fixed} fixed, {len(findings)} remaining)" if fixed else ""
        lines.append(f"Found {total} error{'s' if total != 1 else ''}{counts}.")
    fixable = sum((f.fix is not None and f.fix.applies(unsafe_fixes)) for f in findings)
    hidden = sum(f.fix is not None for f in findings) - fixable
    hint = f"({hidden} hidden {'fix' if hidden == 1 else 'fixes'} can be enabled with the `--unsafe-fixes` option)."
    if fixable:
        lines.append(f"[*] {fixable} fixable with the `--fix` option" + (f" {hint}" if hidden else "."))
    elif hidden:
        lines.append(f"No fixes available {hint}")
    return "\n".join(lines) + ("\n" if lines else "")


def _fix_json(fix: Fix | None) -> dict[str, object] | None:
    """A fix as ruff's JSON output writes it."""
    if fix is None:
        return None
    return {
        "applicability": fix.applicability,
        "message": fix.message,
        "edits": [
            {
                "content": edit.content,
                "location": {"row": edit.line, "column": edit.col},
                "end_location": {"row": edit.end_line, "column": edit.end_col},
            }
            for edit in fix.edits
        ],
    }


def format_json(findings: Sequence[Finding]) -> str:
    """A JSON array of findings, each with its rule's name and docs URL."""
    items = [
        {
            "path": f.path,
            "line": f.line,
            "col": f.col,
            "end_line": f.end_line or f.line,
            "end_col": f.end_col or f.col,
            "code": f.code,
            "name": _rules()[f.code].name,
            "message": f.message,
            "url": _rules()[f.code].docs_url(),
            "fix": _fix_json(f.fix),
        }
        for f in findings
    ]
    return json.dumps(items, indent=2) + "\n"


def format_github(findings: Sequence[Finding]) -> str:
    """GitHub Actions workflow commands, shown as annotations on the pull request."""
    return "".join(
        f"::error title=initlint ({f.code}),file={_escape_property(f.path)},line={f.line},col={f.col},"
        f"endLine={f.end_line or f.line}::{_escape_data(f.code + ' ' + f.message)}\n"
        for f in findings
    )


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_sarif(findings: Sequence[Finding]) -> str:
    """SARIF 2.1.0, as GitHub code scanning accepts it."""
    rules = [
        {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.what_it_does},
            "fullDescription": {"text": rule.why_bad},
            "helpUri": rule.docs_url(),
            "defaultConfiguration": {"level": "error"},
        }
        for rule in _rules().values()
    ]
    order = {code: i for i, code in enumerate(_rules())}
    results = [
        {
            "ruleId": f.code,
            "ruleIndex": order[f.code],
            "level": "error",
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path.replace("\\", "/")},
                        "region": {
                            "startLine": f.line,
                            "startColumn": f.col,
                            "endLine": f.end_line or f.line,
                            "endColumn": f.end_col or f.col,
                        },
                    }
                }
            ],
        } | _sarif_fixes(f)
        for f in findings
    ]
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "initlint",
                        "version": __version__,
                        "informationUri": "https://initlint.readthedocs.io",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def _sarif_fixes(finding: Finding) -> dict[str, object]:
    """SARIF's ``fixes`` property: the edits as replacements of regions of the file."""
    if finding.fix is None:
        return {}
    replacements = [
        {
            "deletedRegion": {
                "startLine": edit.line,
                "startColumn": edit.col,
                "endLine": edit.end_line,
                "endColumn": edit.end_col,
            },
            "insertedContent": {"text": edit.content},
        }
        for edit in finding.fix.edits
    ]
    uri = finding.path.replace("\\", "/")
    return {
        "fixes": [
            {
                "description": {"text": f"{finding.fix.message} ({finding.fix.applicability})"},
                "artifactChanges": [{"artifactLocation": {"uri": uri}, "replacements": replacements}],
            }
        ]
    }


def format_statistics(findings: Sequence[Finding]) -> str:
    """A count per rule, most frequent first (``--statistics``)."""
    counts = Counter(f.code for f in findings)
    return "".join(
        f"{count:>5}\t{code}\t{_rules()[code].name}\n"
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    )


FORMATS: dict[str, Callable[..., str]] = {
    "text": format_text,
    "json": format_json,
    "sarif": format_sarif,
    "github": format_github,
}
