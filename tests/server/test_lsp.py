"""``initlint server`` as an editor meets it: the real server process, LSP over its stdin/stdout."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pygls")

from initlint.server.convert import Document  # noqa: E402

from .lsp_client import SERVER, LspClient, apply_edit, edits_of, uri  # noqa: E402

BROKEN = """\
import torch
from torch import nn


class Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1))
"""
FIXED = BROKEN.replace("        self.gain = nn.Parameter(torch.ones(1))\n", """\
        self.gain = nn.Parameter(torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.ones_(self.gain)
""")
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
BASE = """\
from torch import nn


class Base(nn.Module):
    pass
"""
BASE_WITH_RESET = """\
from torch import nn


class Base(nn.Module):
    def reset_parameters(self) -> None:
        nn.init.ones_(self.gain)
"""
CHILD = """\
import torch
from torch import nn

from base import Base


class Child(Base):
    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "scale.py").write_text(BROKEN)
    (tmp_path / "train.py").write_text(SCRIPT)
    (tmp_path / "base.py").write_text(BASE)
    (tmp_path / "child.py").write_text(CHILD)
    return tmp_path


@pytest.fixture
def client(project: Path) -> Iterator[LspClient]:
    client = LspClient(cwd=project)
    client.initialize(project)
    yield client
    client.close()


def test_initialize_answers_the_capabilities(project: Path) -> None:
    client = LspClient(cwd=project)
    try:
        result = client.initialize(project)
    finally:
        client.close()
    capabilities = result["capabilities"]
    assert capabilities["textDocumentSync"] == {"openClose": True, "change": 2, "save": True}
    assert capabilities["codeActionProvider"]["codeActionKinds"] == ["quickfix", "source.fixAll.initlint"]
    assert capabilities["positionEncoding"] == "utf-16"
    assert result["serverInfo"]["name"] == "initlint"


def test_broken_module_is_reported_at_its_class_line_and_clears_when_fixed(client: LspClient, project: Path) -> None:
    path = project / "scale.py"
    client.open(path)
    (finding,) = client.diagnostics(path, version=1)
    assert finding["code"] == "INI001" and finding["source"] == "initlint"
    assert finding["range"] == {"start": {"line": 4, "character": 6}, "end": {"line": 4, "character": 11}}  # `Scale`
    assert finding["codeDescription"]["href"].endswith("/rules/INI001/")
    assert "`Scale` creates parameter `gain`" in finding["message"]
    client.change(path, FIXED, version=2)
    assert client.diagnostics(path, version=2) == []
    assert path.read_text() == BROKEN  # the unsaved text was linted, the file left alone


def test_incremental_changes_are_applied(client: LspClient, project: Path) -> None:
    path = project / "scale.py"
    client.open(path)
    assert [d["code"] for d in client.diagnostics(path, version=1)] == ["INI001"]
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": uri(path), "version": 2},
        "contentChanges": [{"range": {"start": {"line": 4, "character": 23}, "end": {"line": 4, "character": 23}},
                            "text": "  # noqa: INI001"}],
    })
    assert client.diagnostics(path, version=2) == []


def test_quick_fix_moves_the_optimizer_after_the_setup(client: LspClient, project: Path) -> None:
    path = project / "train.py"
    client.open(path)
    (finding,) = client.diagnostics(path, version=1)
    assert finding["code"] == "INI003" and finding["range"]["start"] == {"line": 5, "character": 16}
    actions = client.code_actions(path, finding)
    fix = next(a for a in actions if a.get("isPreferred"))
    assert fix["kind"] == "quickfix" and fix["title"] == "Move `optimizer = ...` after `fully_shard(model)`"
    assert fix["diagnostics"][0]["code"] == "INI003"
    assert fix["edit"]["documentChanges"][0]["textDocument"] == {"uri": uri(path), "version": 1}
    fixed = apply_edit(SCRIPT, edits_of(fix, path))
    assert fixed == SCRIPT_FIXED
    client.change(path, fixed, version=2)
    assert client.diagnostics(path, version=2) == []


def test_unsafe_fix_is_labelled_and_not_preferred(client: LspClient, project: Path) -> None:
    path = project / "scale.py"
    client.open(path)
    (finding,) = client.diagnostics(path, version=1)
    fix, noqa = client.code_actions(path, finding)
    assert fix["title"].endswith("(unsafe fix: review the change)") and not fix.get("isPreferred")
    assert noqa["title"] == "Disable INI001 for this line"


def test_noqa_action_adds_the_directive_and_silences_the_line(client: LspClient, project: Path) -> None:
    path = project / "scale.py"
    client.open(path)
    (finding,) = client.diagnostics(path, version=1)
    noqa = next(a for a in client.code_actions(path, finding) if a["title"] == "Disable INI001 for this line")
    silenced = apply_edit(BROKEN, edits_of(noqa, path))
    assert silenced.splitlines()[4] == "class Scale(nn.Module):  # noqa: INI001"
    client.change(path, silenced, version=2)
    assert client.diagnostics(path, version=2) == []


def test_fix_all_applies_the_safe_fixes_only(client: LspClient, project: Path) -> None:
    path = project / "train.py"
    text = BROKEN + "\n\n" + SCRIPT.replace("import torch\n", "")
    client.open(path, text)
    assert sorted(d["code"] for d in client.diagnostics(path, version=1)) == ["INI001", "INI003"]
    (action,) = client.code_actions(path, only=["source.fixAll"], whole=True)
    assert action["kind"] == "source.fixAll.initlint"
    fixed = apply_edit(text, edits_of(action, path))
    assert fixed == BROKEN + "\n\n" + SCRIPT_FIXED.replace("import torch\n", "")  # INI001's fix is unsafe
    assert client.code_actions(path, only=["quickfix"], whole=True)  # quick fixes are another kind
    assert all(a["kind"] == "quickfix" for a in client.code_actions(path, only=["quickfix"], whole=True))


def test_base_class_edited_in_another_buffer_is_seen(client: LspClient, project: Path) -> None:
    child, base = project / "child.py", project / "base.py"
    client.open(child)
    assert [d["code"] for d in client.diagnostics(child, version=1)] == ["INI001"]
    client.open(base, BASE_WITH_RESET)  # unsaved: the disk still has the base without a reset
    assert client.diagnostics(child, version=1) == []
    client.change(base, BASE, version=2)
    assert [d["code"] for d in client.diagnostics(child, version=1)] == ["INI001"]


def test_configuration_and_noqa_of_the_project_apply(client: LspClient, project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.initlint]\nper-file-ignores = { "train.py" = ["INI003"] }\n')
    client.open(project / "train.py")
    assert client.diagnostics(project / "train.py", version=1) == []
    client.open(project / "scale.py", BROKEN.replace("(nn.Module):", "(nn.Module):  # noqa: INI001"))
    assert client.diagnostics(project / "scale.py", version=1) == []


def test_workspace_indexing_reports_progress(client: LspClient, project: Path) -> None:
    end = client.wait_for(lambda m: m["method"] == "$/progress" and m["params"]["value"]["kind"] == "end")
    token = end["params"]["token"]
    assert any(r["method"] == "window/workDoneProgress/create" and r["params"]["token"] == token
               for r in client.server_requests)
    kinds = [m["params"]["value"]["kind"] for m in client.notifications
             if m["method"] == "$/progress" and m["params"]["token"] == token]
    assert kinds[0] == "begin" and kinds[-1] == "end"
    assert end["params"]["value"]["message"] == "4 files indexed"


def test_workspace_indexing_counts_one_file_in_the_singular(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "scale.py").write_text(BROKEN)
    client = LspClient(cwd=tmp_path)
    try:
        client.initialize(tmp_path)
        end = client.wait_for(lambda m: m["method"] == "$/progress" and m["params"]["value"]["kind"] == "end")
    finally:
        client.close()
    assert end["params"]["value"]["message"] == "1 file indexed"


def test_a_crash_analysing_one_document_is_logged_and_the_server_goes_on(project: Path) -> None:
    boom = (
        "import initlint.server.session as s\n"
        "lint = s.Session.lint\n"
        "def broken(self, path, buffers):\n"
        "    if path.name == 'scale.py':\n"
        "        raise RuntimeError('a bug in a rule')\n"
        "    return lint(self, path, buffers)\n"
        "s.Session.lint = broken\n"
        "from initlint.cli import main\n"
        "main()\n"
    )
    client = LspClient([sys.executable, "-c", boom, "server"], cwd=project)
    try:
        client.initialize(project)
        client.open(project / "scale.py")
        logged = client.wait_for(lambda m: m["method"] == "window/logMessage" and "scale.py" in m["params"]["message"])
        assert "failed" in logged["params"]["message"] and "RuntimeError: a bug in a rule" in logged["params"]["message"]
        client.open(project / "train.py")
        assert [d["code"] for d in client.diagnostics(project / "train.py", version=1)] == ["INI003"]
    finally:
        assert client.close() == 0


def test_shutdown_and_exit_end_the_process(project: Path) -> None:
    client = LspClient(SERVER, cwd=project)
    client.initialize(project)
    assert client.request("shutdown") is None
    client.notify("exit")
    assert client.process.wait(timeout=20) == 0


def test_positions_count_utf16_units_and_line_ends_as_lsp_does() -> None:
    document = Document("file:///x.py", 1, 'a = "\U0001f600"; b\r\nc\rd\n')
    assert document.position(1, 10).character == 10  # the emoji is two UTF-16 units
    assert document.position(3, 1).line == 2  # a lone \r ends a line too
    assert Document("file:///x.py", 1, 'a = "\U0001f600"; b\n', "utf-8").position(1, 10).character == 12
