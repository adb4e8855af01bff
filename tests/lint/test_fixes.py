"""Each rule's fixes, from its own INVALID examples: the fix turns ``code`` into ``fixed``, the fixed
code parses, no longer draws the finding, and fixing it again changes nothing."""

from __future__ import annotations

import ast
import subprocess
import sys
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
    (finding,) = [
        f for f in lint_tree(tmp_path / "before", {"example.py": example.code}, select=[rule.code]) if f.code == rule.code
    ]
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


BUILT = [
    pytest.param(example, id=f"{rule.code}-invalid-{i}")
    for rule in ALL_RULES
    for i, example in enumerate(rule.INVALID)
    if example.build and example.fixed is not None
]


def _tensors(code: str, build: str, seed: int) -> dict[str, object]:
    import torch

    namespace: dict[str, object] = {}
    exec(compile(code, "<example>", "exec"), namespace)  # the rule's own example, written by us
    torch.manual_seed(seed)
    module = eval(build, namespace)
    return {**dict(module.named_parameters()), **dict(module.named_buffers())}


@pytest.mark.parametrize("example", BUILT)
def test_fixed_module_draws_the_same_distribution(example) -> None:
    """Build the example and its fixed twin under many seeds and compare their tensors."""
    pytest.importorskip("torch")
    seeds = range(40)
    before = [_tensors(example.code, example.build, seed) for seed in seeds]
    after = [_tensors(example.fixed, example.build, seed) for seed in seeds]
    _assert_same_distribution(before, after)


def test_fix_of_real_torch_code_keeps_the_distribution(tmp_path: Path) -> None:
    """torch's own test models (pinned torch 2.13), fixed by ``initlint --fix --unsafe-fixes``."""
    torch = pytest.importorskip("torch")
    original = Path(torch.__file__).parent / "testing" / "_internal" / "quantization_torch_package_models.py"
    code = original.read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "models.py").write_text(code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "initlint.cli", "models.py", "--fix", "--unsafe-fixes", "--select", "INI001"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    fixed = (tmp_path / "models.py").read_text(encoding="utf-8")
    assert fixed.count("def reset_parameters(self) -> None:") == 2
    for build in ("LinearReluFunctionalChild(16)", "LinearReluFunctional(16)"):
        before = [_tensors(code, build, seed) for seed in range(40)]
        after = [_tensors(fixed, build, seed) for seed in range(40)]
        _assert_same_distribution(before, after)


def _assert_same_distribution(before: list[dict], after: list[dict]) -> None:
    """Every tensor has the same shape, dtype and ``requires_grad``; constants are equal; random values
    have the same mean, spread and range over the builds."""
    import torch

    assert before[0].keys() == after[0].keys()
    for name in before[0]:
        old = torch.stack([t[name].detach() for t in before]).double()
        new = torch.stack([t[name].detach() for t in after]).double()
        first = before[0][name]
        assert (after[0][name].shape, after[0][name].dtype) == (first.shape, first.dtype), name
        assert after[0][name].requires_grad == first.requires_grad, name
        if torch.equal(old[0], old[1]):  # a constant: zeros, ones, full
            assert torch.equal(old, new), name
            continue
        spread = old.std().item()
        assert abs(old.mean().item() - new.mean().item()) < 0.1 * spread, name
        assert abs(spread - new.std().item()) < 0.1 * spread, name
        assert abs(old.min().item() - new.min().item()) < 0.5 * spread, name
        assert abs(old.max().item() - new.max().item()) < 0.5 * spread, name


def test_examples_with_fixes_build_modules() -> None:
    assert BUILT, "at least one fix example must be built and compared"
