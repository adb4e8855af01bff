"""The docs: generated rule pages are current, the site builds strictly, the README stays honest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from initlint.lint.explain import explain
from initlint.lint.rules import ALL_RULES

ROOT = Path(__file__).resolve().parents[2]


def test_rule_pages_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_rule_docs.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_rule_page_is_what_initlint_rule_prints() -> None:
    for rule in ALL_RULES:
        assert (ROOT / "docs" / "rules" / f"{rule.code}.md").read_text(encoding="utf-8") == explain(rule)


def test_mkdocs_builds_strictly(tmp_path: Path) -> None:
    mkdocs = shutil.which("mkdocs") or str(Path(sys.executable).with_name("mkdocs"))
    if not Path(mkdocs).exists():
        pytest.skip("mkdocs is not installed")
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "rules" / "INI001" / "index.html").exists()
    # inline code breaks only at spaces (not "reinitiali|zed", "-|-diff"), and not at all in tables
    page = (tmp_path / "site" / "rules" / "index.html").read_text(encoding="utf-8")
    assert "stylesheets/extra.css" in page and "<th>Fixable</th>" in page
    css = (tmp_path / "site" / "stylesheets" / "extra.css").read_text(encoding="utf-8")
    assert "word-break: normal" in css and "code.nowrap" in css and "white-space: nowrap" in css
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert '<code class="nowrap">--diff</code>' in home  # scripts/mkdocs_hooks.py: one unbreakable word
    assert '<code class="nowrap">' not in home.split("<pre", 1)[1].split("</pre>", 1)[0]  # code blocks untouched


def test_rules_index_says_which_rules_are_fixable_and_no_maintainer_note() -> None:
    index = (ROOT / "docs" / "rules" / "index.md").read_text(encoding="utf-8")
    assert "generate_rule_docs" not in index
    rows = {line.split(" | ")[0].split("]")[0].lstrip("| ["): line.split(" | ")[-1].rstrip(" |")
            for line in index.splitlines() if line.startswith("| [INI")}
    assert rows == {
        rule.code: "`--unsafe-fixes`" if rule.fix_is_unsafe() else "`--fix`" if rule.fix_safety else "no"
        for rule in ALL_RULES
    }
    assert rows["INI003"] == "`--fix`" and rows["INI001"] == "`--unsafe-fixes`" and rows["INI002"] == "no"


def test_what_it_does_comes_in_readable_paragraphs() -> None:
    for rule in ALL_RULES:
        longest = max(len(paragraph) for paragraph in rule.what_it_does.split("\n\n"))
        assert longest <= 700, f"{rule.code}'s what_it_does has a {longest}-character paragraph: split it"


TEST_COMMAND = (
    'pip install -e ".[test]" && pip install --no-deps --no-build-isolation colossalai==0.5.0 && python -m pytest -n 2'
)


def test_readme_has_exactly_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line for line in readme.splitlines() if line.startswith("pip install")]
    assert commands == [
        'pip install -e ".[runtime]" torch==2.13.0 && initlint examples/; python examples/runtime_demo.py',
        TEST_COMMAND,
    ]
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text(encoding="utf-8")  # CI runs the README's command
