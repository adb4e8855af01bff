"""Each rule's own VALID/INVALID examples are its first tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from initlint.lint.rules import ALL_RULES
from initlint.lint.rules.base import Invalid, Valid

from .helpers import lint_tree

CASES = [
    pytest.param(rule, example, id=f"{rule.code}-{'valid' if isinstance(example, Valid) else 'invalid'}-{i}")
    for rule in ALL_RULES
    for i, example in enumerate((*rule.VALID, *rule.INVALID))
]


@pytest.mark.parametrize(("rule", "example"), CASES)
def test_example(tmp_path: Path, rule: type, example: Valid | Invalid) -> None:
    findings = [f for f in lint_tree(tmp_path, {"example.py": example.code}, select=[rule.code]) if f.code == rule.code]
    if isinstance(example, Valid):
        assert findings == [], findings
        return
    assert len(findings) == 1, findings
    finding = findings[0]
    if example.line is not None:
        assert finding.line == example.line, finding
    for mention in example.mentions:
        assert mention in finding.message, finding.message


def test_every_rule_has_examples() -> None:
    for rule in ALL_RULES:
        assert rule.VALID and rule.INVALID, rule.code


def test_codes_are_unique_and_well_formed() -> None:
    import re

    codes = [rule.code for rule in ALL_RULES]
    assert len(codes) == len(set(codes))
    names = [rule.name for rule in ALL_RULES]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[A-Z]{1,3}[0-9]{0,3}", code) for code in codes)
