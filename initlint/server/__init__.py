"""The language server (``initlint server``): initlint's diagnostics and fixes in the editor.

Needs the ``lsp`` extra (``pip install "initlint[lsp]"``: pygls and lsprotocol); the linter itself never
imports it. ``session`` is what the server asks of the linter, ``convert`` turns findings into LSP
values, ``server`` speaks the protocol.
"""

from __future__ import annotations

__all__ = ["serve"]


def serve() -> None:
    """Serve LSP over stdin/stdout until the client says ``exit``.

    ``initialize`` and the first document are answered before pygls is imported (``early.py``): most
    of the start is importing it.
    """
    import logging
    import os
    import sys

    from initlint.server.wire import serve_stdio

    logging.basicConfig(level=logging.WARNING, format="initlint server: %(levelname)s: %(message)s")
    sessions: list = []
    built: list = []

    def session() -> object:  # the linter is imported after `initialize` is answered
        if not sessions:
            from initlint.server.session import Session

            sessions.append(Session())
        return sessions[0]

    def load() -> object:
        from initlint.server.server import build_server

        built.append(build_server(session=session()))  # type: ignore[arg-type]
        return built[0]

    code = serve_stdio(load, session, sys.stdin.buffer, sys.stdout.buffer)
    for server in built:
        server.close()
    # End here, not through the interpreter's shutdown: the thread reading stdin may be blocked in a
    # read, and finalizing stdin under it aborts the process (SIGABRT) instead of exiting.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # closed by the `exit` handler
    logging.shutdown()
    os._exit(code)  # 1 when the client said `exit` without `shutdown`
