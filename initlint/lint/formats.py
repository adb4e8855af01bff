"""Output formats: each a pure function from the findings to the text printed."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence

from initlint.__about__ import __version__
from initlint.lint.rules import RULES_BY_CODE
from initlint.lint.summary import Finding

__all__ = ["FORMATS", "format_text", "format_json", "format_sarif", "format_github", "format_statistics"]


def format_text(findings: Sequence[Finding]) -> str:
    """``path:line:col: CODE message``, one a line, and a count."""
    lines = [f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}" for f in findings]
    if findings:
        lines.append(f"Found {len(findings)} error{'s' if len(findings) != 1 else ''}.")
    return "\n".join(lines) + ("\n" if lines else "")


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
            "name": RULES_BY_CODE[f.code].name,
            "message": f.message,
            "url": RULES_BY_CODE[f.code].docs_url(),
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
        for rule in RULES_BY_CODE.values()
    ]
    order = {code: i for i, code in enumerate(RULES_BY_CODE)}
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
        }
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


def format_statistics(findings: Sequence[Finding]) -> str:
    """A count per rule, most frequent first (``--statistics``)."""
    counts = Counter(f.code for f in findings)
    return "".join(
        f"{count:>5}\t{code}\t{RULES_BY_CODE[code].name}\n"
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    )


FORMATS: dict[str, Callable[[Sequence[Finding]], str]] = {
    "text": format_text,
    "json": format_json,
    "sarif": format_sarif,
    "github": format_github,
}
