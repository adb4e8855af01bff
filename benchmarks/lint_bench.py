"""Lint speed: initlint against the parse floors and the peer libcst linters, on real corpora.

Usage::

    python benchmarks/lint_bench.py                       # the targets table, then both corpora, 3 rounds
    python benchmarks/lint_bench.py --targets-only --rounds 5   # only the pre-commit targets (issue 13)
    python benchmarks/lint_bench.py --rounds 5 --corpus torch
    python benchmarks/lint_bench.py --peers-on-whole-corpus   # TorchFix/Fixit on everything (tens of minutes)

Every tool runs as its own process; rounds interleave the tools, and each table cell is the median over
rounds (wall seconds, and CPU seconds of the process and its workers). Ratios are taken within the run.
TorchFix and Fixit are installed into ``benchmarks/.venv-peers`` on first use and run on a named subset
(``torch/nn`` + ``torch/optim``) next to initlint on the same subset.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE / ".venv-peers"
TRANSFORMERS = "transformers==5.23.0"

FLOOR = """
import sys, pathlib
{parser}
for path in pathlib.Path(sys.argv[1]).rglob("*.py"):
    try:
        parse(path.read_bytes().decode("utf-8", "replace"))
    except Exception:
        pass
"""
AST = "import ast\nparse = ast.parse"
LIBCST = "import libcst\nparse = libcst.parse_module"


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child and its own children). Run from this folder: a corpus
    holds modules named like the standard library's (torch/random.py) that must not shadow it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: findings (TorchFix, Fixit)
        raise SystemExit(f"{command[:4]} failed ({done.returncode}): {done.stderr[-800:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def peers() -> Path:
    """The Python of a separate environment holding TorchFix and Fixit."""
    python = PEERS / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "torchfix==0.7.0", "fixit==2.2.1"], check=True)
    return python


def transformers_corpus() -> Path:
    """The pinned transformers wheel's package, unpacked once under benchmarks/.corpora."""
    target = HERE / ".corpora" / TRANSFORMERS.replace("==", "-")
    if not target.exists():
        with tempfile.TemporaryDirectory() as download:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", download, TRANSFORMERS], check=True
            )
            (wheel,) = Path(download).glob("*.whl")
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(target)
    return target / "transformers"


def torch_corpus(scratch: Path) -> Path:
    """A copy of the installed torch's sources in a scratch git repository (its own project root)."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    assert spec is not None and spec.origin is not None, "install torch first"
    target = scratch / "torch"
    shutil.copytree(Path(spec.origin).parent, target, ignore=shutil.ignore_patterns("*.so*", "*.a", "lib", "include", "bin"))
    return target


def prepare(corpus: Path) -> Path:
    """A private copy as its own project (pyproject.toml), so caches stay inside it."""
    (corpus / "pyproject.toml").write_text("[project]\nname = 'corpus'\n")
    return corpus


INNER_FLOOR = """
import ast, sys, time, pathlib
paths = [p for top in sys.argv[1:] for p in sorted(pathlib.Path(top).rglob("*.py"))]
start, cpu = time.perf_counter(), time.process_time()
for path in paths:
    try:
        ast.parse(path.read_bytes().decode("utf-8", "replace"))
    except Exception:
        pass
print(time.perf_counter() - start, time.process_time() - cpu)
"""
IMPORT_CLI = """import time
start, cpu = time.perf_counter(), time.process_time()
import initlint.cli
print(time.perf_counter() - start, time.process_time() - cpu)
"""


def compiled() -> None:
    """Byte-compile initlint as installing its wheel does (this machine sets PYTHONDONTWRITEBYTECODE,
    so an editable checkout would otherwise be compiled from source by every process)."""
    import compileall

    compileall.compile_dir(str(HERE.parent / "initlint"), quiet=1)


def inner_pair(command: list[str]) -> tuple[float, float]:
    """The wall and CPU seconds a child process prints (its own in-process measurement)."""
    done = subprocess.run(command, cwd=HERE, capture_output=True, text=True, check=True)
    wall, _, cpu = done.stdout.strip().splitlines()[-1].partition(" ")
    return float(wall), float(cpu or "nan")


def targets(torch_root: Path, transformers_root: Path, rounds: int) -> str:
    """The pre-commit rows of issue 13, each beside its target, measured in this one run."""
    compiled()
    initlint = [sys.executable, "-c", "from initlint.cli import main; main()"]
    subset = [torch_root / name for name in ("nn", "optim", "distributed", "fx")]
    llama = transformers_root / "models" / "llama" / "modeling_llama.py"
    for root in (torch_root, transformers_root):  # fill the caches; the second run settles files
        for _ in range(2):  # copied a moment ago (too recent for their stat to be trusted)
            time.sleep(2.1)
            subprocess.run([*initlint, str(root), "--exit-zero", "-j", "2"], cwd=HERE, stdout=subprocess.DEVNULL)
    names = ("import", "python", "warm torch", "warm transformers", "one file", "cold subset", "floor subset")
    rows: dict[str, list[float]] = {f"{name}{cpu}": [] for name in names for cpu in ("", " CPU")}
    loads = []
    for _ in range(rounds):
        loads.append(os.getloadavg()[0])
        measured = {
            "import": inner_pair([sys.executable, "-c", IMPORT_CLI]),
            "python": timed([sys.executable, "-c", "pass"]),
            "warm torch": timed([*initlint, str(torch_root), "--exit-zero", "-j", "2"]),
            "warm transformers": timed([*initlint, str(transformers_root), "--exit-zero", "-j", "2"]),
            "one file": timed([*initlint, str(llama), "--exit-zero", "-j", "2"]),
            "cold subset": timed([*initlint, *map(str, subset), "--exit-zero", "--no-cache", "-j", "2"]),
            "floor subset": inner_pair([sys.executable, "-c", INNER_FLOOR, *map(str, subset)]),
        }
        for name, (wall, cpu) in measured.items():
            rows[name].append(wall)
            rows[f"{name} CPU"].append(cpu)
    m = {name: median(values) for name, values in rows.items()}
    files = sum(1 for top in subset for _ in top.rglob("*.py"))
    ratio = m["cold subset"] / m["floor subset"]
    lines = [
        f"### pre-commit targets (median of {rounds} rounds; load average at the start of each round: "
        f"{', '.join(f'{load:.1f}' for load in loads)})",
        "",
        "Targets are wall seconds on free CPUs; the CPU column (the process and its workers) is what load cannot "
        "inflate.",
        "",
        "| run | measured | CPU s | target | met |",
        "|---|---:|---:|---:|---|",
        f"| warm (cache, nothing changed), whole torch package | {m['warm torch']:.3f} s | {m['warm torch CPU']:.3f} "
        f"| < 0.3 s | {_met(m['warm torch'] < 0.3)} |",
        f"| warm, whole {TRANSFORMERS} package | {m['warm transformers']:.3f} s | {m['warm transformers CPU']:.3f} "
        f"| < 0.5 s | {_met(m['warm transformers'] < 0.5)} |",
        f"| one file (`modeling_llama.py`) inside the warm transformers tree | {m['one file']:.3f} s | "
        f"{m['one file CPU']:.3f} | < 0.3 s | {_met(m['one file'] < 0.3)} |",
        f"| cold torch nn+optim+distributed+fx ({files} files), process / in-process `ast.parse` "
        f"({m['cold subset']:.2f} s / {m['floor subset']:.2f} s) | {ratio:.2f}x | | <= 1.3x | {_met(ratio <= 1.3)} |",
        f"| the same in CPU seconds (process and its workers / in-process floor: "
        f"{m['cold subset CPU']:.2f} s / {m['floor subset CPU']:.2f} s) | | "
        f"{m['cold subset CPU'] / m['floor subset CPU']:.2f}x | | |",
        f"| importing `initlint.cli` (in-process) | {m['import']:.3f} s | {m['import CPU']:.3f} | < 0.08 s | "
        f"{_met(m['import'] < 0.08)} |",
        f"| (for scale: a bare `python -c pass` process) | {m['python']:.3f} s | {m['python CPU']:.3f} | | |",
    ]
    return "\n".join(lines) + "\n"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bench(corpus: Path, subset: list[Path], rounds: int, whole_peers: bool) -> list[tuple[str, float, float]]:
    initlint = [sys.executable, "-c", "from initlint.cli import main; main()"]
    cache = corpus / ".initlint_cache"
    touched = next(p for p in sorted(corpus.rglob("*.py")) if "register_buffer" in p.read_text(errors="replace"))
    original = touched.read_text()
    python_peers = peers()
    tools: dict[str, list[str]] = {
        "ast.parse floor (1 process)": [sys.executable, "-c", FLOOR.format(parser=AST), str(corpus)],
        "libcst.parse_module floor (1 process)": [sys.executable, "-c", FLOOR.format(parser=LIBCST), str(corpus)],
        "initlint cold, 1 worker": [*initlint, str(corpus), "--exit-zero", "--no-cache", "-j", "1"],
        "initlint cold, 2 workers": [*initlint, str(corpus), "--exit-zero", "--no-cache", "-j", "2"],
        "initlint warm (cache, nothing changed)": [*initlint, str(corpus), "--exit-zero", "-j", "2"],
        "initlint, one file changed": [*initlint, str(corpus), "--exit-zero", "-j", "2"],
        "initlint cold, 2 workers, subset": [*initlint, *map(str, subset), "--exit-zero", "--no-cache", "-j", "2"],
        "TorchFix (default rules), subset": [str(python_peers), "-m", "torchfix", *map(str, subset)],
        "Fixit (default rules), subset": [str(python_peers), "-m", "fixit", "lint", *map(str, subset)],
    }
    if whole_peers:
        tools["TorchFix (default rules), whole corpus"] = [str(python_peers), "-m", "torchfix", str(corpus)]
        tools["Fixit (default rules), whole corpus"] = [str(python_peers), "-m", "fixit", "lint", str(corpus)]
    walls: dict[str, list[float]] = {name: [] for name in tools}
    cpus: dict[str, list[float]] = {name: [] for name in tools}
    for _ in range(rounds):
        for name, command in tools.items():
            if name.startswith("initlint warm"):
                subprocess.run(command, cwd=HERE, stdout=subprocess.DEVNULL)  # fill the cache first
            if name.startswith("initlint, one file"):
                subprocess.run(command, cwd=HERE, stdout=subprocess.DEVNULL)
                touched.write_text(original + f"\n# edit {time.time()}\n")
            wall, cpu = timed(command)
            walls[name].append(wall)
            cpus[name].append(cpu)
        touched.write_text(original)
        shutil.rmtree(cache, ignore_errors=True)
    return [(name, median(walls[name]), median(cpus[name])) for name in tools]


def table(title: str, rows: list[tuple[str, float, float]]) -> str:
    by_name = {name: (wall, cpu) for name, wall, cpu in rows}
    floor = by_name["ast.parse floor (1 process)"][0]
    subset = by_name["initlint cold, 2 workers, subset"][0]
    lines = [f"### {title}", "", "| tool | wall s (median) | CPU s (median) | ratio |", "|---|---:|---:|---|"]
    for name, wall, cpu in rows:
        if "subset" in name and not name.startswith("initlint"):
            ratio = f"initlint subset / this = {subset / wall:.3f}"
        elif "subset" in name:
            ratio = ""
        else:
            ratio = f"{wall / floor:.2f}x the ast.parse floor"
        lines.append(f"| {name} | {wall:.2f} | {cpu:.2f} | {ratio} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--corpus", choices=["torch", "transformers", "both"], default="both")
    parser.add_argument("--peers-on-whole-corpus", action="store_true")
    parser.add_argument("--targets-only", action="store_true", help="only the pre-commit targets table")
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}\n")
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        torch_copy = prepare(torch_corpus(scratch / "targets"))
        transformers_copy = scratch / "targets" / "transformers"
        shutil.copytree(transformers_corpus(), transformers_copy)
        print(targets(torch_copy, prepare(transformers_copy), args.rounds), flush=True)
        if args.targets_only:
            return 0
        if args.corpus in ("torch", "both"):
            corpus = prepare(torch_corpus(scratch))
            subset = [corpus / "nn", corpus / "optim"]
            rows = bench(corpus, subset, args.rounds, args.peers_on_whole_corpus)
            print(table(f"torch sources ({len(list(corpus.rglob('*.py')))} files); subset: torch/nn + torch/optim", rows))
        if args.corpus in ("transformers", "both"):
            copy = scratch / "transformers"
            shutil.copytree(transformers_corpus(), copy)
            corpus = prepare(copy)
            subset = [corpus / "models" / "llama", corpus / "models" / "gpt2", corpus / "models" / "bert"]
            rows = bench(corpus, subset, args.rounds, args.peers_on_whole_corpus)
            print(table(f"{TRANSFORMERS} ({len(list(corpus.rglob('*.py')))} files); subset: models/llama, gpt2, bert", rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
