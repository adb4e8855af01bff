"""JSON-RPC over stdio as the specification wants it, where pygls 2.1 does otherwise.

pygls's reading loop (``pygls.io_.run_async``) answers nothing to a body that is not JSON (the spec:
-32700), to a message that is not a request (-32600) or to params of the wrong shape (-32602), so the
client waits for ever; it takes a ``Content-Length`` it cannot read as absent and then reads the body
as the next header, swallowing the next request; and ``exit`` without ``shutdown`` ends the process
with 0 where the spec says 1. Its protocol also keeps, for every notification, the future of the
handler in ``_request_futures`` (a table meant for requests, emptied only by responses), so memory
grows with every keystroke. ``serve_stdio`` replaces the loop, ``InitlintProtocol`` forgets finished
handlers (``server.py``), both using only pygls's public hooks plus ``handle_message`` and
``structure_message``, so they stay compatible with its releases that fix these. This module imports
neither pygls nor lsprotocol: it answers ``initialize`` and the first document (``early.py``) while
pygls is not loaded yet.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from initlint.server.early import EarlyAnswers

__all__ = ["serve_stdio", "Connection", "PARSE_ERROR", "INVALID_REQUEST", "INVALID_PARAMS"]

PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32602, -32603
_LOAD_AFTER_S = 0.5  # after `initialized`, pygls is loaded even if no document is opened
log = logging.getLogger("initlint.server")


def serve_stdio(load: Callable[[], Any], session: Callable[[], Any], stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Read framed messages from ``stdin`` until ``exit`` or the end of input and answer on ``stdout``:
    ``initialize`` and the first document at once, everything else by the server ``load()`` builds
    (pygls's); ``session()`` is the linter's session both share. Returns the exit status (0 after ``shutdown``, else 1, as the spec says)."""
    connection = Connection(load, session, stdout)
    try:
        asyncio.run(connection.run(stdin))
    except SystemExit as stop:  # pygls's `exit` handler
        return stop.code if isinstance(stop.code, int) else 1
    except BrokenPipeError:
        log.error("the client closed the connection")
    return 0 if connection.shut_down() else 1


class Connection:
    """One client: messages checked as JSON-RPC, answered early or handed to the protocol once loaded."""

    def __init__(self, load: Callable[[], Any], session: Callable[[], Any], stdout: BinaryIO) -> None:
        self._load = load
        self.stdout = stdout
        self.early = EarlyAnswers(session)
        self.server: Any = None
        self.backlog: list[dict[str, Any]] = []  # what the protocol must see once loaded, in order

    async def run(self, stdin: BinaryIO) -> None:
        loop = asyncio.get_running_loop()
        ended = loop.create_future()

        def read() -> None:  # a thread: reading blocks
            try:
                for body, problem in _frames(stdin):
                    loop.call_soon_threadsafe(self.receive, body, problem)
            finally:
                loop.call_soon_threadsafe(lambda: ended.done() or ended.set_result(None))

        threading.Thread(target=read, name="initlint-stdin", daemon=True).start()
        await ended

    def shut_down(self) -> bool:
        return bool(self.server is not None and self.server.protocol._shutdown)

    # --- sending ---------------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        if self.server is not None:
            self.server.protocol._send_data(message)
            return
        body = json.dumps(message).encode("utf-8")
        self.stdout.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.stdout.flush()

    def error(self, ident: Any, code: int, message: str) -> None:
        log.warning("%s", message)
        self.send({"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}})

    # --- receiving -------------------------------------------------------------------------------

    def receive(self, body: bytes, problem: str | None) -> None:
        """Check one message as JSON-RPC 2.0: answer the error the spec names, or pass it on."""
        try:
            data = json.loads(body)
        except ValueError as exc:  # UnicodeDecodeError included
            self.error(None, PARSE_ERROR, f"Parse error: the message is not JSON ({exc})")
            return
        ident = data.get("id") if isinstance(data, dict) else None
        if not _valid_id(ident):
            ident = None
        why = problem or _invalid(data)
        if why is not None:
            self.error(ident, INVALID_REQUEST, f"Invalid request: {why}")
            return
        if self.server is not None:
            self.handle(data)
        else:
            self.before_load(data)

    def before_load(self, data: dict[str, Any]) -> None:
        """Keep the message for the protocol; answer it here if it is one answered early."""
        self.backlog.append(data)
        method = data.get("method")
        if method == "initialize" and "id" in data and self.early.encoding is None and self.early.answerable(data):
            self.send(self.early.initialize(data))
        elif method == "initialized":
            asyncio.get_running_loop().call_later(_LOAD_AFTER_S, self.load)
        elif method == "textDocument/didOpen" and not self.early.published:
            published = self.early.did_open(data)
            if published is not None:
                self.send(published)
                asyncio.get_running_loop().call_soon(self.load)
        elif "id" in data or method == "exit":
            self.load()  # a request (or a response) only the server can take; other notifications wait

    def load(self) -> None:
        """Build the server (importing pygls) and replay to it every message so far."""
        if self.server is not None:
            return
        self.server = self._load()
        self.server.protocol.set_writer(_Writer(self.stdout))
        self.server.protocol.skip_responses(self.early.answered)
        backlog, self.backlog = self.backlog, []
        for data in backlog:
            self.handle(data)

    def handle(self, data: dict[str, Any]) -> None:
        """Hand a checked message to the protocol (params of the wrong shape: -32602)."""
        from pygls.exceptions import JsonRpcInvalidParams

        protocol = self.server.protocol
        request = "method" in data and "id" in data
        try:
            message = protocol.structure_message(data)
        except JsonRpcInvalidParams:
            if request:
                self.error(data.get("id"), INVALID_PARAMS, f"Invalid params for {data['method']}")
            else:
                log.warning("ignored %s: its params do not have the shape the spec gives", data.get("method"))
            return
        except Exception as exc:
            if request:
                self.error(data.get("id"), INTERNAL_ERROR, f"Internal error reading {data['method']}: {exc}")
            return
        protocol.handle_message(message)


class _Writer:
    """pygls's writer interface over stdout (as ``pygls.io_.StdoutWriter``)."""

    def __init__(self, stdout: BinaryIO) -> None:
        self._stdout = stdout

    def close(self) -> None:
        self._stdout.close()

    def write(self, data: bytes) -> None:
        self._stdout.write(data)
        self._stdout.flush()


def _frames(stream: BinaryIO) -> Any:
    """Each message's body, with what was wrong with its header (``None``: nothing)."""
    pending: bytes | None = None  # a header line already read with the body before it
    while True:
        headers: dict[str, str] = {}
        while True:
            line, pending = (pending, None) if pending is not None else (stream.readline(), None)
            if not line:
                return
            if not line.strip():
                if headers:
                    break
                continue  # blank lines between messages
            name, _, value = line.decode("ascii", "replace").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length", "")
        if length.isdigit():
            body = stream.read(int(length))
            if len(body) < int(length):
                return
            yield body, None
            continue
        body, pending = _body_without_length(stream)
        yield body, f"its Content-Length header {length!r} is not a number of bytes"


def _body_without_length(stream: BinaryIO) -> tuple[bytes, bytes | None]:
    """Read a body whose length is unknown: up to where it is whole JSON, or up to the next message's
    header (returned, to be read as such); byte by byte, on this rare path, so as never to wait for a
    message that will not come."""
    body = b""
    while True:
        byte = stream.read(1)
        if not byte:
            return body, None
        body += byte
        if body.endswith(b"Content-Length:"):
            rest = stream.readline()
            return body[: -len(b"Content-Length:")], b"Content-Length:" + rest
        if byte == b"}":
            try:
                json.loads(body)
            except ValueError:
                continue
            return body, None


def _valid_id(ident: object) -> bool:
    return ident is None or isinstance(ident, str) or (isinstance(ident, int) and not isinstance(ident, bool))


def _invalid(data: object) -> str | None:
    """Why ``data`` is not a JSON-RPC 2.0 request, notification or response (``None``: it is one)."""
    if not isinstance(data, dict):
        return "a message must be a JSON object (batches are not part of LSP)"
    if data.get("jsonrpc") != "2.0":
        return 'the member "jsonrpc" must be "2.0"'
    if "id" in data and not _valid_id(data["id"]):
        return 'the member "id" must be a string, a number or null'
    if "method" in data:
        if not isinstance(data["method"], str):
            return 'the member "method" must be a string'
        if "params" in data and not isinstance(data["params"], (dict, list)) and data["params"] is not None:
            return 'the member "params" must be an object or an array'
        return None
    if "id" in data and ("result" in data or "error" in data):
        return None  # a response to one of the server's requests
    return 'a message needs a "method" (or, as a response, an "id" and a "result" or "error")'
