"""What the server answers before pygls is loaded: ``initialize``, and the first document's diagnostics.

Importing pygls means importing ``lsprotocol.types`` (some 900 attrs classes): most of the server's start
(0.6 of its 1.0 CPU seconds). An editor waits for the answer to ``initialize`` before it sends anything
else, and the user waits for the first diagnostics, so both come first, from plain JSON: the answer is
the capabilities pygls would compute (fixed: they depend on the client only through the position
encoding; ``tests/server/test_start.py`` checks them against pygls's own), and the first opened Python
document is linted and published at once. Then pygls is loaded and every message so far is replayed to
it (its answer to ``initialize`` dropped), so from then on it is the server; it publishes that document's
diagnostics again, the same.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from initlint.__about__ import __version__

__all__ = ["EarlyAnswers", "capabilities", "position_encoding", "python_path"]

log = logging.getLogger("initlint.server")
_ENCODINGS = ("utf-8", "utf-16", "utf-32")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SUFFIXES = (".py", ".pyi")
FIX_ALL = "source.fixAll.initlint"


def position_encoding(params: dict[str, Any]) -> str:
    """The encoding pygls negotiates: the client's first that it supports, else UTF-16."""
    general = (params.get("capabilities") or {}).get("general") or {}
    for encoding in general.get("positionEncodings") or ():
        if encoding in _ENCODINGS:
            return str(encoding)
    return "utf-16"


def capabilities(params: dict[str, Any]) -> dict[str, Any]:
    """The ``InitializeResult`` of initlint's server for the client's ``initialize`` params."""
    sync: dict[str, Any] = {"openClose": True, "change": 2, "save": True}
    offered = ((params.get("capabilities") or {}).get("textDocument") or {}).get("synchronization") or {}
    for name in ("willSave", "willSaveWaitUntil"):
        if offered.get(name):
            sync[name] = False  # pygls says "no" to what the client offers and the server does not handle
    return {
        "capabilities": {
            "positionEncoding": position_encoding(params),
            "textDocumentSync": sync,
            "codeActionProvider": {"codeActionKinds": ["quickfix", FIX_ALL], "resolveProvider": False},
            "executeCommandProvider": {"commands": []},
            "workspace": {"workspaceFolders": {"supported": True, "changeNotifications": True},
                          "fileOperations": {}},
        },
        "serverInfo": {"name": "initlint", "version": __version__},
    }


def whole(text: str) -> str:
    """The text with each lone surrogate (which a client may send as ``\\\\ud800``, and no UTF-8 file can
    hold) as U+FFFD: one character for one, one UTF-16 unit for one, so every position stays."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def python_path(uri: str, language: str | None) -> Path | None:
    """The file of a Python document's ``file:`` URI (``None``: another scheme or language)."""
    from pygls.uris import to_fs_path  # plain Python: no lsprotocol

    if not uri.startswith("file:"):
        return None
    if language not in (None, "", "python") and not uri.endswith(_SUFFIXES):
        return None
    path = to_fs_path(uri)
    return Path(path) if path else None


class EarlyAnswers:
    """The answers given before pygls is loaded, and what pygls must then not answer again."""

    def __init__(self, session: Callable[[], Any]) -> None:
        self.session = session  # made on the first document: the linter is imported after `initialize`
        self.encoding: str | None = None  # set by `initialize`
        self.answered: set[Any] = set()  # request ids answered here
        self.published = False

    @staticmethod
    def answerable(message: dict[str, Any]) -> bool:
        """Whether ``initialize`` has params of the spec's shape as far as they are read here; others
        wait for pygls, which checks them all and answers -32602 where they are wrong."""
        params = message.get("params")
        if not isinstance(params, dict) or not isinstance(params.get("capabilities"), dict):
            return False
        process = params.get("processId")
        if process is not None and (not isinstance(process, int) or isinstance(process, bool)):
            return False
        offered = params["capabilities"]
        return all(isinstance(offered.get(k, {}), dict) for k in ("general", "textDocument", "workspace", "window")) \
            and isinstance((offered.get("general") or {}).get("positionEncodings", []), list) \
            and isinstance((offered.get("textDocument") or {}).get("synchronization", {}), dict)

    def initialize(self, message: dict[str, Any]) -> dict[str, Any]:
        """The response to ``initialize``."""
        params = message.get("params") or {}
        self.encoding = position_encoding(params)
        self.answered.add(message["id"])
        return {"jsonrpc": "2.0", "id": message["id"], "result": capabilities(params)}

    def did_open(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """The ``publishDiagnostics`` of a document just opened (``None``: not one to lint here)."""
        document = (message.get("params") or {}).get("textDocument") or {}
        uri, text = document.get("uri"), document.get("text")
        if self.encoding is None or not isinstance(uri, str) or not isinstance(text, str):
            return None
        path = python_path(uri, document.get("languageId"))
        if path is None:
            return None
        from initlint.server.positions import Positions, diagnostic_json

        text = whole(text)
        try:
            found = self.session().lint(path, {path: text})
        except Exception:  # pygls's turn will log it to the client; the first answer is only a head start
            log.warning("analysing %s before the server was loaded failed:\n%s", path, traceback.format_exc())
            return None
        positions = Positions(text, self.encoding)
        self.published = True
        return {"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics", "params": {
            "uri": uri, "version": document.get("version"),
            "diagnostics": [diagnostic_json(positions, f) for f in found]}}
