"""``--fix``, ``--unsafe-fixes`` and ``--diff`` as a user runs them, and what writing files must never do:
write without being asked, write half a file, lose a file's mode, line endings, BOM or symlink."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_cli import BROKEN, run

SCRIPT = """\
import torch
from torch.distributed.fsdp import fully_shard

def build(model):
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    fully_shard(model)
    return optimizer
"""
SCRIPT_FIXED = """\
import torch
from torch.distributed.fsdp import fully_shard

def build(model):
    fully_shard(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    return optimizer
"""
BROKEN_FIXED = """\
import torch
from torch import nn

class Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.gain.fill_(1)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "scale.py").write_text(BROKEN)
    (tmp_path / "train.py").write_text(SCRIPT)
    return tmp_path


def test_plain_run_marks_fixable_findings_and_writes_nothing(project: Path) -> None:
    code, out, _ = run(["."], project)
    assert code == 1
    assert "train.py:5:17: INI003 [*] optimizer" in out
    assert "scale.py:4:7: INI001 `Scale`" in out  # unsafe: no mark without --unsafe-fixes
    assert "[*] 1 fixable with the `--fix` option (1 hidden fix can be enabled with the `--unsafe-fixes` option)." in out
    assert (project / "train.py").read_text() == SCRIPT and (project / "scale.py").read_text() == BROKEN


def test_fix_applies_safe_fixes_only(project: Path) -> None:
    code, out, _ = run([".", "--fix"], project)
    assert code == 1  # the unsafe INI001 fix was not applied
    assert (project / "train.py").read_text() == SCRIPT_FIXED
    assert (project / "scale.py").read_text() == BROKEN
    assert "Found 2 errors (1 fixed, 1 remaining)." in out


def test_unsafe_fixes_and_idempotence(project: Path) -> None:
    code, out, err = run([".", "--fix", "--unsafe-fixes"], project)
    assert (code, out) == (0, "Found 2 errors (2 fixed, 0 remaining).\n"), err
    assert (project / "scale.py").read_text() == BROKEN_FIXED
    assert (project / "train.py").read_text() == SCRIPT_FIXED
    code, out, err = run([".", "--fix", "--unsafe-fixes"], project)
    assert code == 0 and "All checks passed" in err
    assert (project / "scale.py").read_text() == BROKEN_FIXED


def test_diff_prints_and_writes_nothing(project: Path) -> None:
    code, out, err = run([".", "--diff", "--unsafe-fixes"], project)
    assert code == 1
    assert "--- scale.py\n+++ scale.py\n" in out and "+        self.reset_parameters()\n" in out
    assert "-    optimizer = torch.optim.AdamW" in out or "+    fully_shard(model)" in out
    assert "Would fix 2 errors in 2 files." in err
    assert (project / "train.py").read_text() == SCRIPT and (project / "scale.py").read_text() == BROKEN
    (project / "scale.py").write_text(BROKEN_FIXED)
    (project / "train.py").write_text(SCRIPT_FIXED)
    assert run([".", "--diff"], project)[:2] == (0, "")


def test_diff_counts_one_file_in_the_singular(project: Path) -> None:
    assert run(["train.py", "--diff"], project)[2].endswith("Would fix 1 error in 1 file.\n")


def test_fix_keeps_mode_line_endings_bom_and_symlinks(project: Path) -> None:
    real = project / "real"
    real.mkdir()
    (real / "train.py").write_bytes(b"\xef\xbb\xbf" + SCRIPT.replace("\n", "\r\n").encode())
    os.chmod(real / "train.py", 0o754)
    (project / "train.py").unlink()
    (project / "train.py").symlink_to(real / "train.py")
    run(["train.py", "--fix"], project)
    assert (project / "train.py").is_symlink()
    data = (real / "train.py").read_bytes()
    assert data == b"\xef\xbb\xbf" + SCRIPT_FIXED.replace("\n", "\r\n").encode()
    assert stat.S_IMODE((real / "train.py").stat().st_mode) == 0o754
    assert [p.name for p in real.iterdir()] == ["train.py"]  # no temporary file left behind


def test_unwritable_file_is_an_error_and_stays_whole(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import initlint.lint.writeback as writeback

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(writeback.tempfile, "mkstemp", refuse)
    code, _, err = run(["train.py", "--fix"], project)
    assert code == 2
    assert "train.py: cannot write the fixes: Permission denied" in err
    assert (project / "train.py").read_text() == SCRIPT


def test_killed_fix_run_leaves_every_file_whole(tmp_path: Path) -> None:
    """Kill ``initlint --fix`` at several moments: each file is the original or the fixed text, whole."""
    (tmp_path / "pyproject.toml").write_text("")
    versions = {}
    for i in range(300):
        tail = "x = 1\n" * (i % 50 * 20)
        versions[tmp_path / f"m{i:03}.py"] = (
            BROKEN.replace("Scale", f"Scale{i}") + tail,
            BROKEN_FIXED.replace("Scale", f"Scale{i}") + tail,
        )
    for path, (original, _) in versions.items():
        path.write_text(original)
    command = [sys.executable, "-m", "initlint.cli", ".", "--unsafe-fixes", "--no-cache", "-j", "1"]
    started = time.perf_counter()
    subprocess.run([*command, "--diff"], cwd=tmp_path, capture_output=True)
    dry_run = time.perf_counter() - started  # about when --fix starts writing
    fixed_counts = []
    for share in (0.3, 0.6, 0.9, 1.2):
        process = subprocess.Popen(
            [*command, "--fix"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(dry_run * share)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        texts = {path: path.read_text() for path in versions}
        assert all(texts[path] in pair for path, pair in versions.items())
        fixed_counts.append(sum(texts[path] == pair[1] for path, pair in versions.items()))
    print("files fixed when killed:", fixed_counts)
    subprocess.run([*command, "--fix"], cwd=tmp_path, capture_output=True, check=True)
    assert all(path.read_text() == pair[1] for path, pair in versions.items())


def test_fix_that_would_break_the_file_is_not_written(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import initlint.lint.fixer as fixer

    def broken(text: str, fixes: list) -> tuple[str, list]:
        return text + "def (:\n", list(fixes)

    monkeypatch.setattr(fixer, "apply_fixes", broken)
    code, _, err = run(["train.py", "--fix"], project)
    assert code == 1
    assert "train.py: its fixes were not applied because the fixed code would not parse" in err
    assert (project / "train.py").read_text() == SCRIPT


# --- the file changed, or is not ours to write: never written (issue 21) ---------------------------


def test_file_saved_between_lint_and_write_is_left_alone(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An editor saves the file after the lint pass read it: the edits computed from the old text
    would land in the wrong places, so the file keeps the editor's text and the run fails."""
    import initlint.lint.fixer as fixer

    saved = "# a line the editor added\n" + SCRIPT
    lint_paths = fixer.lint_paths

    def lint_then_save(*args: object, **kwargs: object) -> object:
        result = lint_paths(*args, **kwargs)
        (project / "train.py").write_text(saved)
        return result

    monkeypatch.setattr(fixer, "lint_paths", lint_then_save)
    code, _, err = run(["train.py", "--fix"], project)
    assert code == 2
    assert "train.py: cannot write the fixes: it changed while fixing" in err
    assert (project / "train.py").read_text() == saved


def test_file_saved_between_read_and_write_is_left_alone(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last moment: the save lands after the fixer read the file, before it replaced it."""
    import initlint.lint.fixer as fixer

    saved = SCRIPT + "# saved meanwhile\n"
    apply_fixes = fixer.apply_fixes

    def apply_then_save(text: str, fixes: list) -> tuple[str, list]:
        (project / "train.py").write_text(saved)
        return apply_fixes(text, fixes)

    monkeypatch.setattr(fixer, "apply_fixes", apply_then_save)
    code, _, err = run(["train.py", "--fix"], project)
    assert code == 2 and "changed while fixing" in err
    assert (project / "train.py").read_text() == saved
    assert sorted(p.name for p in project.iterdir() if "initlint" in p.name) == [".initlint_cache"]


def test_add_noqa_skips_a_file_saved_meanwhile(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import initlint.lint.noqa as noqa

    saved = "# edited\n" + BROKEN
    lint_paths = noqa.lint_paths

    def lint_then_save(*args: object, **kwargs: object) -> object:
        result = lint_paths(*args, **kwargs)
        (project / "scale.py").write_text(saved)
        return result

    monkeypatch.setattr(noqa, "lint_paths", lint_then_save)
    code, _, err = run(["scale.py", "--add-noqa"], project)
    assert code == 2 and "scale.py: cannot add the noqa directives: it changed while fixing" in err
    assert (project / "scale.py").read_text() == saved


def test_read_only_file_is_an_error_even_in_a_writable_folder(project: Path) -> None:
    """Replacing by a rename would need only the folder's permission; a 0444 file is still not written
    (even by root, as editors ask before overwriting a read-only file)."""
    os.chmod(project / "train.py", 0o444)
    for args in (["train.py", "--fix"], ["train.py", "--add-noqa"]):
        code, _, err = run(args, project)
        assert code == 2
        assert "train.py: cannot" in err and "it is read-only (mode -r--r--r--)" in err
        assert (project / "train.py").read_text() == SCRIPT
        assert stat.S_IMODE((project / "train.py").stat().st_mode) == 0o444


def test_fix_keeps_hard_links_owner_and_group(project: Path) -> None:
    target = project / "train.py"
    link = project / "linked_train.py.txt"  # not a .py file: linted once
    os.link(target, link)
    if os.geteuid() == 0:  # only root may give a file away: check the owner survives the rewrite
        os.chown(target, 4321, 4322)
    before = target.stat()
    code, _, err = run(["train.py", "--fix"], project)
    assert code == 0, err
    after = target.stat()
    assert target.read_text() == SCRIPT_FIXED == link.read_text()  # the same file under both names
    assert (after.st_ino, after.st_nlink, after.st_uid, after.st_gid) == (
        before.st_ino, 2, before.st_uid, before.st_gid)
    assert not list(project.glob(".*initlint-*"))


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_fix_keeps_the_owner_of_a_file_with_one_link(project: Path) -> None:
    os.chown(project / "train.py", 4321, 4322)
    os.chmod(project / "train.py", 0o640)
    assert run(["train.py", "--fix"], project)[0] == 0
    after = (project / "train.py").stat()
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (4321, 4322, 0o640)
    assert (project / "train.py").read_text() == SCRIPT_FIXED


def test_interrupted_in_place_write_keeps_the_original(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hard-linked file is written in place; its original waits beside it until the new bytes are
    on disk. A failing write puts it back; a kill leaves the copy, and the next run will not touch the
    file until the user has looked."""
    import initlint.lint.writeback as writeback

    os.link(project / "train.py", project / "other_name")
    fsync, inode = os.fsync, (project / "train.py").stat().st_ino

    failed = []

    def disk_full(descriptor: int) -> None:  # once: when the new text of the file itself is flushed
        if os.fstat(descriptor).st_ino == inode and not failed:
            failed.append(descriptor)
            raise OSError(28, "No space left on device")
        fsync(descriptor)

    monkeypatch.setattr(writeback.os, "fsync", disk_full)
    code, _, err = run(["train.py", "--fix"], project)
    monkeypatch.undo()
    assert code == 2 and "No space left on device" in err
    assert (project / "train.py").read_text() == SCRIPT
    assert not writeback.backup_of(project / "train.py").exists()

    writeback.backup_of(project / "train.py").write_text(SCRIPT)  # as a kill mid-write leaves it
    code, _, err = run(["train.py", "--fix"], project)
    assert code == 2 and "an earlier fix of it was interrupted" in err and ".train.py.initlint-orig" in err
    assert (project / "train.py").read_text() == SCRIPT
