"""``--add-noqa``: every reported line gets a directive Python reads as a comment, nothing else changes."""

from __future__ import annotations

import ast
import shutil
import stat
from pathlib import Path

import pytest

from initlint.config import Config
from initlint.lint.engine import lint_paths
from initlint.lint.fixer import apply_fixes
from initlint.lint.noqa import add_noqa_paths, noqa_edits
from initlint.lint.summary import Fix

from .test_cli import BROKEN, run
from .test_fix_cli import SCRIPT


def added(text: str, codes: dict[int, list[str]]) -> tuple[str, dict[int, str]]:
    edits, refused = noqa_edits(text, codes)
    return apply_fixes(text, [Fix("noqa", "safe", (e,)) for e in edits if e.content])[0], refused


@pytest.mark.parametrize(("line", "expected"), [
    ("x = f(1)\n", "x = f(1)  # noqa: INI003\n"),
    ("x = f(1)   \n", "x = f(1)  # noqa: INI003\n"),  # trailing blanks give way to the directive
    ("x = f(1)  # keep me\n", "x = f(1)  # keep me  # noqa: INI003\n"),
    ("x = f(1)  # noqa: E501\n", "x = f(1)  # noqa: E501, INI003\n"),
    ("x = f(1)  # noqa:E501,W291 because\n", "x = f(1)  # noqa:E501,W291, INI003 because\n"),
    ("x = f(1)  # noqa: INI003\n", "x = f(1)  # noqa: INI003\n"),  # already there: nothing added
    ("x = f('# noqa: E501')\n", "x = f('# noqa: E501')  # noqa: INI003\n"),  # a string is no comment
    ("x = f('#')  # a # b\n", "x = f('#')  # a # b  # noqa: INI003\n"),
    ("x = f(\n    1)\n", "x = f(  # noqa: INI003\n    1)\n"),  # inside brackets a comment may end the line
])
def test_directive_goes_where_python_reads_a_comment(line: str, expected: str) -> None:
    assert added(line, {1: ["INI003"]}) == (expected, {})


def test_codes_of_a_line_are_merged_sorted_once() -> None:
    assert added("class A(B):\n", {1: ["INI002", "INI001", "INI002"]})[0] == "class A(B):  # noqa: INI001, INI002\n"


def test_line_ending_inside_a_multiline_string_is_not_suppressible() -> None:
    text = 'x = f("""a\nb""")\ny = g(\n    1) \\\n    + 2\n'
    new, refused = added(text, {1: ["INI003"], 2: ["INI003"], 3: ["INI003"], 4: ["INI003"]})
    assert set(refused) == {1, 4}
    assert "closes on line 2" in refused[1] and "backslash" in refused[4]
    assert new == 'x = f("""a\nb""")  # noqa: INI003\ny = g(  # noqa: INI003\n    1) \\\n    + 2\n'
    assert ast.dump(ast.parse(new)) == ast.dump(ast.parse(text))


def test_crlf_line_endings_are_kept() -> None:
    assert added("a = 1\r\nx = f(1)  # c\r\n", {2: ["INI003"]})[0] == "a = 1\r\nx = f(1)  # c  # noqa: INI003\r\n"
    assert added("x = f(1)", {1: ["INI003"]})[0] == "x = f(1)  # noqa: INI003"  # no newline at the end


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "scale.py").write_text(BROKEN)
    (tmp_path / "train.py").write_text(SCRIPT)
    return tmp_path


def test_add_noqa_cli_is_idempotent_and_leaves_a_clean_run(project: Path) -> None:
    code, out, err = run([".", "--add-noqa"], project)
    assert (code, out) == (0, "") and "Added 2 noqa directives." in err
    assert "class Scale(nn.Module):  # noqa: INI001\n" in (project / "scale.py").read_text()
    assert "lr=3e-4)  # noqa: INI003\n" in (project / "train.py").read_text()
    assert run(["."], project)[0] == 0
    assert run([".", "--add-noqa"], project)[2].endswith("Added 0 noqa directives.\n")


def test_add_noqa_keeps_bom_crlf_and_mode(project: Path) -> None:
    path = project / "scale.py"
    path.write_bytes(b"\xef\xbb\xbf" + BROKEN.replace("\n", "\r\n").encode())
    path.chmod(0o755)
    assert "Added 1 noqa directive." in run(["scale.py", "--add-noqa"], project)[2]
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\r\n") == BROKEN.count("\n")
    assert b"class Scale(nn.Module):  # noqa: INI001\r\n" in data
    assert stat.S_IMODE(path.stat().st_mode) == 0o755


def test_unsuppressible_findings_are_named(project: Path) -> None:
    (project / "train.py").write_text(SCRIPT.replace("lr=3e-4)", 'lr=3e-4, name="""\n""")'))
    code, _, err = run(["train.py", "--add-noqa"], project)
    assert code == 1 and "Added 0 noqa directives." in err
    assert "train.py:5: INI003 cannot be suppressed with `# noqa`: the line ends inside a string" in err
    assert "per-file-ignores" in err


def test_add_noqa_with_fix_is_a_usage_error(project: Path) -> None:
    code, _, err = run([".", "--add-noqa", "--fix"], project)
    assert code == 2 and "--add-noqa cannot be combined with --fix" in err


@pytest.mark.slow
def test_add_noqa_on_timm(tmp_path: Path) -> None:
    """A real codebase with dozens of findings starts from zero, and only comments changed."""
    from .test_thirdparty import unpacked

    shutil.copytree(unpacked("timm==1.0.31") / "timm", tmp_path / "timm")
    config = Config(root=tmp_path)
    before = {p: ast.dump(ast.parse(p.read_text(encoding="utf-8"))) for p in (tmp_path / "timm").rglob("*.py")}
    found = lint_paths([tmp_path / "timm"], config).findings
    assert len(found) >= 24
    run_ = add_noqa_paths([tmp_path / "timm"], config)
    assert run_.unsuppressible == [] and run_.unwritable == {}
    assert run_.added == len({(f.path, f.line) for f in found})
    assert lint_paths([tmp_path / "timm"], config).findings == []
    assert {p: ast.dump(ast.parse(p.read_text(encoding="utf-8"))) for p in before} == before
    assert add_noqa_paths([tmp_path / "timm"], config).added == 0
