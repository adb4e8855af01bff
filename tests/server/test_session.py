"""The linter side of the server, in-process: open buffers over the disk, files changed on disk,
configuration changes, excluded files, fix-all."""

from __future__ import annotations

import os
from pathlib import Path

from initlint.server.session import Session

from .test_lsp import BASE, BASE_WITH_RESET, BROKEN, CHILD, SCRIPT, SCRIPT_FIXED


def codes(session: Session, path: Path, buffers: dict[Path, str] | None = None) -> list[str]:
    return [f.code for f in session.lint(path, {path: path.read_text(), **(buffers or {})})]


def touch_later(path: Path, text: str) -> None:
    """Write ``text`` with a later modification time (file systems with coarse clocks included)."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_buffers_stand_for_their_files_and_the_disk_is_read_again(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "base.py").write_text(BASE)
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    session = Session(cache=False)
    assert codes(session, child) == ["INI001"]
    assert codes(session, child, {tmp_path / "base.py": BASE_WITH_RESET}) == []
    assert codes(session, child) == ["INI001"]  # the buffer was closed: the file counts again
    touch_later(tmp_path / "base.py", BASE_WITH_RESET)
    assert codes(session, child) == []


def test_configuration_is_reread_when_it_changes(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    path = tmp_path / "scale.py"
    path.write_text(BROKEN)
    session = Session(cache=False)
    assert codes(session, path) == ["INI001"]
    touch_later(tmp_path / "pyproject.toml", '[tool.initlint]\nignore = ["INI001"]\n')
    assert codes(session, path) == []
    touch_later(tmp_path / "pyproject.toml", '[tool.initlint]\nexclude = ["scale.py"]\n')
    assert codes(session, path) == []


def test_fix_all_leaves_the_overlays_as_they_were(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    path = tmp_path / "train.py"
    path.write_text("")
    session = Session(cache=False)
    fixed, done = session.fix_all(path, {path: SCRIPT})
    assert fixed == SCRIPT_FIXED and [f.code for f in done] == ["INI003"]
    assert codes(session, path, {path: SCRIPT}) == ["INI003"]


def test_index_steps_cover_every_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    for number in range(70):
        (tmp_path / f"m{number}.py").write_text("x = 1\n")
    steps = list(Session(cache=False).index_steps(tmp_path))
    assert [(done, total) for done, total, _ in steps] == [(0, 70), (16, 70), (32, 70), (48, 70), (64, 70)]
    for _, _, step in steps:
        step()
