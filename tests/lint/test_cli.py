"""The command line, as a user runs it: output formats, exit codes, configuration, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from initlint.cli import cli

BROKEN = """\
import torch
from torch import nn

class Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1))
"""


def run(args: list[str], cwd: Path) -> tuple[int, str, str]:
    runner = CliRunner()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(cli, args, catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "scale.py").write_text(BROKEN)
    (tmp_path / "pkg" / "ok.py").write_text("import torch\nclass A:\n    pass\n")
    return tmp_path


def test_text_output_and_exit_code(project: Path) -> None:
    code, out, _ = run(["pkg"], project)
    assert code == 1
    first, summary, hint = out.splitlines()
    assert first.startswith("pkg/scale.py:4:7: INI001 `Scale` creates parameter `gain`")
    assert summary == "Found 1 error."
    assert hint == "No fixes available (1 hidden fix can be enabled with the `--unsafe-fixes` option)."


def test_clean_run_exits_zero(project: Path) -> None:
    code, out, err = run(["pkg/ok.py"], project)
    assert (code, out) == (0, "")
    assert err == "All checks passed! (1 file)\n"


def test_default_path_is_the_current_folder(project: Path) -> None:
    assert run([], project)[0] == 1


def test_json_format(project: Path) -> None:
    code, out, _ = run(["pkg", "--format", "json"], project)
    (item,) = json.loads(out)
    assert code == 1
    assert {k: item[k] for k in ("path", "line", "col", "end_line", "end_col", "code")} == {
        "path": "pkg/scale.py",
        "line": 4,
        "col": 7,  # the class's name, as ruff and pyright point, not the `class` keyword
        "end_line": 4,
        "end_col": 12,
        "code": "INI001",
    }
    assert "gain" in item["message"]
    assert item["url"].endswith("/rules/INI001/")


def test_sarif_format(project: Path) -> None:
    _, out, _ = run(["pkg", "--format", "sarif"], project)
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "INI001"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 4 and region["startColumn"] == 7
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert rules[result["ruleIndex"]]["id"] == "INI001" and rules[0]["helpUri"].startswith("https://")


def test_class_findings_point_at_the_name_however_it_is_written(project: Path) -> None:
    (project / "pkg" / "scale.py").write_text(BROKEN.replace("class Scale(", "@dataclass\n  \nclass\tÉchelle  ("))
    (project / "pkg" / "cont.py").write_text(BROKEN.replace("class Scale(", "class \\\n    Cont("))
    found = {item["path"]: item for item in json.loads(run(["pkg", "--format", "json"], project)[1])}
    assert [found["pkg/scale.py"][k] for k in ("line", "col", "end_line", "end_col")] == [6, 7, 6, 14]
    # the name on the next line: the keyword, whose line a `# noqa` is written on
    assert [found["pkg/cont.py"][k] for k in ("line", "col", "end_col")] == [4, 1, 6]


def test_github_format(project: Path) -> None:
    _, out, _ = run(["pkg", "--format", "github"], project)
    assert out.startswith("::error title=initlint (INI001),file=pkg/scale.py,line=4,col=7,endLine=4::INI001 ")


def test_statistics(project: Path) -> None:
    code, out, _ = run(["pkg", "--statistics"], project)
    assert code == 1 and out == "    1\tINI001\tmodule-without-reset-parameters\n"


def test_exit_zero(project: Path) -> None:
    assert run(["pkg", "--exit-zero"], project)[0] == 0


def test_select_and_ignore(project: Path) -> None:
    assert run(["pkg", "--select", "INI002"], project)[0] == 0
    assert run(["pkg", "--select", "INI0"], project)[0] == 1
    assert run(["pkg", "--ignore", "INI001"], project)[0] == 0


def test_unknown_code_is_a_usage_error(project: Path) -> None:
    code, _, err = run(["pkg", "--select", "INI777"], project)
    assert code == 2 and "unknown rule code 'INI777'" in err


def test_missing_path_is_exit_2(project: Path) -> None:
    code, _, err = run(["nope/"], project)
    assert code == 2 and "nope: no such file or directory" in err


def test_noqa_on_the_reported_line(project: Path) -> None:
    path = project / "pkg" / "scale.py"
    path.write_text(BROKEN.replace("class Scale(nn.Module):", "class Scale(nn.Module):  # noqa: INI001"))
    assert run(["pkg"], project)[0] == 0
    path.write_text(BROKEN.replace("class Scale(nn.Module):", "class Scale(nn.Module):  # noqa: INI002"))
    assert run(["pkg"], project)[0] == 1
    path.write_text(BROKEN.replace("class Scale(nn.Module):", "class Scale(nn.Module):  # noqa"))
    assert run(["pkg"], project)[0] == 0


def test_file_level_noqa(project: Path) -> None:
    (project / "pkg" / "scale.py").write_text("# initlint: noqa\n" + BROKEN)
    assert run(["pkg"], project)[0] == 0


def test_pyproject_configuration(project: Path) -> None:
    config = project / "pyproject.toml"
    config.write_text('[tool.initlint]\nignore = ["INI001"]\n')
    assert run(["pkg"], project)[0] == 0
    config.write_text('[tool.initlint]\nper-file-ignores = {"pkg/scale.py" = ["INI001"]}\n')
    assert run(["pkg"], project)[0] == 0
    config.write_text('[tool.initlint]\nexclude = ["scale.py"]\n')
    assert run(["pkg"], project)[0] == 0
    assert run(["pkg/scale.py"], project)[0] == 1  # named explicitly: linted
    assert run(["--force-exclude", "pkg/scale.py"], project)[0] == 0
    config.write_text('[tool.initlint]\ninit-methods = ["reset_parameters", "_init_weights"]\n')
    (project / "pkg" / "scale.py").write_text(BROKEN + "\n    def _init_weights(self):\n        self.gain.data.fill_(1)\n")
    assert run(["pkg"], project)[0] == 0


def test_extra_module_bases_and_optimizers(project: Path) -> None:
    (project / "pkg" / "scale.py").write_text(
        textwrap.dedent(
            """\
            import torch
            from mylib import Base, fused_adam
            from torch.distributed.fsdp import fully_shard

            class Scale(Base):
                def __init__(self):
                    super().__init__()
                    self.gain = torch.nn.Parameter(torch.ones(1))

            def main(model):
                opt = fused_adam.FusedAdam(model.parameters())
                fully_shard(model)
            """
        )
    )
    assert run(["pkg"], project)[0] == 0  # unknown base and optimizer: no guess
    (project / "pyproject.toml").write_text(
        '[tool.initlint]\nextra-module-bases = ["mylib.Base"]\nextra-optimizers = ["mylib.fused_adam.FusedAdam"]\n'
    )
    _, out, _ = run(["pkg"], project)
    assert [line.split()[1] for line in out.splitlines() if line.startswith("pkg")] == ["INI001", "INI003"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tool.initlint]\nselekt = []\n", "unknown key(s) in [tool.initlint]: selekt"),
        ("[tool.initlint]\nselect = 'INI001'\n", "select must be a list of strings"),
        ("[tool.initlint]\nignore = ['XYZ1']\n", "unknown rule code 'XYZ1'"),
        ("[tool.initlint\n", "cannot read it as TOML"),
    ],
)
def test_bad_configuration_is_exit_2(project: Path, text: str, message: str) -> None:
    (project / "pyproject.toml").write_text(text)
    code, _, err = run(["pkg"], project)
    assert code == 2 and message in err and "pyproject.toml" in err


def test_unparsable_files_give_one_ini900_each_and_the_run_goes_on(project: Path) -> None:
    (project / "pkg" / "syntax.py").write_text(
        "class A(nn.Module):\n    def f(self:\n        self.w = nn.Parameter(torch.ones(1))\n"
    )
    (project / "pkg" / "latin.py").write_bytes(b"class A:\n    x = '\xe9'\n")
    code, out, _ = run(["pkg"], project)
    lines = out.splitlines()
    assert code == 1
    assert any(line.startswith("pkg/latin.py:2:1: INI900 this file is not valid UTF-8") for line in lines)
    assert "pkg/syntax.py:2:10: INI900 this file could not be parsed: '(' was never closed" in lines
    assert any("INI001" in line for line in lines)


def test_rule_explains_itself(project: Path) -> None:
    code, out, _ = run(["rule", "INI002"], project)
    assert code == 0
    for heading in ("# incomplete-reset-parameters (INI002)", "## What it does", "## Why is this bad?",
                    "## Example", "## Use instead"):
        assert heading in out
    assert run(["rule", "INI999"], project)[0] == 2
    assert "INI003  optimizer-before-setup" in run(["rule", "--all"], project)[1]


def test_help_lists_each_command_with_a_whole_sentence(project: Path) -> None:
    code, out, _ = run(["--help"], project)
    commands = out.split("Commands:\n", 1)[1].splitlines()
    assert code == 0 and [line.split()[0] for line in commands] == ["check", "rule", "run", "server"]
    for line in commands:  # click cuts a long docstring at "e.g." or with "..."
        assert line.endswith(".") and not line.endswith("...") and "(e.g." not in line, line


def test_linter_never_imports_torch() -> None:
    code = "import sys, initlint.cli, initlint; initlint.cli.main" + "\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_importing_the_cli_reads_no_summaries_and_no_toml() -> None:
    """`initlint --help`, `--version` and `rule` pay for click and the format names only (issue 13's
    import target, 0.08 s); a lint run imports what it reads when it reads it."""
    heavy = ("initlint.lint.summary", "initlint.lint.engine", "initlint.lint.cache", "tomllib", "tomli")
    code = f"import sys, initlint.cli\nprint([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_libcst_is_imported_only_for_files_a_script_order_rule_reads(project: Path) -> None:
    """Class summaries come from ``ast``; libcst's 0.2 s import is paid only where it parses."""
    code = (
        "import sys\nfrom initlint.cli import main\nsys.argv = ['initlint', *sys.argv[1:], '--no-cache']\n"
        "try:\n    main()\nexcept SystemExit:\n    print('libcst' in sys.modules)"
    )
    lint = [sys.executable, "-c", code]
    out = subprocess.run([*lint, "pkg"], cwd=project, capture_output=True, text=True).stdout
    assert out.splitlines()[-1] == "False" and "INI001" in out
    (project / "train.py").write_text("import torch\nwith torch.device('meta'):\n    m = torch.nn.Linear(2, 2)\nm.cuda()\n")
    out = subprocess.run([*lint, "train.py"], cwd=project, capture_output=True, text=True).stdout
    assert out.splitlines()[-1] == "True" and "INI102" in out


def test_console_script_runs(project: Path) -> None:
    exe = Path(sys.executable).with_name("initlint")
    result = subprocess.run([str(exe), "pkg"], cwd=project, capture_output=True, text=True)
    assert result.returncode == 1 and "INI001" in result.stdout


def test_opt_in_rules_run_only_when_selected(tmp_path: Path) -> None:
    from initlint.lint.rules import RULES_BY_CODE

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "lit.py").write_text(RULES_BY_CODE["INI401"].INVALID[0].code)
    assert run(["lit.py"], tmp_path)[0] == 0
    code, out, _ = run(["lit.py", "--select", "INI401"], tmp_path)
    assert code == 1 and "lit.py:7:9: INI401 " in out
