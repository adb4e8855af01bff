"""The bundled examples do what the README says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from initlint.config import Config
from initlint.lint.engine import lint_paths

ROOT = Path(__file__).resolve().parents[1]


def readme_shows(command: str) -> str:
    """What the README's "What you see" prints under ``$ command``: up to the next ``$`` line or the block's end."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.split(f"\n$ {command}\n", 1)[1].split("```", 1)[0].split("\n$ ", 1)[0]
    return shown.rstrip("\n") + "\n"


def test_readme_shows_what_initlint_prints() -> None:
    result = subprocess.run([sys.executable, "-m", "initlint", "examples/", "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert readme_shows("initlint examples/") == result.stdout, "paste the command's output into the README"


def test_broken_example_has_the_documented_findings() -> None:
    result = lint_paths([ROOT / "examples"], Config(root=ROOT))
    found = [(Path(f.path).relative_to(ROOT).as_posix(), f.line, f.code) for f in result.findings]
    assert found == [
        ("examples/broken/tinygpt/layers.py", 5, "INI001"),
        ("examples/broken/tinygpt/layers.py", 17, "INI001"),
        ("examples/broken/tinygpt/layers.py", 29, "INI002"),
        ("examples/broken/train.py", 14, "INI003"),
        ("examples/transformers_demo.py", 41, "INI004"),
    ]


def test_fixed_twin_is_clean() -> None:
    assert lint_paths([ROOT / "examples" / "fixed"], Config(root=ROOT)).findings == []


def test_runtime_demo_prints_the_report() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "runtime_demo.py")], capture_output=True, text=True, check=True
    )
    assert "missing=['head.weight']" in result.stdout
    assert "head (Linear):" in result.stdout and "never written" in result.stdout
    assert "Warning" not in result.stderr and "Error" not in result.stderr, result.stderr  # e.g. NumPy's
    assert readme_shows("python examples/runtime_demo.py") == result.stdout, "paste the demo's output into the README"


def test_the_readme_install_brings_numpy() -> None:
    """Without numpy, importing torch warns "Failed to initialize NumPy", which reads as an error: the
    README's first command installs the runtime extra, which brings numpy."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert any(requirement.startswith("numpy") for requirement in extras["runtime"])
    assert 'pip install -e ".[runtime]"' in (ROOT / "README.md").read_text(encoding="utf-8")


def test_transformers_demo_names_the_custom_parameter() -> None:
    pytest.importorskip("transformers")
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "transformers_demo.py")], capture_output=True, text=True, check=True
    )
    assert "block.scale = [nan" in result.stdout  # poison: what nobody wrote reads as NaN
    assert "block.scale: never written" in result.stdout and "block.lin" not in result.stdout
    # transformers imports DeepSpeed when it is installed (the test extras), which logs its accelerator on stdout
    shown = "".join(line for line in result.stdout.splitlines(keepends=True) if "[real_accelerator.py" not in line)
    assert readme_shows("python examples/transformers_demo.py") == shown, "paste its output into the README"


HIDE_TRANSFORMERS = """
import runpy, sys

class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("transformers", "safetensors"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Absent())
runpy.run_path(sys.argv[1], run_name="__main__")
"""


def test_transformers_demo_without_transformers_says_what_to_install() -> None:
    demo = ROOT / "examples" / "transformers_demo.py"
    result = subprocess.run([sys.executable, "-c", HIDE_TRANSFORMERS, str(demo)], capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "examples/transformers_demo.py needs torch, transformers and safetensors (No module named 'safetensors'). "
        'Install them: pip install transformers safetensors (or, in the clone, pip install -e ".[test]").\n'
    )
