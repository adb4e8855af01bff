"""Each rule's fixes, from its own INVALID examples: the fix turns ``code`` into ``fixed``, the fixed
code parses, no longer draws the finding, and fixing it again changes nothing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from initlint.lint.fixer import apply_fixes
from initlint.lint.rules import ALL_RULES

from .helpers import lint_tree

CASES = [
    pytest.param(rule, example, id=f"{rule.code}-invalid-{i}")
    for rule in ALL_RULES
    for i, example in enumerate(rule.INVALID)
]


@pytest.mark.parametrize(("rule", "example"), CASES)
def test_fix_of_example(tmp_path: Path, rule: type, example) -> None:
    (finding,) = [f for f in lint_tree(tmp_path / "before", {"example.py": example.code}) if f.code == rule.code]
    if example.fixed is None:
        assert finding.fix is None, "the rule offers a fix the example does not show"
        return
    assert finding.fix is not None, "the example shows a fix the rule does not offer"
    assert finding.fix.applicability == ("unsafe" if rule.fix_is_unsafe() else "safe")
    fixed, applied = apply_fixes(example.code, [finding.fix])
    assert applied == [finding.fix]
    assert fixed == example.fixed
    ast.parse(fixed)
    after = lint_tree(tmp_path / "after", {"example.py": fixed})
    assert [f for f in after if f.code == rule.code] == []
    assert [f for f in after if f.fix is not None] == [], "fixing twice would change the code again"


def test_every_fixing_rule_documents_its_safety() -> None:
    for rule in ALL_RULES:
        if any(example.fixed is not None for example in rule.INVALID):
            assert rule.fix_safety.startswith(("Safe.", "Unsafe.")), rule.code
