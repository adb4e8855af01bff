"""The language server (``initlint server``): initlint's diagnostics and fixes in the editor.

Needs the ``lsp`` extra (``pip install "initlint[lsp]"``: pygls and lsprotocol); the linter itself never
imports it. ``session`` is what the server asks of the linter, ``convert`` turns findings into LSP
values, ``server`` speaks the protocol.
"""

from __future__ import annotations

__all__ = ["serve"]


def serve() -> None:
    """Serve LSP over stdin/stdout until the client says ``exit``."""
    import logging
    import os
    import sys

    from initlint.server.server import build_server

    logging.basicConfig(level=logging.WARNING, format="initlint server: %(levelname)s: %(message)s")
    server = build_server()
    server.start_io()
    # End here, not through the interpreter's shutdown: the thread reading stdin may be blocked in a
    # read, and finalizing stdin under it aborts the process (SIGABRT) instead of exiting.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # closed by the `exit` handler
    logging.shutdown()
    os._exit(server.exit_code)  # 1 when the client said `exit` without `shutdown`
