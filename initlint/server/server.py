"""``initlint server``: the Language Server Protocol over stdio, on pygls.

Diagnostics are pushed (``textDocument/publishDiagnostics``, with the document version) on open, on
change (the unsaved text, debounced) and on save, for every open Python document of the project that
changed, since an edit to a base class in one buffer changes the findings of its subclasses in
another. Code actions carry their edits. All analysis runs in one worker thread, in order; a failure
analysing one document is logged (``window/logMessage``, with the traceback) and leaves that document's
diagnostics as they were, never costing the server its life.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path

from initlint.__about__ import __version__
from initlint.config import ConfigError
from initlint.lint.summary import Finding
from initlint.server.convert import FIX_ALL, Document, code_actions, diagnostic, fix_all_action, kind_wanted
from initlint.server.session import Session
from initlint.server.early import whole as _whole
from initlint.server.wire import serve_stdio

__all__ = ["InitlintServer", "build_server", "DEBOUNCE_S"]

DEBOUNCE_S = 0.3  # quiet time after a keystroke before the document is analysed again
_SUFFIXES = (".py", ".pyi")
_T = TypeVar("_T")
log = logging.getLogger("initlint.server")


class InitlintServer(LanguageServer):
    """The language server and what it remembers: the last findings of each open document."""

    def __init__(self, cache: bool = True, session: Session | None = None) -> None:
        # Incremental: clients may send ranges or whole texts, pygls applies either.
        super().__init__("initlint", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=InitlintProtocol)
        self.session = session if session is not None else Session(cache=cache)
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="initlint-analysis")
        self.results: dict[str, tuple[Document, int, list[Finding]]] = {}  # with the generation they are of
        self.generation = 0  # counts the changes to any buffer or file, which may change any document's findings
        self.dirty: dict[str, None] = {}  # documents to analyse at the next quiet moment, in order
        self.pending: asyncio.Task[None] | None = None
        self.reported_errors: set[str] = set()
        self.exit_code = 0

    # --- documents -------------------------------------------------------------------------------

    def document(self, uri: str) -> Document | None:
        """The current text of an open Python file, or ``None`` (not open, not a file, not Python)."""
        opened = self.workspace.text_documents.get(uri)
        if opened is None or _path(uri) is None:
            return None
        if opened.language_id not in (None, "", "python") and not uri.endswith(_SUFFIXES):
            return None
        encoding = str(self.workspace.position_encoding or "utf-16")
        return Document(uri, opened.version, _whole(opened.source), encoding)

    def buffers(self) -> dict[Path, str]:
        """The text of every open file, by path."""
        found = {}
        for uri, opened in self.workspace.text_documents.items():
            path = _path(uri)
            if path is not None:
                found[path] = _whole(opened.source)
        return found

    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        """Serve over stdio (``wire.serve_stdio``: JSON-RPC errors and exit status as the spec wants);
        the exit status is left in ``exit_code``."""
        import sys

        try:
            self.exit_code = serve_stdio(lambda: self, lambda: self.session, stdin or sys.stdin.buffer,
                                         stdout or sys.stdout.buffer)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the analysis thread (what it was doing is abandoned) and pygls's machinery."""
        self.worker.shutdown(wait=False, cancel_futures=True)
        self.shutdown()

    def versioned_edits(self) -> bool:
        """Whether the client takes ``documentChanges`` (edits that name the document version)."""
        edit = self.client_capabilities.workspace and self.client_capabilities.workspace.workspace_edit
        return bool(edit and edit.document_changes)

    # --- analysis ----------------------------------------------------------------------------------

    async def in_worker(self, job: Callable[[], _T]) -> _T:
        """Run ``job`` on the analysis thread."""
        return await asyncio.get_running_loop().run_in_executor(self.worker, job)

    async def findings(self, document: Document) -> list[Finding] | None:
        """The findings of this version of a document (remembered); ``None`` if its analysis failed."""
        known = self.results.get(document.uri)
        generation = self.generation
        if known is not None and known[1] == generation and (known[0].version, known[0].text) == (
                document.version, document.text):
            return known[2]
        path = _path(document.uri)
        assert path is not None
        buffers = {**self.buffers(), path: document.text}
        try:
            found = await self.in_worker(lambda: self.session.lint(path, buffers))
        except ConfigError as exc:
            self.tell_once(f"initlint: {exc}", types.MessageType.Error)
            return None
        except Exception:  # a bug of ours must cost this document its diagnostics, not the server
            self.log(f"initlint: analysing {path} failed; please report this:\n{traceback.format_exc()}")
            return None
        self.results[document.uri] = (document, generation, found)
        return found

    async def fixed_text(self, document: Document) -> str | None:
        """The document with its safe fixes applied, as ``--fix`` would; ``None`` if that failed (logged)."""
        path = _path(document.uri)
        assert path is not None
        buffers = {**self.buffers(), path: document.text}
        try:
            return (await self.in_worker(lambda: self.session.fix_all(path, buffers)))[0]
        except Exception:
            self.log(f"initlint: fixing {path} failed; please report this:\n{traceback.format_exc()}")
            return None

    def mark(self, uris: list[str], delay: float) -> None:
        """Analyse these documents (then every other open one) once nothing changed for ``delay`` seconds."""
        self.generation += 1
        for uri in [*uris, *self.workspace.text_documents]:
            self.dirty.setdefault(uri)
        if self.pending is not None:
            self.pending.cancel()
        self.pending = asyncio.ensure_future(self._publish_later(delay))

    async def _publish_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        while self.dirty:
            uri = next(iter(self.dirty))
            del self.dirty[uri]
            await self.publish(uri)

    async def publish(self, uri: str) -> None:
        """Push the diagnostics of an open document (nothing if it changed meanwhile: a newer run follows)."""
        document = self.document(uri)
        if document is None:
            return
        found = await self.findings(document)
        current = self.workspace.text_documents.get(uri)
        if found is None or current is None or current.version != document.version:
            return
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=document.version, diagnostics=[diagnostic(document, f) for f in found],
        ))

    # --- messages ----------------------------------------------------------------------------------

    def log(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        """Write to the client's log (and this process's)."""
        log.log(logging.ERROR if kind == types.MessageType.Error else logging.INFO, message)
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def tell_once(self, message: str, kind: types.MessageType) -> None:
        """Show a message to the user, once per text."""
        self.log(message, kind)
        if message not in self.reported_errors:
            self.reported_errors.add(message)
            self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    # --- workspace indexing ----------------------------------------------------------------------

    async def index_workspace(self) -> None:
        """Analyse every file of the workspace folders (warming the class index and the cache), reporting
        progress where the client shows it."""
        folders = [f.uri for f in self.workspace.folders.values()] or (
            [self.workspace.root_uri] if self.workspace.root_uri else [])
        for number, uri in enumerate(folders):
            folder = _path(uri)
            if folder is not None and folder.is_dir():
                await self._index(folder, f"initlint-index-{number}")

    async def _index(self, folder: Path, token: str) -> None:
        progress = await self._progress(token)
        if progress:
            self.work_done_progress.begin(token, types.WorkDoneProgressBegin(
                title="initlint: indexing", message=str(folder), percentage=0, cancellable=False))
        indexed = 0
        try:
            steps = await self.in_worker(lambda: list(self.session.index_steps(folder)))
            for done, total, step in steps:
                while self.dirty:  # documents waiting to be analysed go first: the index only warms the cache
                    await asyncio.sleep(0.05)
                if progress:
                    self.work_done_progress.report(token, types.WorkDoneProgressReport(
                        message=f"{done}/{total} file{'' if total == 1 else 's'}",
                        percentage=done * 100 // max(total, 1)))
                await self.in_worker(step)
                indexed = total
        except ConfigError as exc:
            self.tell_once(f"initlint: {exc}", types.MessageType.Error)
        except Exception:
            self.log(f"initlint: indexing {folder} failed; please report this:\n{traceback.format_exc()}")
        finally:
            if progress:
                self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=f"{indexed} file{'' if indexed == 1 else 's'} indexed"))

    async def _progress(self, token: str) -> bool:
        """Ask the client for a progress token; ``False`` where it shows no progress or does not answer."""
        window = self.client_capabilities.window
        if not (window and window.work_done_progress):
            return False
        try:
            await asyncio.wait_for(self.work_done_progress.create_async(token), timeout=10)
        except Exception:  # a client that refuses or never answers gets no progress, and the index anyway
            return False
        return True


class InitlintProtocol(LanguageServerProtocol):
    """pygls's LSP protocol, forgetting each handler's future once it is done (pygls 2.1 keeps those of
    notifications for ever: about 2 KB a keystroke), and silent on the requests answered before it was
    loaded (``early.py``)."""

    _skipped: set[Any] = set()

    def skip_responses(self, idents: set[Any]) -> None:
        """Send no response to these requests: they were answered already."""
        self._skipped = set(idents)

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        if msg_id in self._skipped:
            self._skipped.discard(msg_id)
            return
        super()._send_response(msg_id, result, error)

    def _execute_handler(self, msg_id: Any, handler: Any, callback: Callable[[Future[Any]], None],
                         args: Any = None, kwargs: Any = None) -> None:
        def done(future: Future[Any]) -> None:
            if self._request_futures.get(msg_id) is future:  # a request's own callback pops it too
                del self._request_futures[msg_id]
            callback(future)

        super()._execute_handler(msg_id, handler, done, args, kwargs)


def build_server(cache: bool = True, session: Session | None = None) -> InitlintServer:
    """The server with its features registered (sharing ``session``, if given, with what answered
    before it was built)."""
    server = InitlintServer(cache=cache, session=session)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: InitlintServer, params: types.InitializedParams) -> None:
        watching = ls.client_capabilities.workspace and ls.client_capabilities.workspace.did_change_watched_files
        if watching and watching.dynamic_registration:
            watchers = [types.FileSystemWatcher(glob_pattern=g) for g in ("**/*.py", "**/*.pyi", "**/pyproject.toml")]
            options = types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers)
            registration = types.Registration(id="initlint-watch", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                                              register_options=options)
            ls.client_register_capability(types.RegistrationParams(registrations=[registration]))
        asyncio.ensure_future(ls.index_workspace())

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: InitlintServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.mark([params.text_document.uri], 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: InitlintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.mark([params.text_document.uri], DEBOUNCE_S)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: InitlintServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.mark([params.text_document.uri], 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: InitlintServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.results.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))
        ls.mark([], DEBOUNCE_S)  # its file, not its buffer, now stands for it

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched(ls: InitlintServer, params: types.DidChangeWatchedFilesParams) -> None:
        if any(change.type != types.FileChangeType.Changed or change.uri.endswith("pyproject.toml")
               for change in params.changes):
            ls.worker.submit(ls.session.forget)  # files appeared or went: map the modules again
        ls.mark([], DEBOUNCE_S)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: InitlintServer, params: types.DidChangeConfigurationParams) -> None:
        # initlint reads its settings from pyproject.toml, not from the editor's; a client (eglot) that
        # sends its settings on connect gets a handler rather than a warning, and a fresh look
        ls.mark([], DEBOUNCE_S)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL], resolve_provider=False))
    async def code_action(ls: InitlintServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        document = ls.document(params.text_document.uri)
        if document is None:
            return None
        found = await ls.findings(document)
        if found is None:
            return None
        only = params.context.only
        actions: list[types.CodeAction] = []
        if kind_wanted(types.CodeActionKind.QuickFix, only):
            actions += code_actions(document, found, params.range, params.context.diagnostics, ls.versioned_edits())
        if kind_wanted(FIX_ALL, only) and any(f.fix is not None and f.fix.applies() for f in found):
            fixed = await ls.fixed_text(document)
            action = fix_all_action(document, fixed, ls.versioned_edits()) if fixed is not None else None
            actions += [action] if action is not None else []
        return actions

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: InitlintServer, params: Any) -> None:
        await ls.in_worker(ls.session.save)

    return server


def _path(uri: str) -> Path | None:
    """The file a ``file:`` URI names (``None`` for other schemes: untitled buffers, notebooks' cells)."""
    if not uri.startswith("file:"):
        return None
    path = to_fs_path(uri)
    return Path(path) if path else None
