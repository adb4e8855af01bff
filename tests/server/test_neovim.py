"""docs/editors.md's Neovim 0.7 configuration, run by a real headless Neovim against ``initlint server``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NVIM = shutil.which("nvim")

pytestmark = pytest.mark.skipif(NVIM is None, reason="Neovim (nvim) is not installed")

TRAIN = """\
import torch
from torch import nn
from torch.distributed.fsdp import fully_shard


class Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1))


def build(model):
    optimizer = torch.optim.AdamW(model.parameters())
    fully_shard(model)
    return optimizer
"""

# Wait for the diagnostics, write them down, apply "fix all" (0.7 has no `apply`: pick the first action),
# write the buffer's lines once it changed, and quit.
CHECK = """
vim.api.nvim_create_autocmd("VimEnter", { callback = function()
  local buf = vim.api.nvim_get_current_buf()
  local out = os.getenv("INITLINT_NVIM_OUT")
  vim.wait(60000, function() return #vim.diagnostic.get(buf) >= 2 end, 50)
  local seen = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(seen, string.format("%d:%d-%d %s %s", d.lnum, d.col, d.end_col, d.code, d.source))
  end
  table.sort(seen)
  vim.fn.writefile(seen, out .. "/diagnostics")
  local before = vim.api.nvim_buf_get_changedtick(buf)
  vim.ui.select = function(items, _, on_choice) on_choice(items[1], 1) end
  vim.lsp.buf.code_action({ only = { "source.fixAll.initlint" } })
  vim.wait(30000, function() return vim.api.nvim_buf_get_changedtick(buf) ~= before end, 50)
  vim.fn.writefile(vim.api.nvim_buf_get_lines(buf, 0, -1, false), out .. "/fixed")
  vim.cmd("qa!")
end })
"""


def neovim_07_config() -> str:
    """The Lua block docs/editors.md gives for Neovim 0.7."""
    text = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
    after = text.split("On 0.7 (", 1)[1]
    return re.search(r"```lua\n(.*?)```", after, re.S).group(1)


def test_neovim_07_config_shows_diagnostics_and_fixes_all(tmp_path: Path) -> None:
    version = subprocess.run([NVIM, "--version"], capture_output=True, text=True).stdout.split()[1]
    project, bin_dir, out = tmp_path / "project", tmp_path / "bin", tmp_path / "out"
    for folder in (project, bin_dir, out):
        folder.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (project / "train.py").write_text(TRAIN)
    # the config says `initlint server`: this checkout's initlint under that name
    (bin_dir / "initlint").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m initlint "$@"\n')
    (bin_dir / "initlint").chmod(0o755)
    (tmp_path / "init.lua").write_text(neovim_07_config() + CHECK)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # no user configuration, state or plugins
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "INITLINT_NVIM_OUT": str(out),
    }
    result = subprocess.run([NVIM, "--headless", "-i", "NONE", "-u", str(tmp_path / "init.lua"), "train.py"],
                            cwd=project, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"Neovim {version}: " + result.stdout + result.stderr
    assert (out / "diagnostics").read_text().splitlines() == [
        "12:16-53 INI003 initlint",  # `torch.optim.AdamW(...)`
        "5:6-11 INI001 initlint",  # the class's name, `Scale`
    ], f"Neovim {version}"
    fixed = (out / "fixed").read_text()
    assert "    fully_shard(model)\n    optimizer = torch.optim.AdamW(model.parameters())\n" in fixed  # INI003, safe
    assert "reset_parameters" not in fixed  # INI001's fix is unsafe: fix all leaves it
