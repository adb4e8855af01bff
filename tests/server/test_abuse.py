"""The server against clients that misbehave, and against a long session: JSON-RPC errors as the spec
names them, the exit status the spec wants, buffers linted from their text whatever their URI, and
memory that stays flat over 12,000 edits. A real server process, spoken to as an editor would."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pygls")

from .lsp_client import LspClient, uri  # noqa: E402
from .test_lsp import BROKEN, SCRIPT  # noqa: E402


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "scale.py").write_text(BROKEN)
    (tmp_path / "train.py").write_text(SCRIPT)
    return tmp_path


@pytest.fixture
def client(project: Path) -> Iterator[LspClient]:
    client = LspClient(cwd=project)
    client.initialize(project)
    yield client
    client.close()


def framed(body: bytes, length: str | None = None) -> bytes:
    return f"Content-Length: {len(body) if length is None else length}\r\n\r\n".encode() + body


def still_answers(client: LspClient, project: Path) -> None:
    """The server goes on: a request after the abuse gets its answer."""
    actions = client.code_actions(project / "train.py", whole=True)
    assert isinstance(actions, list)


@pytest.mark.parametrize("body, code", [
    pytest.param(b'{"jsonrpc": "2.0", "id": 1, "method": "shutdown"', -32700, id="truncated-json"),
    pytest.param(b"\xff\xfe not even text", -32700, id="not-utf8"),
    pytest.param(b"[1, 2, 3]", -32600, id="batch"),
    pytest.param(b'"hello"', -32600, id="not-an-object"),
    pytest.param(b'{"jsonrpc": "1.0", "id": 7, "method": "shutdown"}', -32600, id="wrong-version"),
    pytest.param(b'{"jsonrpc": "2.0", "id": 7, "method": 42}', -32600, id="method-not-a-string"),
    pytest.param(b'{"jsonrpc": "2.0", "id": 7}', -32600, id="neither-request-nor-response"),
    pytest.param(b'{"jsonrpc": "2.0", "id": 7, "method": "textDocument/codeAction", "params": 3}', -32600,
                 id="params-not-structured"),
    pytest.param(b'{"jsonrpc": "2.0", "id": 7, "method": "textDocument/codeAction", "params": {"x": 1}}', -32602,
                 id="params-of-the-wrong-shape"),
])
def test_malformed_messages_get_the_error_the_spec_names(client: LspClient, project: Path, body: bytes,
                                                         code: int) -> None:
    client.open(project / "train.py")
    client.send_raw(framed(body))
    try:
        ident = json.loads(body).get("id")
    except (ValueError, AttributeError):
        ident = None
    answer = client.response(ident if code != -32700 else None, timeout=20)
    assert answer["error"]["code"] == code, answer
    assert answer["id"] == ident if code != -32700 else answer["id"] is None
    still_answers(client, project)


def test_unreadable_content_length_does_not_swallow_the_next_request(client: LspClient, project: Path) -> None:
    client.open(project / "train.py")
    bad = b'{"jsonrpc": "2.0", "id": 50, "method": "textDocument/codeAction", "params": {}}'
    good = json.dumps({"jsonrpc": "2.0", "id": 51, "method": "textDocument/codeAction", "params": {
        "textDocument": {"uri": uri(project / "train.py")},
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 99, "character": 0}},
        "context": {"diagnostics": []}}}).encode()
    client.send_raw(framed(bad, "abc") + framed(good))
    assert client.response(50)["error"]["code"] == -32600
    assert "result" in client.response(51)


def test_exit_without_shutdown_exits_1(project: Path) -> None:
    client = LspClient(cwd=project)
    client.initialize(project)
    client.notify("exit")
    assert client.process.wait(timeout=20) == 1


def test_lone_surrogate_in_a_buffer_still_gets_diagnostics(client: LspClient, project: Path) -> None:
    path = project / "scale.py"
    client.send_raw(framed(json.dumps({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": uri(path), "languageId": "python", "version": 1,
                         "text": "# \ud800 a lone surrogate\n" + BROKEN}}}).encode()))
    found = client.diagnostics(path, version=1)
    assert [d["code"] for d in found] == ["INI001"]
    assert found[0]["range"]["start"]["line"] == 5  # BROKEN's class (0-based line 4), one line down
    assert not [m for m in client.notifications if m["method"] == "window/logMessage"]


@pytest.mark.parametrize("address", ["file:///initlint_unsaved_buffer_at_root.py",
                                     "file://fileserver/share/initlint_unsaved.py"], ids=["root", "unc"])
def test_buffer_is_linted_from_its_text_whatever_its_uri(client: LspClient, address: str) -> None:
    """An unsaved buffer at the filesystem root or on a UNC share (no such file on disk) is linted from
    its text, not reported unreadable."""
    client.notify("textDocument/didOpen", {"textDocument": {
        "uri": address, "languageId": "python", "version": 3, "text": BROKEN}})
    message = client.wait_for(lambda m: m["method"] == "textDocument/publishDiagnostics"
                              and m["params"]["uri"] == address, timeout=60)
    assert message["params"]["version"] == 3
    assert [d["code"] for d in message["params"]["diagnostics"]] == ["INI001"]


def test_did_change_configuration_is_handled_without_a_warning(client: LspClient, project: Path) -> None:
    client.open(project / "train.py")
    client.diagnostics(project / "train.py", version=1)
    client.notify("workspace/didChangeConfiguration", {"settings": {"initlint": {}}})
    assert [d["code"] for d in client.diagnostics(project / "train.py", version=1)] == ["INI003"]
    assert not any("didChangeConfiguration" in line for line in client.stderr)


def rss_mb(client: LspClient) -> float:
    with open(f"/proc/{client.process.pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's memory from /proc")
def test_memory_stays_flat_over_12000_edits(client: LspClient, project: Path) -> None:
    """pygls kept two futures per notification: about 2 KB an edit, 47 -> 70 MB over 12,000 edits.
    Measured after the first 3,000 (the workspace index and lazy imports are allocated once)."""
    path = project / "scale.py"
    client.open(path, BROKEN)
    client.diagnostics(path, version=1)
    samples = []
    started = time.monotonic()
    for version in range(2, 15002):
        client.change(path, BROKEN + f"# {version}\n", version)
        if version % 3000 == 1:
            client.diagnostics(path, version=version, timeout=60)
            samples.append(rss_mb(client))
    print(f"RSS every 3,000 edits (MB): {[round(s, 1) for s in samples]} ({time.monotonic() - started:.1f} s)")
    assert samples[-1] - samples[0] < 3, f"the server grew {samples[-1] - samples[0]:.1f} MB over 12,000 edits"


@pytest.mark.parametrize("params", [None, {"processId": "x", "capabilities": {}},
                                    {"processId": None, "capabilities": {"general": 3}}], ids=str)
def test_initialize_with_bad_params_is_answered_once_with_32602(project: Path, params: object) -> None:
    """Answered by pygls, which checks every field, not by the quick early answer."""
    client = LspClient(cwd=project)
    try:
        client.send_raw(framed(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}).encode()))
        assert client.response(1)["error"]["code"] == -32602
        with pytest.raises(TimeoutError):
            client.response(1, timeout=1)
    finally:
        client.process.kill()
        client.process.wait()
