"""Property-based fuzzing: for any source text, findings or one INI900, never a traceback.

Bounded for CI; a longer run: ``INITLINT_FUZZ_EXAMPLES=5000 python -m pytest tests/reliability/test_fuzz.py``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from initlint.cli import cli
from initlint.lint.analyze import analyze_source
from initlint.lint.rules import RULES_BY_CODE

EXAMPLES = int(os.environ.get("INITLINT_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

# Fragments that steer random text towards what the rules look at.
FRAGMENTS = [
    "import torch\n", "from torch import nn\n", "import torch.nn as tnn\n", "class M(nn.Module):\n",
    "class L(nn.Linear):\n", "    def __init__(self):\n", "        super().__init__()\n",
    "        self.w = nn.Parameter(torch.ones(2))\n", "        self.register_buffer('b', torch.zeros(1), persistent=False)\n",
    "    def reset_parameters(self):\n", "        nn.init.zeros_(self.w)\n", "opt = torch.optim.Adam(model.parameters())\n",
    "fabric.setup(model)\n", "fully_shard(model)\n", "model.to_empty(device='cpu')\n", "with torch.device('meta'):\n",
    "    model = M()\n", "# noqa: INI001\n", "(", ")", "[", "]", ":", "\n", "    ", "\t", "'", '"', "\\", "\r", "\0", "\ufeff",
]
sources = st.one_of(
    st.text(),
    st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=5)), max_size=40).map("".join),
)


def check_summary(text: str) -> None:
    summary = analyze_source(text, "fuzz.py", "fuzz")
    errors = [f for f in summary.findings if f.code == "INI900"]
    assert len(errors) <= 1
    assert all(f.code in RULES_BY_CODE and f.line >= 1 and f.col >= 1 for f in summary.findings)


@FUZZ
@given(sources)
def test_any_text_gives_findings_or_one_ini900(text: str) -> None:
    check_summary(text)


try:
    import hypothesmith
except ImportError:  # pragma: no cover - optional
    hypothesmith = None


@pytest.mark.skipif(hypothesmith is None, reason="hypothesmith is not installed")
@FUZZ
@given(st.builds(lambda a, b: a + b, st.sampled_from(FRAGMENTS[:10]).map(str), hypothesmith.from_grammar() if hypothesmith else st.just("")))
def test_valid_python_never_fails_to_parse(text: str) -> None:
    check_summary(text)


@settings(max_examples=max(10, EXAMPLES // 10), deadline=None, suppress_health_check=list(HealthCheck))
@given(sources)
def test_cli_exit_code_is_0_1_or_2(text: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "pyproject.toml").write_text("")
        (root / "fuzz.py").write_bytes(text.encode("utf-8", "surrogatepass"))
        result = CliRunner().invoke(cli, [str(root / "fuzz.py"), "--no-cache", "-j", "1"])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
