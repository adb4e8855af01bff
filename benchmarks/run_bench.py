"""Overhead of ``initlint run`` against ``python`` on whole training scripts (target: within 1.1x).

Usage::

    python benchmarks/run_bench.py                     # both workloads, 3 rounds
    python benchmarks/run_bench.py --rounds 5 --workload lightning_fit --json

Workloads (``benchmarks/run_workloads/``): a Lightning ``Trainer.fit`` of a small MLP built under
``trainer.init_module(empty_init=True)`` and loaded (200 steps), and a transformers fine-tuning loop of a
small Llama loaded with ``from_pretrained`` (20 steps). Each (workload, mode, round) is a fresh process,
timed from start to exit (wall) with the CPU seconds it used (user + system, its children included);
rounds interleave the modes (alternating which goes first) and the table shows medians and minima,
the ratios taken within the run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKLOADS = ("lightning_fit", "hf_finetune")
MODES = {"python": [], "initlint run": ["-m", "initlint", "run"]}


def _env() -> dict[str, str]:
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, env=_env(), stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench(workloads: list[str], rounds: int) -> dict[str, dict[str, list[tuple[float, float]]]]:
    samples: dict[str, dict[str, list[tuple[float, float]]]] = {w: {m: [] for m in MODES} for w in workloads}
    with tempfile.TemporaryDirectory() as folder:
        for workload in workloads:
            script = str(HERE / "run_workloads" / f"{workload}.py")
            subprocess.run([sys.executable, script, folder, "--prepare"], check=True, env=_env())
            subprocess.run([sys.executable, script, folder], check=True, env=_env())  # warm the file cache
        for round_ in range(rounds):
            for workload in workloads:
                script = str(HERE / "run_workloads" / f"{workload}.py")
                order = list(MODES) if round_ % 2 == 0 else list(reversed(MODES))
                for mode in order:
                    samples[workload][mode].append(timed([sys.executable, *MODES[mode], script, folder]))
    return samples


def table(samples: dict[str, dict[str, list[tuple[float, float]]]]) -> str:
    """Medians, and minima (on a shared machine noise only adds: the minimum is the closest to the cost)."""
    lines = [
        "| workload | statistic | python wall s | `initlint run` wall s | wall ratio | python CPU s | "
        "`initlint run` CPU s | CPU ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for workload, modes in samples.items():
        for name, statistic in (("median", statistics.median), ("min", min)):
            plain_wall, plain_cpu = (statistic(s[i] for s in modes["python"]) for i in (0, 1))
            run_wall, run_cpu = (statistic(s[i] for s in modes["initlint run"]) for i in (0, 1))
            lines.append(
                f"| {workload} | {name} | {plain_wall:.2f} | {run_wall:.2f} | {run_wall / plain_wall:.3f}x | "
                f"{plain_cpu:.2f} | {run_cpu:.2f} | {run_cpu / plain_cpu:.3f}x |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workload", choices=WORKLOADS, action="append")
    parser.add_argument("--json", action="store_true", help="print the raw samples as JSON too")
    args = parser.parse_args()
    samples = bench(args.workload or list(WORKLOADS), args.rounds)
    import torch

    print(f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs, {args.rounds} rounds")
    print(table(samples))
    if args.json:
        print(json.dumps(samples))


if __name__ == "__main__":
    main()
