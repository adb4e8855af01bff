"""The table of torch.nn built-ins is generated from the pinned torch and must match it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_table_matches_installed_torch() -> None:
    torch = pytest.importorskip("torch")
    from initlint.lint.torch_table import TORCH_VERSION

    if torch.__version__.split("+")[0] != TORCH_VERSION:
        pytest.skip(f"table is for torch {TORCH_VERSION}, installed {torch.__version__}")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_torch_table.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_table_knows_the_usual_suspects() -> None:
    from initlint.lint.torch_table import BUILTIN_MODULES

    assert BUILTIN_MODULES["torch.nn.Linear"] == (True, ("bias", "weight"))
    assert BUILTIN_MODULES["torch.nn.modules.linear.Linear"][0] is True
    assert BUILTIN_MODULES["torch.nn.MultiheadAttention"][0] is False  # only _reset_parameters
    assert BUILTIN_MODULES["torch.nn.Module"] == (False, ())
