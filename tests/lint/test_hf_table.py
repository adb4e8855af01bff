"""The table of the base class's ``_init_weights`` is generated from the pinned transformers and must match it."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_table_matches_installed_transformers() -> None:
    from initlint.lint.protocols.hf_table import TRANSFORMERS_VERSION

    try:
        installed = importlib.metadata.version("transformers")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("transformers is not installed")
    if installed != TRANSFORMERS_VERSION:
        pytest.skip(f"table is for transformers {TRANSFORMERS_VERSION}, installed {installed}")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_hf_table.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_table_knows_the_default_branches() -> None:
    from initlint.lint.protocols.hf_table import BASE_INIT_WEIGHTS, PRETRAINED_BASES

    assert "transformers.PreTrainedModel" in PRETRAINED_BASES
    text = repr(BASE_INIT_WEIGHTS)
    for piece in ("'torch.nn.Linear'", "'torch.nn.Embedding'", "['name', 'in', 'RMSNorm']", "['write', 'inv_freq']"):
        assert piece in text
