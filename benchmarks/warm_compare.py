"""The warm rows of the pre-commit targets for several checkouts of initlint, interleaved row by row.

Usage::

    git archive <commit> --prefix=base/ | tar x -C /tmp          # each checkout to compare, as plain files
    python benchmarks/warm_compare.py --rounds 7 base=/tmp/base new=.

Each checkout runs with its own folder first on ``PYTHONPATH`` (byte-compiled first, as a wheel install is)
and keeps its own cache in the same copies of torch and transformers 5.23.0 (a cache folder per format and
version). Every round runs, for each row, every checkout one after the other, so that a change of load
hits them alike; a whole run and a one-file run alternate as CI and pre-commit do. Cells are medians of wall
and CPU seconds (the process and its workers).
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from lint_bench import HERE, TRANSFORMERS, prepare, timed, torch_corpus, transformers_corpus


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+", metavar="NAME=PATH", help="a name and a checkout's root folder")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    checkouts = {name: str(Path(path).resolve()) for name, _, path in (c.partition("=") for c in args.checkouts)}
    for root in checkouts.values():
        compileall.compile_dir(os.path.join(root, "initlint"), quiet=1)
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        torch_root = prepare(torch_corpus(scratch))
        transformers_root = scratch / "transformers"
        shutil.copytree(transformers_corpus(), transformers_root)
        prepare(transformers_root)
        rows = {"warm torch": [str(torch_root)], f"warm {TRANSFORMERS}": [str(transformers_root)],
                "one file (modeling_llama.py)": [str(transformers_root / "models" / "llama" / "modeling_llama.py")]}

        def run(root: str, paths: list[str]) -> tuple[float, float]:
            os.environ["PYTHONPATH"] = root
            return timed([sys.executable, "-c", "from initlint.cli import main; main()", *paths, "--exit-zero",
                          "-j", "2"])

        for root in checkouts.values():  # fill each cache; the second run settles files copied a moment ago
            for paths in [*rows.values()][:2] * 2:
                run(root, paths)
        cells: dict[tuple[str, str], list[tuple[float, float]]] = {(n, r): [] for n in checkouts for r in rows}
        loads = []
        for _ in range(args.rounds):
            loads.append(os.getloadavg()[0])
            for row, paths in rows.items():
                for name, root in checkouts.items():
                    cells[(name, row)].append(run(root, paths))
    print(f"### warm rows, {args.rounds} rounds (load average {min(loads):.1f}-{max(loads):.1f}), from {HERE.name}/\n")
    print("| code | " + " | ".join(f"{row}: wall s / CPU s" for row in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for name in checkouts:
        medians = [(statistics.median(w for w, _ in cells[(name, row)]),
                    statistics.median(c for _, c in cells[(name, row)])) for row in rows]
        print(f"| {name} | " + " | ".join(f"{wall:.3f} / {cpu:.3f}" for wall, cpu in medians) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
