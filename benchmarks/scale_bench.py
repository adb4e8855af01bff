"""Scale: lint time against tree size and file size, and verifier cost against tensor count.

Usage::

    python benchmarks/scale_bench.py            # trees of 5k/10k/20k files, files of 12.5k/25k/50k lines,
                                                # models of 5k/10k/20k tensors

Each point is the median of 3 runs in a fresh process (lint: ``initlint --no-cache -j 2``). Linear
growth shows as a constant time per file / per line / per tensor.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAYER = (
    "import torch\nfrom torch import nn\n\n\nclass Layer{i}(nn.Module):\n    def __init__(self):\n"
    "        super().__init__()\n        self.w = nn.Parameter(torch.empty(4))\n        self.reset_parameters()\n\n"
    "    def reset_parameters(self):\n        nn.init.zeros_(self.w)\n"
)
PLAIN = "def f{i}(x):\n    return x + {i}\n"


def tree(root: Path, files: int) -> None:
    (root / "pyproject.toml").write_text("")
    for i in range(files):
        folder = root / f"pkg{i // 500}"
        folder.mkdir(exist_ok=True)
        # one file in ten creates tensors, as in real model code
        (folder / f"m{i}.py").write_text(LAYER.format(i=i) if i % 10 == 0 else PLAIN.format(i=i) * 5)


def big_file(root: Path, lines: int) -> None:
    (root / "pyproject.toml").write_text("")
    body = [LAYER.format(i=0).split("\n\n\n")[0], ""]
    per = LAYER.count("\n") - 3
    for i in range(lines // per):
        body.append(LAYER.format(i=i).split("\n\n\n")[1])
    (root / "big.py").write_text("\n\n".join(body))


def lint_seconds(root: Path) -> tuple[float, float]:
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from initlint.cli import main; main()", str(root), "--no-cache",
                        "-j", "2", "--exit-zero"], stdout=subprocess.DEVNULL, check=True)
        runs.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return statistics.median(runs), peak


VERIFY = """
import json, sys, time, torch
from torch import nn
from initlint import verified_empty_init
n = int(sys.argv[1])
class Many(nn.Module):
    def __init__(self):
        super().__init__()
        self.params = nn.ParameterList(nn.Parameter(torch.empty(4)) for _ in range(n))
start = time.perf_counter()
with verified_empty_init(check_on_forward=False) as tracker:
    model = Many()
built = time.perf_counter() - start
with torch.no_grad():
    for p in model.params:
        p.fill_(1.0)
start = time.perf_counter()
tracker.check(value_scan=False)
checked = time.perf_counter() - start
print(json.dumps([built, checked]))
"""


def main() -> int:
    print("| corpus | size | median s | per unit | peak RSS MB (max so far) |\n|---|---:|---:|---:|---:|")
    for files in (5_000, 10_000, 20_000):
        with tempfile.TemporaryDirectory() as scratch:
            tree(Path(scratch), files)
            seconds, peak = lint_seconds(Path(scratch))
            print(f"| synthetic tree | {files} files | {seconds:.2f} | {seconds / files * 1e3:.3f} ms/file | {peak:.0f} |")
    for lines in (12_500, 25_000, 50_000):
        with tempfile.TemporaryDirectory() as scratch:
            big_file(Path(scratch), lines)
            seconds, peak = lint_seconds(Path(scratch))
            print(f"| one file | {lines} lines | {seconds:.2f} | {seconds / lines * 1e6:.1f} µs/line | {peak:.0f} |")
    print("\n| tensors | build s | check() s (no value scan) | check per tensor |\n|---:|---:|---:|---:|")
    for tensors in (5_000, 10_000, 20_000):
        runs = [json.loads(subprocess.run([sys.executable, "-c", VERIFY, str(tensors)], capture_output=True,
                                          text=True, check=True).stdout) for _ in range(3)]
        built = statistics.median(r[0] for r in runs)
        checked = statistics.median(r[1] for r in runs)
        print(f"| {tensors} | {built:.3f} | {checked:.3f} | {checked / tensors * 1e6:.1f} µs |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
