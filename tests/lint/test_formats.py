"""Each output format is a pure function of the findings, pinned here as a snapshot."""

from __future__ import annotations

import json

from initlint.__about__ import __version__
from initlint.lint.formats import format_github, format_json, format_sarif, format_statistics, format_text
from initlint.lint.summary import Edit, Finding, Fix

FINDINGS = [
    Finding("src/a.py", 4, 1, "INI001", "`A` creates parameter `w`", 4, 6),
    Finding("src/b,c.py", 9, 17, "INI003", "optimizer `opt`: 100% stale\nsee docs", 9, 40),
]
MOVE = Fix("Move `opt = ...` after `setup`", "safe", (Edit(9, 1, 10, 1, ""), Edit(12, 1, 12, 1, "opt = 1\n")))
TO_EMPTY = Fix("Use `to_empty`", "unsafe", (Edit(3, 7, 3, 17, "to_empty()"),))
FIXABLE = [
    Finding("a.py", 9, 7, "INI003", "stale", 9, 20, MOVE),
    Finding("b.py", 3, 1, "INI102", "meta", 3, 17, TO_EMPTY),
]


def test_text() -> None:
    assert format_text(FINDINGS) == (
        "src/a.py:4:1: INI001 `A` creates parameter `w`\n"
        "src/b,c.py:9:17: INI003 optimizer `opt`: 100% stale\nsee docs\n"
        "Found 2 errors.\n"
    )
    assert format_text([]) == ""


def test_text_marks_fixable_findings() -> None:
    assert format_text(FIXABLE) == (
        "a.py:9:7: INI003 [*] stale\n"
        "b.py:3:1: INI102 meta\n"
        "Found 2 errors.\n"
        "[*] 1 fixable with the `--fix` option (1 hidden fix can be enabled with the `--unsafe-fixes` option).\n"
    )
    assert format_text(FIXABLE, unsafe_fixes=True).splitlines()[1] == "b.py:3:1: INI102 [*] meta"
    assert format_text(FIXABLE[1:], fixed=3).splitlines()[-2:] == [
        "Found 4 errors (3 fixed, 1 remaining).",
        "No fixes available (1 hidden fix can be enabled with the `--unsafe-fixes` option).",
    ]
    assert format_text([FIXABLE[1], FIXABLE[1]]).splitlines()[-1] == (
        "No fixes available (2 hidden fixes can be enabled with the `--unsafe-fixes` option)."
    )


def test_github() -> None:
    assert format_github(FINDINGS) == (
        "::error title=initlint (INI001),file=src/a.py,line=4,col=1,endLine=4::INI001 `A` creates parameter `w`\n"
        "::error title=initlint (INI003),file=src/b%2Cc.py,line=9,col=17,endLine=9::"
        "INI003 optimizer `opt`: 100%25 stale%0Asee docs\n"
    )


def test_json() -> None:
    assert json.loads(format_json(FINDINGS[:1])) == [
        {
            "path": "src/a.py",
            "line": 4,
            "col": 1,
            "end_line": 4,
            "end_col": 6,
            "code": "INI001",
            "name": "module-without-reset-parameters",
            "message": "`A` creates parameter `w`",
            "url": "https://initlint.readthedocs.io/en/latest/rules/INI001/",
            "fix": None,
        }
    ]
    (fixable,) = json.loads(format_json(FIXABLE[:1]))
    assert fixable["fix"] == {
        "applicability": "safe",
        "message": "Move `opt = ...` after `setup`",
        "edits": [
            {"content": "", "location": {"row": 9, "column": 1}, "end_location": {"row": 10, "column": 1}},
            {"content": "opt = 1\n", "location": {"row": 12, "column": 1}, "end_location": {"row": 12, "column": 1}},
        ],
    }


def test_sarif() -> None:
    log = json.loads(format_sarif(FINDINGS[:1]))
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "initlint" and run["tool"]["driver"]["version"] == __version__
    assert run["results"] == [
        {
            "ruleId": "INI001",
            "ruleIndex": 0,
            "level": "error",
            "message": {"text": "`A` creates parameter `w`"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": "src/a.py"},
                        "region": {"startLine": 4, "startColumn": 1, "endLine": 4, "endColumn": 6},
                    }
                }
            ],
        }
    ]
    (result,) = json.loads(format_sarif(FIXABLE[1:]))["runs"][0]["results"]
    assert result["fixes"] == [
        {
            "description": {"text": "Use `to_empty` (unsafe)"},
            "artifactChanges": [
                {
                    "artifactLocation": {"uri": "b.py"},
                    "replacements": [
                        {
                            "deletedRegion": {"startLine": 3, "startColumn": 7, "endLine": 3, "endColumn": 17},
                            "insertedContent": {"text": "to_empty()"},
                        }
                    ],
                }
            ],
        }
    ]


def test_statistics() -> None:
    assert format_statistics(FINDINGS + FINDINGS[:1]) == (
        "    2\tINI001\tmodule-without-reset-parameters\n    1\tINI003\toptimizer-before-setup\n"
    )
