"""Language-server start: how soon ``initialize`` is answered and the first diagnostics arrive.

Usage::

    python benchmarks/lsp_start.py                 # the repository's examples, 7 starts, medians
    python benchmarks/lsp_start.py --tree PATH --file REL/PATH.py --runs 11

Each run starts ``initlint server`` as an editor does and, at once, sends ``initialize``; on the answer,
``initialized`` and ``didOpen`` of ``--file``; it waits for that file's diagnostics. Reported, as the
median of the runs: the wall seconds from sending ``initialize`` to its answer and to the first
diagnostics, and the server's CPU seconds (user + system, from ``/proc``; interpreter start included)
by each, so that a loaded
machine cannot hide a regression (CPU seconds) nor flatter one (wall seconds).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.lsp_client import LspClient  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux ``/proc``; ``nan`` elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_start(root: Path, path: Path) -> tuple[float, float, float, float]:
    """Wall seconds from sending ``initialize`` to its answer and to the first diagnostics, and the
    server's CPU seconds by each."""
    client = LspClient(cwd=root)
    try:
        started = time.monotonic()
        client.initialize(root)  # sends initialized on the answer, as editors do
        answered = time.monotonic() - started
        answered_cpu = cpu_seconds(client.process.pid)
        client.open(path)
        client.diagnostics(path, version=1, timeout=120)
        first = time.monotonic() - started
        return answered, first, answered_cpu, cpu_seconds(client.process.pid)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT / "examples", help="the project folder (copied)")
    parser.add_argument("--file", default="broken/tinygpt/model.py", help="the file to open, inside --tree")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "project"
        shutil.copytree(args.tree, root)
        (root / "pyproject.toml").touch()
        path = root / args.file
        one_start(root, path)  # the first start fills the disk cache and .initlint_cache: editors start warm
        runs = [one_start(root, path) for _ in range(args.runs)]
    answered, first, answered_cpu, cpu = (statistics.median(values) for values in zip(*runs))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.runs} starts, {args.file} of {args.tree.name}, load average {load:.1f} on {os.cpu_count()} CPUs")
    print("| step | wall s (median) | server CPU s by then (median) |")
    print("|---|---:|---:|")
    print(f"| `initialize` answered | {answered:.3f} | {answered_cpu:.3f} |")
    print(f"| first diagnostics after `initialize` | {first:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
