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


_BUILDS = {
    "torch.nn.MultiheadAttention": lambda nn: nn.MultiheadAttention(8, 2),
    "torch.nn.TransformerEncoderLayer": lambda nn: nn.TransformerEncoderLayer(8, 2, dim_feedforward=8),
    "torch.nn.TransformerDecoderLayer": lambda nn: nn.TransformerDecoderLayer(8, 2, dim_feedforward=8),
    "torch.nn.Transformer": lambda nn: nn.Transformer(8, 2, 1, 1, dim_feedforward=8),
    "torch.nn.Linear": lambda nn: nn.Linear(4, 4),
    "torch.nn.LSTM": lambda nn: nn.LSTM(4, 4),
    "torch.nn.GRU": lambda nn: nn.GRU(4, 4),
    "torch.nn.Conv2d": lambda nn: nn.Conv2d(2, 2, 3),
    "torch.nn.BatchNorm1d": lambda nn: nn.BatchNorm1d(4),
    "torch.nn.Embedding": lambda nn: nn.Embedding(4, 4),
    "torch.nn.LayerNorm": lambda nn: nn.LayerNorm(4),
    "torch.nn.Bilinear": lambda nn: nn.Bilinear(2, 2, 2),
}


@pytest.mark.parametrize("name", sorted(_BUILDS))
def test_reset_loop_misses_match_execution(name: str) -> None:
    """Build on meta, ``to_empty``, NaN-fill, call every ``reset_parameters()``: what stays NaN is
    what ``RESET_LOOP_MISSES`` lists (by class and tensor name)."""
    torch = pytest.importorskip("torch")
    import warnings

    from initlint.lint.torch_table import RESET_LOOP_MISSES

    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = True
    try:
        with warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")
            model = _BUILDS[name](torch.nn)
        model.to_empty(device="cpu")
        for module in model.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
        left = {
            f"{type(owner).__name__}.{tensor}"
            for path, owner in model.named_modules()
            for tensor, value in [*owner.named_parameters(recurse=False), *owner.named_buffers(recurse=False)]
            if value.is_floating_point() and bool(torch.isnan(value).any())
        }
    finally:
        torch.use_deterministic_algorithms(False)
        torch.utils.deterministic.fill_uninitialized_memory = False
    assert left <= set(RESET_LOOP_MISSES.get(name, ())), left
    assert bool(left) == (name in RESET_LOOP_MISSES)
