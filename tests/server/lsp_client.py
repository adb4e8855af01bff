"""A small LSP client for the tests: starts ``initlint server`` as a subprocess and speaks JSON-RPC to it
over its stdin/stdout, as an editor does (Content-Length framed messages, requests both ways)."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Message = dict[str, Any]

SERVER = [sys.executable, "-c", "from initlint.cli import main; main()", "server"]


def uri(path: Path) -> str:
    """The ``file:`` URI of a path."""
    return path.resolve().as_uri()


class LspClient:
    """One server process. Requests from the server are answered as a plain editor would: progress
    tokens and registrations accepted, workspace edits applied (and recorded)."""

    def __init__(self, command: list[str] | None = None, cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(
            command or SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd
        )
        self._next_id = 0
        self._inbox: queue.Queue[Message | None] = queue.Queue()
        self.notifications: list[Message] = []
        self.server_requests: list[Message] = []
        self._responses: dict[int, Message] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr: list[str] = []
        threading.Thread(target=self._read_stderr, daemon=True).start()

    # --- wire ---------------------------------------------------------------------------------

    def _send(self, message: Message) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body)
        self.process.stdin.flush()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            headers: dict[str, str] = {}
            while True:
                line = stream.readline()
                if not line:
                    self._inbox.put(None)
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = stream.read(int(headers["content-length"]))
            self._inbox.put(json.loads(body))

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line.decode("utf-8", "replace"))

    def _pump(self, timeout: float) -> bool:
        """Handle one incoming message; ``False`` when none came within ``timeout``."""
        try:
            message = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return False
        if message is None:
            raise ConnectionError("the server closed its output; stderr:\n" + "".join(self.stderr))
        if "method" in message and "id" in message:
            self.server_requests.append(message)
            self._send({"id": message["id"], "result": self._answer(message)})
        elif "method" in message:
            self.notifications.append(message)
        else:
            self._responses[message["id"]] = message
        return True

    def _answer(self, request: Message) -> Any:
        if request["method"] == "workspace/applyEdit":
            return {"applied": True}
        return None

    # --- API ------------------------------------------------------------------------------------

    def request(self, method: str, params: Any = None, timeout: float = 30) -> Any:
        """Send a request and wait for its result (an error response raises)."""
        self._next_id += 1
        ident = self._next_id
        self._send({"id": ident, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while ident not in self._responses:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer to {method} within {timeout}s; stderr:\n" + "".join(self.stderr))
            self._pump(0.1)
        response = self._responses.pop(ident)
        if "error" in response:
            raise RuntimeError(f"{method} failed: {response['error']}")
        return response.get("result")

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (headers included): for messages no well-behaved client sends."""
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def response(self, ident: int | str | None, timeout: float = 30) -> Message:
        """The whole response (result or error) with id ``ident``; consumed."""
        deadline = time.monotonic() + timeout
        while ident not in self._responses:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no response with id {ident!r} within {timeout}s")
            self._pump(0.1)
        return self._responses.pop(ident)

    def notify(self, method: str, params: Any = None) -> None:
        """Send a notification."""
        self._send({"method": method, "params": params})

    def wait_for(self, wanted: Callable[[Message], bool], timeout: float = 30) -> Message:
        """The first notification (already received or coming) for which ``wanted`` is true."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for message in self.notifications[seen:]:
                if wanted(message):
                    return message
            seen = len(self.notifications)
            if time.monotonic() > deadline:
                raise TimeoutError("no such notification; got: " + json.dumps(self.notifications)[-2000:])
            self._pump(0.1)

    def diagnostics(self, path: Path, version: int | None = None, timeout: float = 30) -> list[Message]:
        """The diagnostics next published for ``path`` (at ``version``, if given); consumed."""
        target = uri(path)

        def wanted(message: Message) -> bool:
            params = message["params"]
            return (message["method"] == "textDocument/publishDiagnostics" and params["uri"] == target
                    and (version is None or params.get("version") == version))

        message = self.wait_for(wanted, timeout)
        self.notifications.remove(message)
        return message["params"]["diagnostics"]

    def initialize(self, root: Path, capabilities: Message | None = None) -> Message:
        """``initialize`` then ``initialized``, as an editor opening the folder ``root``."""
        result = self.request("initialize", {
            "processId": None,
            "rootUri": uri(root),
            "workspaceFolders": [{"uri": uri(root), "name": root.name}],
            "capabilities": capabilities if capabilities is not None else {
                "window": {"workDoneProgress": True},
                "workspace": {"workspaceEdit": {"documentChanges": True}},
                "textDocument": {"codeAction": {"codeActionLiteralSupport": {
                    "codeActionKind": {"valueSet": ["quickfix", "source", "source.fixAll"]}}}},
            },
        })
        self.notify("initialized", {})
        return result

    def open(self, path: Path, text: str | None = None, version: int = 1) -> None:
        """``didOpen`` of a file, with its text on disk or ``text``."""
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri(path), "languageId": "python", "version": version,
            "text": path.read_text(encoding="utf-8") if text is None else text,
        }})

    def change(self, path: Path, text: str, version: int) -> None:
        """``didChange`` with the full new text."""
        self.notify("textDocument/didChange", {
            "textDocument": {"uri": uri(path), "version": version}, "contentChanges": [{"text": text}],
        })

    def code_actions(self, path: Path, diagnostic: Message | None = None, only: list[str] | None = None,
                     whole: bool = False) -> list[Message]:
        """``textDocument/codeAction`` at a diagnostic's range (or the whole file)."""
        where = ({"start": {"line": 0, "character": 0}, "end": {"line": 10**6, "character": 0}}
                 if whole or diagnostic is None else diagnostic["range"])
        context: Message = {"diagnostics": [diagnostic] if diagnostic else []}
        if only is not None:
            context["only"] = only
        return self.request("textDocument/codeAction", {
            "textDocument": {"uri": uri(path)}, "range": where, "context": context,
        }) or []

    def close(self, timeout: float = 20) -> int:
        """``shutdown`` and ``exit``; the exit status of the process."""
        if self.process.poll() is None:
            try:
                self.request("shutdown", timeout=timeout)
                self.notify("exit")
            except (OSError, ConnectionError, TimeoutError):
                pass
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


def apply_edit(text: str, edits: list[Message]) -> str:
    """Apply LSP text edits (UTF-16 positions, as negotiated by default) to ``text``."""
    lines = text.splitlines(keepends=True) or [""]
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(position: Message) -> int:
        if position["line"] >= len(lines):
            return len(text)
        line = lines[position["line"]]
        units, chars = 0, 0
        while units < position["character"] and chars < len(line.rstrip("\r\n")):
            units += len(line[chars].encode("utf-16-le")) // 2
            chars += 1
        return starts[position["line"]] + chars

    spans = sorted(((offset(e["range"]["start"]), offset(e["range"]["end"]), e["newText"]) for e in edits),
                   reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


def edits_of(action: Message, path: Path) -> list[Message]:
    """The text edits a code action makes to ``path`` (``documentChanges`` or ``changes``)."""
    edit = action["edit"]
    if "documentChanges" in edit:
        return [e for change in edit["documentChanges"] if change["textDocument"]["uri"] == uri(path)
                for e in change["edits"]]
    return edit["changes"][uri(path)]
