"""JSON-RPC over stdio as the specification wants it, where pygls 2.1 does otherwise.

pygls's reading loop (``pygls.io_.run_async``) answers nothing to a body that is not JSON (the spec:
-32700), to a message that is not a request (-32600) or to params of the wrong shape (-32602), so the
client waits for ever; it takes a ``Content-Length`` it cannot read as absent and then reads the body
as the next header, swallowing the next request; and ``exit`` without ``shutdown`` ends the process
with 0 where the spec says 1. Its protocol also keeps, for every notification, the future of the
handler in ``_request_futures`` (a table meant for requests, emptied only by responses), so memory
grows with every keystroke. ``serve_stdio`` replaces the loop, ``InitlintProtocol`` forgets finished
handlers; both use only pygls's public hooks plus ``handle_message``/``structure_message``, so they
stay compatible with its releases that fix these.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, BinaryIO

from pygls.exceptions import JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol

__all__ = ["InitlintProtocol", "serve_stdio", "PARSE_ERROR", "INVALID_REQUEST", "INVALID_PARAMS"]

PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32602, -32603
log = logging.getLogger("initlint.server")


class InitlintProtocol(LanguageServerProtocol):
    """pygls's LSP protocol, forgetting each handler's future once it is done."""

    def _execute_handler(self, msg_id: Any, handler: Any, callback: Callable[[Future[Any]], None],
                         args: Any = None, kwargs: Any = None) -> None:
        def done(future: Future[Any]) -> None:
            if self._request_futures.get(msg_id) is future:  # a request's own callback pops it too
                del self._request_futures[msg_id]
            callback(future)

        super()._execute_handler(msg_id, handler, done, args, kwargs)


def serve_stdio(protocol: LanguageServerProtocol, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Read framed messages from ``stdin`` and hand them to ``protocol`` until ``exit`` or the end of
    input; returns the exit status (0 after ``shutdown``, else 1, as the spec says)."""
    from pygls.io_ import StdoutWriter

    protocol.set_writer(StdoutWriter(stdout))
    try:
        asyncio.run(_loop(protocol, stdin))
    except SystemExit as stop:  # pygls's `exit` handler
        return stop.code if isinstance(stop.code, int) else 1
    except BrokenPipeError:
        log.error("the client closed the connection")
    return 0 if protocol._shutdown else 1


async def _loop(protocol: LanguageServerProtocol, stdin: BinaryIO) -> None:
    loop = asyncio.get_running_loop()
    ended = loop.create_future()

    def read() -> None:  # a thread: reading blocks
        try:
            for body, problem in _frames(stdin):
                loop.call_soon_threadsafe(_dispatch, protocol, body, problem)
        finally:
            loop.call_soon_threadsafe(lambda: ended.done() or ended.set_result(None))

    threading.Thread(target=read, name="initlint-stdin", daemon=True).start()
    await ended


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


def _dispatch(protocol: LanguageServerProtocol, body: bytes, problem: str | None) -> None:
    """Check one message as JSON-RPC 2.0 and hand it to pygls, or answer the error the spec names."""
    try:
        data = json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError included
        _error(protocol, None, PARSE_ERROR, f"Parse error: the message is not JSON ({exc})")
        return
    ident = data.get("id") if isinstance(data, dict) else None
    if not _valid_id(ident):
        ident = None
    if problem is not None:
        _error(protocol, ident, INVALID_REQUEST, f"Invalid request: {problem}")
        return
    why = _invalid(data)
    if why is not None:
        _error(protocol, ident, INVALID_REQUEST, f"Invalid request: {why}")
        return
    try:
        message = protocol.structure_message(data)
    except JsonRpcInvalidParams:
        if "method" in data and "id" in data:
            _error(protocol, ident, INVALID_PARAMS, f"Invalid params for {data['method']}")
        else:
            log.warning("ignored %s: its params do not have the shape the spec gives", data.get("method"))
        return
    except Exception as exc:
        if "method" in data and "id" in data:
            _error(protocol, ident, INTERNAL_ERROR, f"Internal error reading {data['method']}: {exc}")
        return
    protocol.handle_message(message)


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


def _error(protocol: LanguageServerProtocol, ident: Any, code: int, message: str) -> None:
    log.warning("%s", message)
    protocol._send_data({"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}})
