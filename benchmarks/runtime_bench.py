"""Runtime cost of the verifier on a GPT-style model (~350M parameters by default).

Usage::

    python benchmarks/runtime_bench.py                 # 350M, 3 rounds
    python benchmarks/runtime_bench.py --size 1.3b     # where memory allows
    python benchmarks/runtime_bench.py --rounds 5

Each (mode, round) runs in a fresh process so that peak RSS is the mode's own; rounds interleave the
modes, and the table shows medians with ratios taken within the run. Modes: normal init, plain
``torch.device("meta")``, Lightning's ``init_module(empty_init=True)``, accelerate's
``init_empty_weights``, and ``verified_empty_init`` (plain, poison, and around meta). ``check()`` is timed
without and with the NaN/inf scan after every tensor was written, next to the bare floors: one
``torch.isfinite(t).all()`` sweep and one ``fill_(nan)`` over the same tensors. A last table times the
bare meta and empty-init builds against ``verified_empty_init`` around them over 15 interleaved builds
in one process per round: a cost of milliseconds needs many samples. Peak RSS is each mode's own (the
``verified`` row is read before the benchmark allocates its floor tensors).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

SIZES = {"350m": (24, 1024, 16), "1.3b": (24, 2048, 16), "tiny": (2, 128, 4)}
MODES = ["normal", "meta", "lightning", "accelerate", "verified", "verified-poison", "verified-meta"]


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


def run_mode(mode: str, size: str) -> dict[str, float]:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
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
    start = time.perf_counter()
    model, tracker = build(SIZES[size])
    result = {"build_s": time.perf_counter() - start}
    tensors = [t for t in (*model.parameters(), *model.buffers())]
    result["tensors"] = len(tensors)
    result["params"] = sum(t.numel() for t in model.parameters())
    if mode == "verified":
        with torch.no_grad():  # every tensor written, as a load would
            for t in tensors:
                t.normal_(0, 0.02) if t.is_floating_point() else t.zero_()
        start = time.perf_counter()
        report = tracker.report(value_scan=False)
        result["check_no_scan_s"] = time.perf_counter() - start
        assert report.ok, report.format()
        start = time.perf_counter()
        tracker.check(value_scan=True)
        result["check_scan_s"] = time.perf_counter() - start
        # The mode's own peak, before the floors below allocate tensors of their own.
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        assert all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())
        result["isfinite_sweep_s"] = time.perf_counter() - start
        # The floor for poison: fill_ over freshly allocated memory of the same shapes (first touch,
        # as poison meets it after skip-init), not over memory already written.
        fresh = [torch.empty_like(t) for t in tensors if t.is_floating_point()]
        start = time.perf_counter()
        with torch.no_grad():
            for t in fresh:
                t.fill_(math.nan)
        result["fill_nan_s"] = time.perf_counter() - start
        del fresh
        return result
    if tracker is not None:
        tracker.close()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def build_overhead(size: str, builds: int) -> dict[str, float]:
    """Median build times of the bare empty-init contexts and of ``verified_empty_init`` around them,
    interleaved in one process: the observer costs milliseconds, which one build per process cannot
    resolve. "empty" is Lightning's ``_EmptyInit`` on its own (a TorchFunctionMode skipping
    ``torch.nn.init``), the bare floor of ``verified_empty_init()`` with no context."""
    import torch
    from lightning.fabric.utilities.init import _EmptyInit

    from initlint import verified_empty_init

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
    times: dict[str, list[float]] = {name: [] for name in variants}
    for build in variants.values():  # warm-up
        build()
    for _ in range(builds):
        for name, build in variants.items():
            start = time.perf_counter()
            build()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="350m")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode == "build-overhead":
        print(json.dumps(build_overhead(args.size, builds=15)))
        return 0
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.size)))
        return 0
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            out = subprocess.run(
                [sys.executable, __file__, "--mode", mode, "--size", args.size],
                capture_output=True, text=True, check=True,
            ).stdout
            results[mode].append(json.loads(out.strip().splitlines()[-1]))

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in results[mode])

    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs; model: {args.size} "
          f"({med('normal', 'params') / 1e6:.0f}M parameters, {int(med('normal', 'tensors'))} tensors); "
          f"{args.rounds} rounds, medians\n")
    print("| mode | build s | peak RSS MB | build vs meta |")
    print("|---|---:|---:|---:|")
    for mode in MODES:
        print(f"| {mode} | {med(mode, 'build_s'):.3f} | {med(mode, 'peak_rss_mb'):.0f} | "
              f"{med(mode, 'build_s') / med('meta', 'build_s'):.2f}x |")
    normal = med("normal", "build_s")
    print("\n| measure | seconds | ratio |")
    print("|---|---:|---|")
    print(f"| check() without value scan | {med('verified', 'check_no_scan_s'):.4f} | |")
    print(f"| check() with NaN/inf scan (default) | {med('verified', 'check_scan_s'):.3f} | "
          f"{med('verified', 'check_scan_s') / normal:.3f}x normal init |")
    print(f"| bare isfinite(t).all() sweep | {med('verified', 'isfinite_sweep_s'):.3f} | "
          f"{med('verified', 'isfinite_sweep_s') / normal:.3f}x normal init |")
    print(f"| bare fill_(nan) over fresh tensors of the same shapes | {med('verified', 'fill_nan_s'):.3f} | |")
    poison_extra = med("verified-poison", "build_s") - med("verified", "build_s")
    print(f"| poison cost (build poison - build plain) | {poison_extra:.3f} | "
          f"{poison_extra / med('verified', 'fill_nan_s'):.2f}x bare fill_ |")
    runs = [
        json.loads(subprocess.run([sys.executable, __file__, "--mode", "build-overhead", "--size", args.size],
                                  capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        for _ in range(args.rounds)
    ]

    def build_ms(name: str) -> float:
        return statistics.median(r[name] for r in runs) * 1000

    print("\n| build, 15 interleaved builds per process, median of rounds | bare ms | verified ms | ratio (target 1.2x) |")
    print("|---|---:|---:|---:|")
    for bare_name, verified_name in (("meta", "verified(meta)"), ("empty", "verified()")):
        print(f"| {verified_name} vs {bare_name} | {build_ms(bare_name):.1f} | {build_ms(verified_name):.1f} | "
              f"{build_ms(verified_name) / build_ms(bare_name):.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
