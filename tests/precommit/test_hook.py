"""The pre-commit hook, run by real pre-commit against this repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRE_COMMIT = shutil.which("pre-commit") or str(Path(sys.executable).with_name("pre-commit"))

pytestmark = pytest.mark.skipif(not Path(PRE_COMMIT).exists(), reason="pre-commit is not installed")

BASE = """\
import torch
from torch import nn


class Base(nn.Module):
    def reset_parameters(self) -> None:
        for p in self.parameters():
            nn.init.normal_(p)
"""
CHILD = """\
import torch
from torch import nn

from pkg.base import Base


class Child(Base):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.empty(3))


class Broken(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1))
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def pre_commit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PRE_COMMIT, *args], cwd=repo, capture_output=True, text=True, timeout=600)


def test_manifest_is_valid() -> None:
    result = pre_commit(ROOT, "validate-manifest", ".pre-commit-hooks.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hook_fails_then_passes_and_resolves_bases_in_unstaged_files(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "base.py").write_text(BASE)
    (repo / "pkg" / "child.py").write_text(CHILD)
    git(repo, "init", "-q")
    git(repo, "add", ".")

    failed = pre_commit(repo, "try-repo", str(ROOT), "initlint", "--all-files")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "pkg/child.py:13:7: INI001 `Broken` creates parameter `gain`" in failed.stdout
    assert "Child" not in failed.stdout  # its reset_parameters comes from pkg/base.py

    fixed = CHILD.replace("class Broken(nn.Module):", "class Broken(Base):")
    (repo / "pkg" / "child.py").write_text(fixed)
    git(repo, "add", ".")
    # Only child.py is passed to the hook, as when it alone is staged: Base still resolves.
    passed = pre_commit(repo, "try-repo", str(ROOT), "initlint", "--files", "pkg/child.py")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout


SCRIPT = """\
import torch
from torch.distributed.fsdp import fully_shard


def build(model):
    optimizer = torch.optim.AdamW(model.parameters())
    fully_shard(model)
    return optimizer
"""


def test_hook_with_fix_rewrites_staged_files(tmp_path: Path) -> None:
    """``args: [--fix]``: the safe fix is written, pre-commit fails the commit because a file changed,
    and the next run passes."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("this checkout is not a git repository")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "train.py").write_text(SCRIPT)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {head.stdout.strip()}\n    hooks:\n"
        "      - id: initlint\n        args: [--fix]\n"
    )
    git(repo, "init", "-q")
    git(repo, "add", ".")
    first = pre_commit(repo, "run", "--all-files")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "files were modified by this hook" in first.stdout
    assert (repo / "train.py").read_text() == SCRIPT.replace(
        "    optimizer = torch.optim.AdamW(model.parameters())\n    fully_shard(model)\n",
        "    fully_shard(model)\n    optimizer = torch.optim.AdamW(model.parameters())\n",
    )
    git(repo, "add", ".")
    second = pre_commit(repo, "run", "--all-files")
    assert second.returncode == 0, second.stdout + second.stderr


def test_autoupdate_freeze_pins_the_newest_commit_of_an_untagged_repository(tmp_path: Path) -> None:
    """docs/pre-commit.md: with no release tagged, `pre-commit autoupdate --freeze` writes a commit hash."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("this checkout is not a git repository")
    if subprocess.run(["git", "-C", str(ROOT), "tag"], capture_output=True, text=True).stdout.strip():
        pytest.skip("the repository has tags: autoupdate takes the newest one")
    (tmp_path / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: placeholder\n    hooks:\n      - id: initlint\n"
    )
    git(tmp_path, "init", "-q")
    updated = pre_commit(tmp_path, "autoupdate", "--freeze", "--repo", str(ROOT))
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert f"rev: {head.stdout.strip()}" in (tmp_path / ".pre-commit-config.yaml").read_text()
