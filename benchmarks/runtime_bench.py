"""Runtime cost of the verifier: building, loading a checkpoint, and what it leaves behind (issue 19).

Usage::

    python benchmarks/runtime_bench.py                          # every part, 3 rounds
    python benchmarks/runtime_bench.py --only build             # one part: modes|build|from-pretrained|small-ops
    python benchmarks/runtime_bench.py --size 1.3b --only modes # where memory allows
    python benchmarks/runtime_bench.py --rounds 5 --threads 2

Rounds default to 3 because the reference machine is 2 shared, noisy cores: read a ratio near its target
with that noise in mind, and raise ``--rounds`` where the machine is quiet. Every part reports wall seconds
and CPU seconds (user + system, of the process and its threads) side by side; ratios are taken within one
run, and rounds interleave what is compared. The parts:

``modes``: a GPT-style model (~350M parameters by default), each (mode, round) in a fresh process so that
peak RSS is the mode's own. Modes: normal init, plain ``torch.device("meta")``, Lightning's
``init_module(empty_init=True)``, accelerate's ``init_empty_weights``, and ``verified_empty_init`` (plain,
poison, and around meta). ``check()`` is timed without and with the NaN/inf scan after every tensor was
written, next to the bare floors: one ``torch.isfinite(t).all()`` sweep and one ``fill_(nan)`` over the same
tensors. Peak RSS is each mode's own (the ``verified`` row is read before the benchmark allocates its
floor tensors).

``build`` (target 1.2x): the bare meta and empty-init builds against ``verified_empty_init`` around them,
15 interleaved builds in one process per round: a cost of milliseconds needs many samples.

``from-pretrained`` (target 1.2x): from ``AutoModelForCausalLM.from_pretrained`` of a local ~355M-parameter
Llama (random weights, saved once into ``benchmarks/.cache/llama-355m``; no network) to the end of its first
forward on 16 tokens, plain against the same under ``verified_empty_init()``, whose first forward runs
``check()``. Each sample is a fresh process (imports not timed), plain and verified alternate; the time
spent inside ``check()`` is shown on its own.

``small-ops`` (target 1.0x): in one fresh process per round, 20,000 ``a = a + 1`` on a 4-element tensor
(median of 5 timings) before and after building 300 small models under ``verified_empty_init()`` and
dropping them, two thirds never checked and one third checked after a load; with torch's function-mode
stack length, live Python objects and RSS before and after.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = {"350m": (24, 1024, 16), "1.3b": (24, 2048, 16), "tiny": (2, 128, 4)}
MODES = ["normal", "meta", "lightning", "accelerate", "verified", "verified-poison", "verified-meta"]
PARTS = ["modes", "build", "from-pretrained", "small-ops"]
# 2 * 32000 * 1024 (embeddings, untied head) + 24 * (4 * 1024^2 + 3 * 1024 * 2560) + norms = 355M parameters.
LLAMA_DIMS = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": 16,
              "intermediate_size": 2560, "vocab_size": 32000}
LLAMA = HERE / ".cache" / "llama-355m"
ADDS, ADD_TIMINGS, SMALL_MODELS = 20_000, 5, 300
# Children never reach the network, and print no progress bars into the JSON they answer with.
CHILD_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def clock() -> tuple[float, float]:
    """(wall, CPU) now; CPU is user + system time of this process, all its threads."""
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    """(wall, CPU) seconds elapsed since ``start``."""
    wall, cpu = clock()
    return wall - start[0], cpu - start[1]


def child(mode: str, args: argparse.Namespace) -> dict[str, float]:
    """Run one sample in a fresh process; its JSON answer, plus the whole process's wall and CPU seconds."""
    command = [sys.executable, __file__, "--mode", mode, "--size", args.size, "--threads", str(args.threads)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **CHILD_ENV})
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"--mode {mode} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    result["process_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def build_gpt(n_layer: int, n_embd: int, n_head: int, vocab: int = 50304, block: int = 1024):
    """A nanoGPT-shaped model: the usual Linear/Embedding/LayerNorm modules."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.attn = nn.Linear(n_embd, 3 * n_embd)
            self.proj = nn.Linear(n_embd, n_embd)
            self.ln_2 = nn.LayerNorm(n_embd)
            self.fc = nn.Linear(n_embd, 4 * n_embd)
            self.fc_proj = nn.Linear(4 * n_embd, n_embd)

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(vocab, n_embd)
            self.wpe = nn.Embedding(block, n_embd)
            self.blocks = nn.ModuleList(Block() for _ in range(n_layer))
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, vocab, bias=False)
            self.lm_head.weight = self.wte.weight

    del torch
    return GPT()


def run_mode(mode: str, size: str, threads: int) -> dict[str, float]:
    """One build of the GPT in ``mode``, its peak RSS, and for ``verified`` the cost of ``check()``."""
    import torch

    torch.set_num_threads(threads)
    from initlint import verified_empty_init

    def build(dims: tuple[int, int, int]):
        tracker = None
        if mode == "normal":
            model = build_gpt(*dims)
        elif mode == "meta":
            with torch.device("meta"):
                model = build_gpt(*dims)
        elif mode == "lightning":
            import lightning as L

            with L.Fabric(accelerator="cpu", devices=1).init_module(empty_init=True):
                model = build_gpt(*dims)
        elif mode == "accelerate":
            from accelerate import init_empty_weights

            with init_empty_weights():
                model = build_gpt(*dims)
        else:
            inner = torch.device("meta") if mode == "verified-meta" else None
            poison = mode == "verified-poison"
            with verified_empty_init(inner, poison=poison, check_on_forward=False) as tracker:
                model = build_gpt(*dims)
        return model, tracker

    warm_model, warm_tracker = build(SIZES["tiny"])  # first use of meta/dispatch paths costs seconds
    if warm_tracker is not None:
        warm_tracker.close()
    del warm_model, warm_tracker
    start = clock()
    model, tracker = build(SIZES[size])
    result = dict(zip(("build_s", "build_cpu_s"), since(start)))
    tensors = [t for t in (*model.parameters(), *model.buffers())]
    result["tensors"] = len(tensors)
    result["params"] = sum(t.numel() for t in model.parameters())
    if mode == "verified":
        with torch.no_grad():  # every tensor written, as a load would
            for t in tensors:
                t.normal_(0, 0.02) if t.is_floating_point() else t.zero_()
        start = clock()
        report = tracker.report(value_scan=False)
        result["check_no_scan_s"], result["check_no_scan_cpu_s"] = since(start)
        assert report.ok, report.format()
        start = clock()
        tracker.check(value_scan=True)
        result["check_scan_s"], result["check_scan_cpu_s"] = since(start)
        # The mode's own peak, before the floors below allocate tensors of their own.
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = clock()
        assert all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())
        result["isfinite_sweep_s"], result["isfinite_sweep_cpu_s"] = since(start)
        # The floor for poison: fill_ over freshly allocated memory of the same shapes (first touch,
        # as poison meets it after skip-init), not over memory already written.
        fresh = [torch.empty_like(t) for t in tensors if t.is_floating_point()]
        start = clock()
        with torch.no_grad():
            for t in fresh:
                t.fill_(math.nan)
        result["fill_nan_s"], result["fill_nan_cpu_s"] = since(start)
        del fresh
        return result
    if tracker is not None:
        tracker.close()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def build_overhead(size: str, builds: int, threads: int) -> dict[str, float]:
    """Median build times (wall ``name``, CPU ``name cpu``) of the bare empty-init contexts and of
    ``verified_empty_init`` around them, interleaved in one process: the observer costs milliseconds, which
    one build per process cannot resolve. "empty" is Lightning's ``_EmptyInit`` on its own (a
    TorchFunctionMode skipping ``torch.nn.init``), the bare floor of ``verified_empty_init()`` with no context."""
    import torch
    from lightning.fabric.utilities.init import _EmptyInit

    from initlint import verified_empty_init

    torch.set_num_threads(threads)

    def bare(inner):
        def build() -> None:
            with inner():
                build_gpt(*SIZES[size])
        return build

    def verified(inner):
        def build() -> None:
            with verified_empty_init(inner() if inner else None, check_on_forward=False) as tracker:
                build_gpt(*SIZES[size])
            tracker.close()
        return build

    meta = lambda: torch.device("meta")  # noqa: E731
    variants = {"meta": bare(meta), "verified(meta)": verified(meta), "empty": bare(_EmptyInit), "verified()": verified(None)}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for build in variants.values():  # warm-up
        build()
    for _ in range(builds):
        for name, build in variants.items():
            start = clock()
            build()
            times[name].append(since(start))
    result = {name: statistics.median(wall for wall, _ in values) for name, values in times.items()}
    result.update({f"{name} cpu": statistics.median(cpu for _, cpu in values) for name, values in times.items()})
    return result


def save_llama() -> dict[str, float]:
    """Write the random-weight Llama checkpoint once (torch's default init, safetensors), atomically: an
    interrupted save must not pass for a checkpoint."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**LLAMA_DIMS))
    partial = LLAMA.with_name(LLAMA.name + ".partial")
    model.save_pretrained(partial, safe_serialization=True)
    partial.rename(LLAMA)
    return {"params": sum(p.numel() for p in model.parameters())}


def ensure_llama(args: argparse.Namespace) -> None:
    """Save the checkpoint on first use, then read it once so every timed sample finds it in the page cache."""
    if not (LLAMA / "config.json").exists():
        child("save-llama", args)
    for path in LLAMA.glob("*.safetensors"):
        with path.open("rb") as stream:
            while stream.read(1 << 24):
                pass


def time_check(tracker, spent: dict[str, float]) -> None:
    """Record the wall and CPU seconds of this tracker's ``check()`` (run by the first forward) in ``spent``."""
    check = tracker.check

    def timed(*args, **kwargs):
        start = clock()
        try:
            return check(*args, **kwargs)
        finally:
            spent["check_s"], spent["check_cpu_s"] = since(start)

    tracker.check = timed


def load_and_forward(verified: bool, threads: int) -> dict[str, float]:
    """From ``from_pretrained`` of the local Llama to the end of its first forward, plain or verified.
    Imports are not timed: both pay them alike, and the verifier's import is not what the target is about."""
    import torch
    from transformers import AutoModelForCausalLM

    from initlint import verified_empty_init

    torch.set_num_threads(threads)
    tokens = torch.randint(0, LLAMA_DIMS["vocab_size"], (1, 16), generator=torch.Generator().manual_seed(0))
    result = {"check_s": 0.0, "check_cpu_s": 0.0}
    start = clock()
    if verified:
        with verified_empty_init() as tracker:
            model = AutoModelForCausalLM.from_pretrained(LLAMA)
        time_check(tracker, result)
    else:
        model = AutoModelForCausalLM.from_pretrained(LLAMA)
    result["load_s"], _ = since(start)
    loaded = clock()
    with torch.no_grad():
        model(tokens)
    result["wall_s"], result["cpu_s"] = since(start)
    result["forward_s"], _ = since(loaded)
    if verified:  # the first forward must have given the verdict, or the sample measured something else
        assert tracker.verdict is not None and tracker.verdict.ok, tracker.verdict
    result["params"] = sum(p.numel() for p in model.parameters())
    return result


def small_ops(threads: int) -> dict[str, float]:
    """Small-op time, torch's function-mode stack, live objects and RSS before and after building
    ``SMALL_MODELS`` small models under ``verified_empty_init()`` and dropping them."""
    import gc

    import torch
    from torch import nn

    from initlint import verified_empty_init

    torch.set_num_threads(threads)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(100, 16)
            self.fc1 = nn.Linear(16, 32)
            self.fc2 = nn.Linear(32, 4)

    def adds() -> tuple[float, float]:
        a = torch.zeros(4)
        start = clock()
        for _ in range(ADDS):
            a = a + 1
        return since(start)

    def state(when: str) -> dict[str, float]:
        gc.collect()
        timings = [adds() for _ in range(ADD_TIMINGS)]
        with open("/proc/self/statm") as statm:
            rss_mb = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        return {
            f"{when}_s": statistics.median(wall for wall, _ in timings),
            f"{when}_cpu_s": statistics.median(cpu for _, cpu in timings),
            f"{when}_stack": torch._C._len_torch_function_stack(),
            f"{when}_objects": len(gc.get_objects()),
            f"{when}_rss_mb": rss_mb,
        }

    reference = Net().state_dict()
    adds()  # warm-up: the first calls pay for dispatch caches
    result = state("before")
    start = clock()
    for i in range(SMALL_MODELS):
        with verified_empty_init() as tracker:
            model = Net()
        if i % 3 == 0:
            model.load_state_dict(reference)
            tracker.check()
        del model, tracker
    result["models_s"], result["models_cpu_s"] = since(start)
    result.update(state("after"))
    return result


def print_modes(args: argparse.Namespace) -> None:
    """The per-mode build table of the GPT and the cost of ``check()`` next to its bare floors."""
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            results[mode].append(child(mode, args))

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in results[mode])

    print(f"## modes: model {args.size} ({med('normal', 'params') / 1e6:.0f}M parameters, "
          f"{int(med('normal', 'tensors'))} tensors), one build per process, median of {args.rounds} rounds\n")
    print("| mode | build s | build CPU s | peak RSS MB | build vs meta |")
    print("|---|---:|---:|---:|---:|")
    for mode in MODES:
        print(f"| {mode} | {med(mode, 'build_s'):.3f} | {med(mode, 'build_cpu_s'):.3f} | "
              f"{med(mode, 'peak_rss_mb'):.0f} | {med(mode, 'build_s') / med('meta', 'build_s'):.2f}x |")
    normal = med("normal", "build_s")
    print("\n| measure | seconds | CPU s | ratio |")
    print("|---|---:|---:|---|")
    print(f"| check() without value scan | {med('verified', 'check_no_scan_s'):.4f} | "
          f"{med('verified', 'check_no_scan_cpu_s'):.4f} | |")
    for label, key in (("check() with NaN/inf scan (default)", "check_scan"),
                       ("bare isfinite(t).all() sweep", "isfinite_sweep")):
        print(f"| {label} | {med('verified', key + '_s'):.3f} | {med('verified', key + '_cpu_s'):.3f} | "
              f"{med('verified', key + '_s') / normal:.3f}x normal init |")
    print(f"| bare fill_(nan) over fresh tensors of the same shapes | {med('verified', 'fill_nan_s'):.3f} | "
          f"{med('verified', 'fill_nan_cpu_s'):.3f} | |")
    poison_extra = med("verified-poison", "build_s") - med("verified", "build_s")
    print(f"| poison cost (build poison - build plain) | {poison_extra:.3f} | | "
          f"{poison_extra / med('verified', 'fill_nan_s'):.2f}x bare fill_ |\n")


def print_build(args: argparse.Namespace) -> None:
    """Target 1: building under the verifier within 1.2x of the bare context it wraps."""
    runs = [child("build-overhead", args) for _ in range(args.rounds)]

    def ms(name: str) -> float:
        return statistics.median(r[name] for r in runs) * 1000

    print(f"## build: {args.size} GPT, 15 interleaved builds per process, median of {args.rounds} rounds (target 1.2x)\n")
    print("| build | bare ms | verified ms | ratio | bare CPU ms | verified CPU ms | CPU ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for bare, verified in (("meta", "verified(meta)"), ("empty", "verified()")):
        print(f"| {verified} vs {bare} | {ms(bare):.1f} | {ms(verified):.1f} | {ms(verified) / ms(bare):.2f}x | "
              f"{ms(bare + ' cpu'):.1f} | {ms(verified + ' cpu'):.1f} | "
              f"{ms(verified + ' cpu') / ms(bare + ' cpu'):.2f}x |")
    print()


def print_from_pretrained(args: argparse.Namespace) -> None:
    """Target 2: from_pretrained to the end of the first forward, verified within 1.2x of plain."""
    ensure_llama(args)
    samples: dict[str, list[dict[str, float]]] = {"plain": [], "verified": []}
    for _ in range(args.rounds):
        for name in samples:
            samples[name].append(child(f"from-pretrained-{name}", args))

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in samples[name])

    params = med("plain", "params") / 1e6
    print(f"## from-pretrained: local {params:.0f}M Llama (fp32 safetensors) to the end of the first forward "
          f"on 16 tokens, fresh process per sample, plain and verified alternating, median of {args.rounds} "
          f"(target 1.2x)\n")
    print("| measure | plain | verified | ratio |")
    print("|---|---:|---:|---:|")
    rows = (("from_pretrained + first forward, wall s", "wall_s"), ("same, CPU s", "cpu_s"),
            ("of which from_pretrained, wall s", "load_s"),
            ("of which first forward, wall s (verified: includes check())", "forward_s"),
            ("whole process with imports, wall s", "process_wall_s"),
            ("whole process with imports, CPU s", "process_cpu_s"))
    for label, key in rows:
        print(f"| {label} | {med('plain', key):.2f} | {med('verified', key):.2f} | "
              f"{med('verified', key) / med('plain', key):.2f}x |")
    share = med("verified", "check_s") / med("verified", "wall_s")
    print(f"| check() at the first forward, wall s / CPU s | | {med('verified', 'check_s'):.3f} / "
          f"{med('verified', 'check_cpu_s'):.3f} | {share:.1%} of verified wall |\n")


def print_small_ops(args: argparse.Namespace) -> None:
    """Target 3: small ops as fast after hundreds of models built and dropped as before them."""
    runs = [child("small-ops", args) for _ in range(args.rounds)]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(f"## small-ops: {ADDS:,} `a = a + 1` on a 4-element tensor, median of {ADD_TIMINGS} timings, before and "
          f"after {SMALL_MODELS} models built under verified_empty_init() and dropped (a third checked after a "
          f"load), fresh process per round, median of {args.rounds} rounds (target 1.0x)\n")
    print("| measure | before | after | ratio |")
    print("|---|---:|---:|---:|")
    for label, key, scale, digits in (("adds, wall ms", "s", 1000, 1), ("adds, CPU ms", "cpu_s", 1000, 1),
                                      ("torch function-mode stack length", "stack", 1, 0),
                                      ("live Python objects", "objects", 1, 0), ("RSS MB", "rss_mb", 1, 1)):
        before, after = med(f"before_{key}") * scale, med(f"after_{key}") * scale
        ratio = f"{after / before:.2f}x" if before else ""
        print(f"| {label} | {before:.{digits}f} | {after:.{digits}f} | {ratio} |")
    print(f"| building and dropping the {SMALL_MODELS} models, wall s / CPU s | | "
          f"{med('models_s'):.2f} / {med('models_cpu_s'):.2f} | |\n")


def run_child(args: argparse.Namespace) -> dict[str, float]:
    """The answer of one child process (``--mode``)."""
    if args.mode == "build-overhead":
        return build_overhead(args.size, builds=15, threads=args.threads)
    if args.mode == "save-llama":
        return save_llama()
    if args.mode.startswith("from-pretrained-"):
        return load_and_forward(args.mode == "from-pretrained-verified", args.threads)
    if args.mode == "small-ops":
        return small_ops(args.threads)
    return run_mode(args.mode, args.size, args.threads)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    parser.add_argument("--size", choices=sorted(SIZES), default="350m", help="GPT size for modes and build")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (fresh processes) per measure")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch.set_num_threads in every child")
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_child(args)))
        return 0
    where = Path(importlib.util.find_spec("initlint").origin).parent  # a copy under test may shadow the checkout
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs; torch threads {args.threads}; "
          f"{args.rounds} rounds; CPU = user + system seconds; initlint from {where}\n")
    printers = {"modes": print_modes, "build": print_build, "from-pretrained": print_from_pretrained,
                "small-ops": print_small_ops}
    for part in PARTS:
        if args.only is None or part in args.only:
            started = time.perf_counter()
            printers[part](args)
            print(f"({part} took {time.perf_counter() - started:.0f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
