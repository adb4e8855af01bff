"""Root init methods against execution: does timm's ``init_weights()`` really write what initlint says it does?

With ``init-methods = ["reset_parameters", "init_weights"]`` initlint counts a model's ``init_weights`` that
applies a dispatch over its module tree (``named_apply(fn, self)``, ``self.apply(self._init_weights)``) as
initializing the tensors that dispatch writes, so some INI001/INI002 findings on timm go away. This script checks
each removed finding against execution.

For every timm model (``timm.list_models()``, plus the ``VARIANTS`` whose kwargs build tensors that only an option
makes; models over ``LIMIT`` parameters are skipped) it builds the model on the meta device, ``to_empty``s it,
fills every tensor with NaN (integer tensors with a sentinel), calls the root's ``init_weights()`` with its default
arguments, as a user would after ``to_empty``, and records every tensor that still holds NaN/the sentinel as
``(file, class, attribute)``, where ``class`` is the nearest class of the module's MRO whose source creates the
attribute. Then it lints the same timm twice, with the default
configuration and with the option, and prints the per-code counts, the findings the option removes and adds, and
for each removed ``(file, class, tensor)``: written by ``init_weights`` in the models that built it, still NaN in
some, or built by no executed model.

timm needs torchvision; a torchvision wheel built for CUDA next to a CPU torch imports only without its C
operators, which this script stubs out (no model here uses them). Install timm apart from the project's venv::

    pip install --no-deps --target /tmp/timmlib timm==1.0.31 torchvision==0.28.0 pillow

Usage::

    PYTHONPATH=/tmp/timmlib python benchmarks/timm_init_truth.py   # every model (~16 min on 2 CPUs; resumable)
    PYTHONPATH=/tmp/timmlib python benchmarks/timm_init_truth.py --per-module 3   # a fixed sample, faster
    PYTHONPATH=/tmp/timmlib python benchmarks/timm_init_truth.py --only vit_small_patch16_224,eva02_tiny_patch14_224
    PYTHONPATH=/tmp/timmlib python benchmarks/timm_init_truth.py --score-only     # re-score the cached executions

Executions are cached (one JSON line per model) in ``benchmarks/.cache/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import collections
import functools
import hashlib
import inspect
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
LIMIT = 100_000_000  # parameters (with num_classes=10): bigger models are skipped
SENTINEL = -123456789
INIT_METHODS = ("reset_parameters", "init_weights")
# builds no registered model makes with its defaults: tensors that exist only under an option, models shrunk under LIMIT
VARIANTS = (
    "beit_base_patch16_224[use_abs_pos_emb=True]",  # Beit.pos_embed
    "gemma4_vit_167m_enc[depth=2]",
    "gemma4_vit_167m_enc[depth=2,standardize=True]",  # Gemma4VitEncoder.std_bias/std_scale (the 31B variant's)
    "vit_pe_core_large_patch14_336[depth=2]",
)


def import_timm():
    """``import timm``; with a CUDA build of torchvision next to a CPU torch, without torchvision's operators."""
    import types

    try:
        import torchvision  # noqa: F401
    except RuntimeError as exc:  # "operator torchvision::nms does not exist": its _C extension did not load
        if "torchvision::" not in str(exc):
            raise
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        for name in ("torchvision._meta_registrations", "torchvision._autograd_registrations"):
            sys.modules[name] = types.ModuleType(name)
    import timm

    return timm


def _site() -> Path:
    """The folder holding the ``timm`` package: file paths are relative to it (``timm/models/vit.py``)."""
    return Path(import_timm().__file__).resolve().parent.parent


# -- one model, in a worker process -------------------------------------------------------------------
def _build(spec: str):
    """``timm.create_model`` on the meta device; ``spec`` is a model name, or ``name[key=value,...]`` with kwargs."""
    import ast

    import torch

    timm = import_timm()
    name, _, rest = spec.partition("[")
    kwargs = {k: ast.literal_eval(v) for k, v in (item.split("=", 1) for item in rest.rstrip("]").split(",") if item)}
    with torch.device("meta"):
        try:
            return timm.create_model(name, pretrained=False, num_classes=10, **kwargs)
        except TypeError:  # a model without a classifier head
            return timm.create_model(name, pretrained=False, **kwargs)


@functools.lru_cache(maxsize=None)
def _source(cls: type) -> str:
    """A class's source ('' for one without): cached, ``inspect.getsource`` parses the whole file each call."""
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):
        return ""


@functools.lru_cache(maxsize=None)
def _owner(cls: type, attribute: str, site: Path) -> tuple[str, str]:
    """(file relative to ``site``, class) of the nearest class of ``cls``'s MRO whose source creates ``attribute``."""
    pattern = re.compile(rf"self\.{re.escape(attribute)}\s*[:=,]|[\"']{re.escape(attribute)}[\"']")
    owner = next((c for c in cls.__mro__ if pattern.search(_source(c))), cls)
    path = Path(inspect.getsourcefile(owner) or "?").resolve()
    try:
        file = path.relative_to(site).as_posix()
    except ValueError:  # torch's own modules
        parts = path.parts
        file = "/".join(parts[parts.index("torch"):]) if "torch" in parts else path.as_posix()
    return file, owner.__qualname__


def execute(name: str) -> dict:
    """Build, poison, ``init_weights()`` and read back one model."""
    import torch

    site = _site()
    model = _build(name)
    record: dict = {"model": name, "class": type(model).__qualname__, "module": type(model).__module__}
    record["params"] = params = sum(p.numel() for p in model.parameters())
    if params > LIMIT:
        record["skipped"] = f"over {LIMIT // 1_000_000}M parameters: {params / 1e6:.0f}M"
        return record
    init = getattr(model, "init_weights", None)
    if not callable(init):
        record["skipped"] = "no init_weights"
        return record
    required = [p.name for p in inspect.signature(init).parameters.values()
                if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if required:
        record["skipped"] = f"init_weights needs {', '.join(required)}"
        return record
    model.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.is_floating_point() or tensor.is_complex():
                tensor.fill_(math.nan)
            elif tensor.dtype != torch.bool:
                tensor.fill_(SENTINEL if tensor.dtype in (torch.int32, torch.int64) else -1)
        model.init_weights()
    unwritten, scope = set(), set()
    for module in model.modules():
        own = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
        for attribute, tensor in own:
            if tensor is None or tensor.dtype == torch.bool:
                continue
            where = (*_owner(type(module), attribute, site), attribute)
            scope.add(where)
            if tensor.is_floating_point() or tensor.is_complex():
                left = bool(torch.isnan(tensor).any())
            else:
                left = bool((tensor == (SENTINEL if tensor.dtype in (torch.int32, torch.int64) else -1)).any())
            if left:
                unwritten.add(where)
    record["unwritten"] = sorted(unwritten)
    record["scope"] = sorted(scope)
    return record


def worker(models: list[str], out: Path, timeout: int) -> None:
    """Execute ``models`` one after another, appending one JSON line each to ``out``."""
    import gc
    import signal
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)

    def alarm(signum, frame):
        raise TimeoutError(f"over {timeout} s")

    signal.signal(signal.SIGALRM, alarm)
    for name in models:
        start = time.perf_counter()
        signal.alarm(timeout)
        try:
            record = execute(name)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, none is fatal
            record = {"model": name, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        finally:
            signal.alarm(0)
        record["seconds"] = round(time.perf_counter() - start, 2)
        with out.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        gc.collect()


# -- the parent: schedule, cache, score ---------------------------------------------------------------
def _cache_file() -> Path:
    return CACHE / f"timm_truth-{import_timm().__version__}.jsonl"


def load(path: Path) -> dict[str, dict]:
    """model -> record (the last line wins)."""
    records = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                records[record["model"]] = record
    return records


def _split(text: str) -> list[str]:
    """``a,b[x=1,y=2],c`` -> ``["a", "b[x=1,y=2]", "c"]``."""
    return re.findall(r"[^,\[]+(?:\[[^\]]*\])?", text)


def _key(name: str) -> bytes:
    return hashlib.blake2b(name.encode(), digest_size=4).digest()


def select_models(only: str | None, per_module: int) -> list[str]:
    """``--only``, else every model, or ``per_module`` of each entrypoint module (a fixed pseudo-random pick)."""
    timm = import_timm()
    if only:
        return _split(only)
    if not per_module:
        return timm.list_models() + list(VARIANTS)
    picked = []
    for module in timm.list_modules():
        picked += sorted(timm.list_models(module=module), key=_key)[:per_module]
    return sorted(picked) + list(VARIANTS)


def run_all(models: list[str], jobs: int, timeout: int, path: Path, retry: bool = False) -> None:
    """Execute the models not yet cached, in ``jobs`` worker processes (restarted if one dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _attempt in range(5):
        done = load(path)
        todo = [m for m in models if m not in done or (retry and "error" in done[m])]
        retry = False  # once: a model that fails again keeps its new error
        if not todo:
            return
        todo.sort(key=_key)  # a fixed shuffle: a sweep stopped early is still a uniform sample
        chunks = [todo[i::jobs] for i in range(jobs)]
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", ",".join(c), "--timeout", str(timeout),
                                   "--cache", str(path)]) for c in chunks if c]
        for proc in procs:
            proc.wait()
        for name in [m for m in todo if m not in load(path)][:1]:  # the one that killed a worker
            with path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"model": name, "error": "the worker process died"}) + "\n")


_TENSOR = re.compile(r"(?:parameter|buffer) (`[^`]+`|<[^>]*>)")
_OF_CLASS = re.compile(r" of `([\w.]+)`")


def parse(finding, site: Path) -> tuple[str, int, str, str, tuple[str, ...]]:
    """(file, line, code, class, tensors) of an INI001/INI002 finding."""
    message = finding.message.split("; ")[0]
    if finding.code == "INI001":  # "`Cls` creates parameter `a`, buffer `b` but ..."
        cls = message.split("`")[1]
    else:  # "`reset_parameters()` of `Cls` never ..." / "`M.init_weights()`, ... never initializes ... of `Cls`"
        cls = _OF_CLASS.search(message).group(1)
    file = Path(finding.path).resolve().relative_to(site).as_posix()
    tensors = tuple(t.strip("`") for t in _TENSOR.findall(message))
    return file, finding.line, finding.code, cls, tensors


def lint(init_methods: tuple[str, ...]) -> list[tuple[str, int, str, str, tuple[str, ...]]]:
    """INI001/INI002 on the installed timm, with ``init_methods``."""
    from initlint.config import Config
    from initlint.lint.engine import lint_paths

    site = _site()
    config = Config(root=site, select=("INI001", "INI002"), init_methods=init_methods)
    result = lint_paths([site / "timm"], config, jobs=2)
    return sorted(parse(f, site) for f in result.findings)


def pairs(findings) -> set[tuple[str, str, str]]:
    return {(file, cls, tensor) for file, _line, _code, cls, tensors in findings for tensor in tensors}


def verdicts(records: dict[str, dict], removed: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], dict]:
    """For each removed (file, class, tensor): the executed models that wrote it, and those that left it NaN."""
    out = {}
    for pair in sorted(removed):
        written, left = [], []
        for name, record in sorted(records.items()):
            scope = {tuple(s) for s in record.get("scope", ())}
            dynamic = pair[2].startswith("<")  # `<f'{name}_freqs'>`: any tensor of the class
            hits = [s for s in scope if s[:2] == pair[:2] and (dynamic or s[2] == pair[2])]
            if not hits:
                continue
            unwritten = {tuple(u) for u in record["unwritten"]}
            (left if any(h in unwritten for h in hits) else written).append(name)
        out[pair] = {"written": written, "left": left}
    return out


def _names(models: list[str], most: int = 4) -> str:
    return ", ".join(models[:most]) + (f" (+{len(models) - most} more)" if len(models) > most else "")


def report(records: dict[str, dict]) -> None:
    timm = import_timm()
    before, after = lint(("reset_parameters",)), lint(INIT_METHODS)
    print(f"timm {timm.__version__}: {len(records)} models; "
          f"{sum('unwritten' in r for r in records.values())} executed init_weights()")
    skipped = collections.Counter(r["skipped"].split(":")[0] for r in records.values() if "skipped" in r)
    for reason, count in sorted(skipped.items()):
        print(f"  skipped, {reason}: {count}")
    print(f"  failed: {sum('error' in r for r in records.values())}")
    print("\nfindings per code     default  init-methods")
    for code in ("INI001", "INI002"):
        print(f"  {code}              {sum(f[2] == code for f in before):7d}  {sum(f[2] == code for f in after):12d}")
    print(f"\nfindings removed by the option: {len(set(before) - set(after))}")
    for finding in sorted(set(before) - set(after)):
        print(f"  {finding[0]}:{finding[1]} {finding[2]} {finding[3]}: {', '.join(finding[4])}")
    print(f"findings added by the option: {len(set(after) - set(before))}")
    for finding in sorted(set(after) - set(before)):
        print(f"  {finding[0]}:{finding[1]} {finding[2]} {finding[3]}: {', '.join(finding[4])}")

    removed = pairs(before) - pairs(after)
    table = verdicts(records, removed)
    counts = collections.Counter()
    print(f"\nremoved (file, class, tensor): {len(removed)}")
    for (file, cls, tensor), seen in table.items():
        if seen["left"]:
            counts["not written"] += 1
            line = f"NOT written (still NaN) in {_names(seen['left'])}"
            if seen["written"]:
                line += f"; written in {_names(seen['written'])}"
        elif seen["written"]:
            counts["confirmed"] += 1
            line = f"confirmed written by init_weights in {_names(seen['written'])}"
        else:
            counts["not instantiated"] += 1
            line = "not instantiated by any built model"
        print(f"  {file} {cls}.{tensor}: {line}")
    print("  " + ", ".join(f"{k} {counts[k]}" for k in ("confirmed", "not written", "not instantiated")))

    # the other tensors init_weights() leaves unwritten, and whether initlint (with the option) reports them
    reported = pairs(after)
    left = collections.defaultdict(list)
    for name, record in sorted(records.items()):
        for item in record.get("unwritten", ()):
            left[tuple(item)].append(name)
    own = {k: v for k, v in left.items() if k[0].startswith("timm/")}
    silent = {k: v for k, v in own.items()
              if k not in reported and not any(r[:2] == k[:2] and r[2].startswith("<") for r in reported)}
    print(f"\nunwritten by init_weights() in some executed model: {len(own)} tensors of timm's classes "
          f"(+{len(left) - len(own)} of torch built-ins); {len(own) - len(silent)} reported with the option")
    print(f"unwritten and not reported with the option (computed in __init__, a reset_parameters() of the "
          f"class, or a miss): {len(silent)}")
    for (file, cls, tensor), models in sorted(silent.items()):
        print(f"  {file} {cls}.{tensor}: {_names(models, 2)}")
    builtins = sorted(k for k in left if not k[0].startswith("timm/"))
    if builtins:
        print(f"unwritten torch built-ins: {', '.join(f'{c}.{t}' for _f, c, t in builtins)}")
    failed = {m: r["error"] for m, r in records.items() if "error" in r}
    if failed:
        print(f"\nfailed: {len(failed)}")
        for name, error in sorted(failed.items()):
            print(f"  {name}: {error[:160]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated model names, or name[key=value,...] "
                        "(default: every timm model and VARIANTS)")
    parser.add_argument("--per-module", type=int, default=0,
                        help="execute at most this many models of each entrypoint module (default: all)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=240, help="seconds per model")
    parser.add_argument("--score-only", action="store_true")
    parser.add_argument("--retry-errors", action="store_true", help="execute again the models that failed")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = args.cache or _cache_file()
    if args.worker:
        worker(_split(args.worker), path, args.timeout)
        return 0
    models = select_models(args.only, args.per_module)
    start = time.perf_counter()
    if not args.score_only:
        run_all(models, args.jobs, args.timeout, path, args.retry_errors)
    records = {m: r for m, r in load(path).items() if m in set(models)}
    report(records)
    print(f"\n({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    raise SystemExit(main())
