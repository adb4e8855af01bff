"""Each output format is a pure function of the findings, pinned here as a snapshot."""

from __future__ import annotations

import json

from initlint.__about__ import __version__
from initlint.lint.formats import format_github, format_json, format_sarif, format_statistics, format_text
from initlint.lint.summary import Finding

FINDINGS = [
    Finding("src/a.py", 4, 1, "INI001", "`A` creates parameter `w`", 4, 6),
    Finding("src/b,c.py", 9, 17, "INI003", "optimizer `opt`: 100% stale\nsee docs", 9, 40),
]


def test_text() -> None:
    assert format_text(FINDINGS) == (
        "src/a.py:4:1: INI001 `A` creates parameter `w`\n"
        "src/b,c.py:9:17: INI003 optimizer `opt`: 100% stale\nsee docs\n"
        "Found 2 errors.\n"
    )
    assert format_text([]) == ""


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
        }
    ]


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


def test_statistics() -> None:
    assert format_statistics(FINDINGS + FINDINGS[:1]) == (
        "    2\tINI001\tmodule-without-reset-parameters\n    1\tINI003\toptimizer-before-setup\n"
    )
