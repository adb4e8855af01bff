"""The server's start: ``initialize`` and the first document are answered before pygls (and its
``lsprotocol.types``, most of the start) is imported, with exactly what pygls answers after."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pygls")

from initlint.server.early import capabilities  # noqa: E402

from .lsp_client import LspClient, uri  # noqa: E402
from .test_lsp import BROKEN  # noqa: E402

CLIENTS = {
    "bare": {},
    "utf-8 first": {"general": {"positionEncodings": ["utf-8", "utf-16"]}},
    "utf-32 only": {"general": {"positionEncodings": ["utf-32"]}},
    "unknown encoding": {"general": {"positionEncodings": ["ebcdic"]}},
    "will save, file operations, notebooks": {
        "textDocument": {"synchronization": {"willSave": True, "willSaveWaitUntil": True}},
        "workspace": {"fileOperations": {"didCreate": True, "willRename": True}, "workspaceFolders": True},
        "notebookDocument": {"synchronization": {}},
    },
}


@pytest.mark.parametrize("client", list(CLIENTS.values()), ids=list(CLIENTS))
def test_early_capabilities_are_those_pygls_computes(client: dict[str, Any]) -> None:
    from lsprotocol import types

    from initlint.server.server import build_server

    params = {"processId": None, "rootUri": None, "capabilities": client}
    protocol = build_server(cache=False).protocol
    steps = protocol.lsp_initialize(protocol._converter.structure(params, types.InitializeParams))
    with pytest.raises(StopIteration) as finished:
        next(steps)
    assert capabilities(params) == json.loads(json.dumps(protocol._converter.unstructure(finished.value.value)))


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def messages(data: bytes) -> list[dict[str, Any]]:
    found = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(next(line for line in head.split(b"\r\n") if line.startswith(b"Content-Length")).split(b":")[1])
        found.append(json.loads(rest[:length]))
        data = rest[length:]
    return found


DRIVER = """
import io, sys
from initlint.server.wire import serve_stdio
from initlint.server.session import Session

session = Session(cache=False)
loaded_with = []

def load():
    loaded_with.append([m for m in ("pygls.lsp.server", "lsprotocol.types") if m in sys.modules])
    from initlint.server.server import build_server
    return build_server(session=session)

out = io.BytesIO()
out.close = lambda: None
code = serve_stdio(load, lambda: session, io.BytesIO(sys.stdin.buffer.read()), out)
sys.stderr.write(repr(loaded_with) + "\\n")
sys.stdout.buffer.write(out.getvalue())
"""


def test_first_answers_come_before_pygls_is_imported_and_match_its_own(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    path = tmp_path / "scale.py"
    path.write_text(BROKEN)
    document = {"uri": uri(path), "languageId": "python", "version": 1, "text": BROKEN}
    stdin = b"".join([
        frame({"id": 1, "method": "initialize", "params": {"processId": None, "rootUri": uri(tmp_path),
                                                           "capabilities": {}}}),
        frame({"method": "initialized", "params": {}}),
        frame({"method": "textDocument/didOpen", "params": {"textDocument": document}}),
        frame({"id": 2, "method": "shutdown"}),
        frame({"method": "exit"}),
    ])
    run = subprocess.run([sys.executable, "-c", DRIVER], input=stdin, capture_output=True, cwd=tmp_path, timeout=120)
    assert run.stderr.decode().strip().splitlines()[-1] == "[[]]"  # pygls was loaded once, after the answers
    sent = messages(run.stdout)
    answer, first = sent[0], sent[1]
    assert answer["id"] == 1 and answer["result"]["capabilities"]["positionEncoding"] == "utf-16"
    assert first["method"] == "textDocument/publishDiagnostics"
    assert [d["code"] for d in first["params"]["diagnostics"]] == ["INI001"]
    assert [m.get("id") for m in sent].count(1) == 1  # initialize answered once: pygls's answer dropped


def test_early_diagnostics_are_those_the_loaded_server_publishes(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    path = tmp_path / "scale.py"
    path.write_text("# \u00e9\U0001f600 positions past wide characters\n" + BROKEN)
    client = LspClient(cwd=tmp_path)
    try:
        client.initialize(tmp_path)
        client.open(path)
        early = client.diagnostics(path, version=1)
        assert [d["code"] for d in early] == ["INI001"]
        assert client.diagnostics(path, version=1) == early  # pygls's, after the replay
    finally:
        assert client.close() == 0


def test_notifications_before_the_first_document_do_not_delay_it(tmp_path: Path) -> None:
    """eglot sends `workspace/didChangeConfiguration` between `initialized` and `didOpen`: the first
    document is still answered before pygls is loaded."""
    (tmp_path / "pyproject.toml").write_text("")
    path = tmp_path / "scale.py"
    document = {"uri": uri(path), "languageId": "python", "version": 1, "text": BROKEN}
    stdin = b"".join([
        frame({"id": 1, "method": "initialize", "params": {"processId": None, "capabilities": {}}}),
        frame({"method": "initialized", "params": {}}),
        frame({"method": "workspace/didChangeConfiguration", "params": {"settings": {}}}),
        frame({"method": "textDocument/didOpen", "params": {"textDocument": document}}),
    ])
    run = subprocess.run([sys.executable, "-c", DRIVER], input=stdin, capture_output=True, cwd=tmp_path, timeout=120)
    sent = messages(run.stdout)
    assert [m.get("id", m.get("method")) for m in sent[:2]] == [1, "textDocument/publishDiagnostics"]
