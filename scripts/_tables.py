"""What every table generator's command line does: write the table, or with ``--check`` say whether it is stale."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(table: Path, text: str) -> int:
    """Write ``text`` to ``table``; with ``--check``, write nothing and return 1 if the file differs."""
    if "--check" in sys.argv:
        stale = not table.exists() or table.read_text(encoding="utf-8") != text
        print(f"{table} is {'stale: rerun this script' if stale else 'up to date'}")
        return int(stale)
    table.write_text(text, encoding="utf-8")
    print(f"wrote {table}")
    return 0
