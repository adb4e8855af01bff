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

    from initlint.server.server import build_server

    logging.basicConfig(level=logging.WARNING, format="initlint server: %(levelname)s: %(message)s")
    build_server().start_io()
