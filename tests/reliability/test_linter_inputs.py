"""The linter on every kind of bad input: one clear message each, never a traceback, nothing run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from initlint.cli import cli
from initlint.config import Config
from initlint.lint import engine
from initlint.lint.engine import lint_paths

MODULE = "import torch\nfrom torch import nn\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.w = nn.Parameter(torch.ones(1))\n"


def lint_file(tmp_path: Path, name: str, data: bytes | str) -> list[str]:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    (tmp_path / "pyproject.toml").touch()
    return [f"{f.line}:{f.col}: {f.code} {f.message}" for f in lint_paths([path], Config(root=tmp_path)).findings]


def cli_run(args: list[str], cwd: Path) -> tuple[int, str, str]:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, args)
    finally:
        os.chdir(old)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_syntax_error(tmp_path: Path) -> None:
    assert lint_file(tmp_path, "a.py", MODULE + "    def broken(:\n") == [
        "8:16: INI900 this file could not be parsed: invalid syntax",
    ]


def test_python2_file(tmp_path: Path) -> None:
    (finding,) = lint_file(tmp_path, "a.py", MODULE + '        print "py2"\n')
    assert finding.startswith("8:") and "INI900 this file could not be parsed" in finding


def test_not_utf8(tmp_path: Path) -> None:
    assert lint_file(tmp_path, "a.py", MODULE.encode() + b"# caf\xe9\n") == [
        "8:1: INI900 this file is not valid UTF-8 (byte 0xe9 at offset 156); initlint reads Python source as UTF-8"
    ]


def test_utf8_bom_is_fine(tmp_path: Path) -> None:
    assert lint_file(tmp_path, "a.py", b"\xef\xbb\xbf" + MODULE.encode()) == [
        "4:7: INI001 `M` creates parameter `w` but defines no `reset_parameters()`; under empty or meta-device "
        "init these stay uninitialized. Add a `reset_parameters()` that initializes them, and call it from `__init__`."
    ]


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_crlf_and_cr_line_endings(tmp_path: Path, newline: str) -> None:
    (finding,) = lint_file(tmp_path, "a.py", MODULE.replace("\n", newline))
    assert finding.startswith("4:7: INI001")


def test_nul_byte(tmp_path: Path) -> None:
    assert lint_file(tmp_path, "a.py", MODULE + "x = '\0'\n") == ["8:1: INI900 this file contains a NUL byte"]


def test_empty_file(tmp_path: Path) -> None:
    assert lint_file(tmp_path, "a.py", "") == []


def test_five_megabyte_generated_file(tmp_path: Path) -> None:
    blob = "BLOB = [\n" + "".join(f"    {'0123456789abcdef' * 16!r},\n" for _ in range(19_000)) + "]\n"
    source = MODULE + blob
    assert len(source) > 5_000_000
    (finding,) = lint_file(tmp_path, "generated.py", source)
    assert finding.startswith("4:7: INI001 `M` creates parameter `w`")


def test_deeply_nested_expression(tmp_path: Path) -> None:
    deep = "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    findings = lint_file(tmp_path, "deep.py", MODULE + deep)
    assert len(findings) == 1 and "INI900" in findings[0] or findings[0].startswith("4:7: INI001")


def test_deeply_nested_calls_in_a_method(tmp_path: Path) -> None:
    deep = "        y = " + "f(" * 900 + "1" + ")" * 900 + "\n"
    findings = lint_file(tmp_path, "deep.py", MODULE + deep)
    assert len(findings) == 1


def test_directory_named_like_a_python_file(tmp_path: Path) -> None:
    (tmp_path / "x.py").mkdir()
    (tmp_path / "x.py" / "m.py").write_text(MODULE)
    (tmp_path / "pyproject.toml").touch()
    code, out, _ = cli_run(["."], tmp_path)
    assert code == 1 and "x.py/m.py:4:7: INI001" in out


def test_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(MODULE)
    os.symlink(tmp_path / "pkg", tmp_path / "pkg" / "loop")
    os.symlink(tmp_path / "nowhere.py", tmp_path / "pkg" / "dangling.py")
    (tmp_path / "pyproject.toml").touch()
    code, out, _ = cli_run(["pkg"], tmp_path)
    assert code == 1
    assert out.splitlines()[:2] == [
        "pkg/dangling.py:1:1: INI900 this file cannot be read: No such file or directory",
        out.splitlines()[1],
    ]
    assert sum("INI001" in line for line in out.splitlines()) == 1  # the loop is not followed


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text(MODULE)
    path.chmod(0)
    assert lint_file(tmp_path, "b.py", "") == []
    findings = [f.message for f in lint_paths([path], Config(root=tmp_path)).findings]
    assert findings == ["this file cannot be read: Permission denied"]


def test_missing_path(tmp_path: Path) -> None:
    code, _, err = cli_run(["missing.py"], tmp_path)
    assert (code, err.strip()) == (2, "initlint: error: missing.py: no such file or directory")


def test_file_deleted_during_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.py").write_text(MODULE)
    (tmp_path / "b.py").write_text(MODULE)
    (tmp_path / "pyproject.toml").touch()
    real = engine.Project.analyze

    def delete_first(self: engine.Project, paths: list[Path], need_classes: bool = False) -> None:
        (tmp_path / "a.py").unlink(missing_ok=True)
        real(self, paths, need_classes)

    monkeypatch.setattr(engine.Project, "analyze", delete_first)
    found = [(Path(f.path).name, f.code, f.message) for f in lint_paths([tmp_path], Config(root=tmp_path)).findings]
    assert found[0] == ("a.py", "INI900", "this file cannot be read: No such file or directory")
    assert found[1][:2] == ("b.py", "INI001")


def test_broken_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.initlint\n")
    (tmp_path / "a.py").write_text(MODULE)
    code, _, err = cli_run(["a.py"], tmp_path)
    assert code == 2 and err.startswith(f"initlint: error: {tmp_path / 'pyproject.toml'}: cannot read it as TOML")


def test_unknown_code_in_select(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(MODULE)
    code, _, err = cli_run(["a.py", "--select", "INI001,E501"], tmp_path)
    assert code == 2 and "unknown rule code 'E501'" in err


def test_never_imports_or_runs_what_it_reads(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    hostile = (
        f"import pathlib, os, sys\npathlib.Path({str(marker)!r}).write_text('x')\nos._exit(3)\n"
        "raise SystemExit(4)\n" + MODULE + "__import__('os').system('touch ran2')\n"
    )
    (tmp_path / "evil.py").write_text(hostile)
    (tmp_path / "conftest.py").write_text(hostile)
    (tmp_path / "pyproject.toml").touch()
    code, out, _ = cli_run(["."], tmp_path)
    assert code == 1 and out.count("INI001") == 2
    assert not marker.exists() and not (tmp_path / "ran2").exists()


# --- valid Python that libcst's tokenizer reads otherwise (issue 21) ---------------------------------

@pytest.mark.parametrize("source, normalised", [
    pytest.param(  # a tab after the spaces of the enclosing block (CPython counts it to column 8)
        'import torch\n\ndef main():\n    with torch.device("meta"):\n\t    model = torch.nn.Linear(4, 4)\n'
        '    model.to_empty(device="cpu")\n    print(model(torch.ones(1, 4)))\n',
        'import torch\n\ndef main():\n    with torch.device("meta"):\n            model = torch.nn.Linear(4, 4)\n'
        '    model.to_empty(device="cpu")\n    print(model(torch.ones(1, 4)))\n', id="tab-indentation"),
    pytest.param(  # a form feed at the start of a more deeply indented line (CPython restarts the count)
        'import torch\nif 1:\n\x0c if 2:\n  with torch.device("meta"):\n   model = torch.nn.Linear(4, 4)\n'
        '  model.to_empty(device="cpu")\n  print(model(torch.ones(1, 4)))\n',
        'import torch\nif 1:\n if 2:\n  with torch.device("meta"):\n   model = torch.nn.Linear(4, 4)\n'
        '  model.to_empty(device="cpu")\n  print(model(torch.ones(1, 4)))\n', id="form-feed"),
])
def test_file_cpython_parses_is_never_ini900(tmp_path: Path, source: str, normalised: str) -> None:
    import ast

    import libcst

    ast.parse(source)
    with pytest.raises(libcst.ParserSyntaxError):  # the trigger is real: libcst alone rejects it
        libcst.parse_module(source)
    found = lint_file(tmp_path, "odd.py", source)
    assert found == lint_file(tmp_path, "plain.py", normalised)
    assert found and not any("INI900" in f for f in found)


def test_columns_after_tabs_are_those_of_the_original(tmp_path: Path) -> None:
    source = ('import torch\n\ndef main():\n    if 1:\n\t    pass\n    pass\n\n'  # the trigger
              'def other():\n\twith torch.device("meta"):\n\t\tm = torch.nn.Linear(4, 4)\n'
              '\tm.to_empty(device="cpu")\n\tprint(m(torch.ones(1, 4)))\n')
    (finding,) = lint_file(tmp_path, "odd.py", source)
    assert finding.startswith("11:2: INI103")  # after the tab, not after the eight spaces it stands for


def test_internal_error_exits_2_not_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug of initlint's must not read as "findings" (1) to CI: 2, with the traceback and a sentence."""
    (tmp_path / "pyproject.toml").touch()
    (tmp_path / "m.py").write_text(MODULE)

    def bug(*args: object, **kwargs: object) -> None:
        raise KeyError("deps")

    monkeypatch.setattr(engine.Project, "analyze", bug)
    code, _, err = cli_run(["m.py", "--no-cache"], tmp_path)
    assert code == 2
    assert "Traceback" in err and "KeyError: 'deps'" in err and "internal error" in err


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="needs a file system that takes any bytes as a name")
def test_file_name_that_is_not_utf8_is_linted_cached_and_fixed(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").touch()
    name = os.fsdecode(b"caf\xe9.py")  # a surrogate escape in Python
    (tmp_path / name).write_text(MODULE)
    for args in ([".", "--format", "json"], [".", "--fix", "--unsafe-fixes"], ["."]):
        code, _, err = cli_run(args, tmp_path)
        assert code in (0, 1) and "Traceback" not in err, err
    assert code == 0  # fixed, and read from the cache again without a traceback
