"""The ``lsp`` extra stays optional: the linter never imports it, and the server says how to get it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .test_lsp import BROKEN


def test_linting_and_add_noqa_never_import_pygls(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "scale.py").write_text(BROKEN)
    code = (
        "import sys\nfrom initlint.cli import main\n"
        "for args in (['.'], ['.', '--add-noqa']):\n"
        "    sys.argv = ['initlint', *args]\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
        "print(sorted(m for m in ('pygls', 'lsprotocol', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True).stdout
    assert out.splitlines()[-1] == "[]"
    assert "# noqa: INI001" in (tmp_path / "scale.py").read_text()


def test_server_without_the_extra_says_what_to_install() -> None:
    code = "import sys\nsys.modules['pygls'] = None\nfrom initlint.cli import main\nsys.argv = ['initlint', 'server']\nmain()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    assert 'pip install "initlint[lsp]"' in result.stderr
