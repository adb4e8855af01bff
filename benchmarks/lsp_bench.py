"""Language-server latency: ``initlint server`` driven over stdio as an editor drives it, on a real tree.

Usage::

    python benchmarks/lsp_bench.py                       # timm 1.0.31 (as the tests unpack it), 20 edits
    python benchmarks/lsp_bench.py --tree PATH --file REL/PATH.py --edits 50

A copy of the tree is indexed cold (no ``.initlint_cache``); then one file is opened and edited
``--edits`` times. Reported: the indexing wall time, didOpen -> publishDiagnostics, and the median and
worst didChange -> publishDiagnostics (which includes the server's 0.3 s debounce), and codeAction.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.lsp_client import LspClient  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT / "tests" / "_thirdparty" / "timm-1.0.31" / "timm",
                        help="a package folder (default: timm 1.0.31 as tests/lint/test_thirdparty.py unpacks it)")
    parser.add_argument("--file", default="layers/grn.py", help="the file to open and edit, inside --tree")
    parser.add_argument("--edits", type=int, default=20)
    args = parser.parse_args()
    if not args.tree.is_dir():
        sys.exit(f"{args.tree}: not found; run `python -m pytest tests/lint/test_thirdparty.py -k timm` to unpack it")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        shutil.copytree(args.tree, root / args.tree.name)
        (root / "pyproject.toml").write_text("")
        files = sum(1 for _ in (root / args.tree.name).rglob("*.py"))
        client = LspClient(cwd=root)
        started = time.monotonic()
        client.initialize(root)
        client.wait_for(lambda m: m["method"] == "$/progress" and m["params"]["value"]["kind"] == "end", 600)
        indexed = time.monotonic() - started
        path = root / args.tree.name / args.file
        text = path.read_text(encoding="utf-8")
        started = time.monotonic()
        client.open(path)
        found = client.diagnostics(path, version=1)
        opened = time.monotonic() - started
        changes = []
        for version in range(2, args.edits + 2):
            started = time.monotonic()
            client.change(path, f"{text}\n# edit {version}\n", version)
            client.diagnostics(path, version=version)
            changes.append(time.monotonic() - started)
        started = time.monotonic()
        if found:
            client.code_actions(path, found[0])
        action = time.monotonic() - started
        client.close()
    print(f"| step | wall s |\n|---|---:|\n| index {files} files (cold) | {indexed:.2f} |")
    print(f"| didOpen -> diagnostics ({len(found)} findings) | {opened:.3f} |")
    print(f"| didChange -> diagnostics, median of {args.edits} (0.3 s of it debounce) | {statistics.median(changes):.3f} |")
    print(f"| didChange -> diagnostics, worst | {max(changes):.3f} |")
    print(f"| codeAction on the first finding | {action:.3f} |")


if __name__ == "__main__":
    main()
