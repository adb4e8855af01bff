"""INI004 against execution: which tensors does transformers' own missing-key initialization leave unwritten?

For every AutoModel family of the installed transformers (``MODEL_MAPPING_NAMES``) that builds without extra
packages, this script builds the model from a shrunken default config on the meta device, ``to_empty``s it,
fills every tensor with NaN (integer tensors with a sentinel), and runs ``model._initialize_missing_keys``:
the step ``from_pretrained`` takes for the keys a checkpoint lacks (``_finalize_model_loading``), here with
every key missing. A tensor that still holds NaN/the sentinel is *unwritten*, recorded as
``(file, class, attribute)`` where ``class`` is the nearest class of the module's MRO whose source creates
the attribute; a tensor of a torch built-in module is the tensor of the transformers class that builds it, by
its path there (``conv.weight``, ``mlp.0.bias``, ``conv.parametrizations.weight.original0``), or of the
transformers class that inherits the built-in (``class XPositionalEmbedding(nn.Embedding)``). Then it lints
the same installed transformers and scores INI004 against that truth: TP/FP/FN, precision, recall, every
disagreement. Only classes that some built family instantiated are scored
(the linter also judges classes of families that did not build, and ``modular_*.py`` sources).

Usage::

    python benchmarks/hf_init_truth.py                  # every family (hours of CPU; resumable, stop any time)
    python benchmarks/hf_init_truth.py --only bert,llama,t5 --jobs 1
    python benchmarks/hf_init_truth.py --score-only     # re-score the cached executions
    python benchmarks/hf_init_truth.py --score-only --findings out.json   # score a saved JSON run on the package

Executions are cached (one JSON line per family) in ``benchmarks/.cache/`` (git-ignored).
"""

from __future__ import annotations

import argparse
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
LIMIT = 300_000_000  # tensor elements (1.2 GB in float32): bigger models are shrunk further, or skipped
_LAYERS = ("num_hidden_layers", "num_layers", "n_layer", "n_layers", "encoder_layers", "decoder_layers",
           "num_encoder_layers", "num_decoder_layers", "text_layers", "vision_layers", "num_decoder_blocks")
_DIMS = ("hidden_size", "intermediate_size", "d_model", "d_ff", "n_embd", "embed_dim", "ffn_dim",
         "encoder_ffn_dim", "decoder_ffn_dim", "n_inner", "moe_intermediate_size", "shared_expert_intermediate_size",
         "d_kv", "projection_dim")
_EXPERTS = ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts")


# -- one family, in a worker process ------------------------------------------------------------------
def _configs(config):  # the config and its sub-configs
    from transformers import PretrainedConfig

    seen, work = [], [config]
    while work:
        current = work.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        work += [v for v in vars(current).values() if isinstance(v, PretrainedConfig)]
    return seen


def _shrink(config, level: int) -> None:
    for sub in _configs(config):
        for key in _LAYERS if level >= 1 else ():
            value = getattr(sub, key, None)
            if isinstance(value, int) and value > 2:
                setattr(sub, key, 2)
        for key in _EXPERTS if level >= 2 else ():
            value = getattr(sub, key, None)
            if isinstance(value, int) and value > 4:
                setattr(sub, key, 4)
                if isinstance(getattr(sub, "num_experts_per_tok", None), int):
                    sub.num_experts_per_tok = min(sub.num_experts_per_tok, 2)
        for key in _DIMS if level >= 2 else ():
            value = getattr(sub, key, None)
            if isinstance(value, int) and value >= 256:
                setattr(sub, key, value // (4 if level == 2 else 16))
        if level >= 3 and isinstance(getattr(sub, "vocab_size", None), int) and sub.vocab_size > 4096:
            sub.vocab_size = 4096
            for key in ("pad_token_id", "bos_token_id", "eos_token_id", "image_token_id", "video_token_id"):
                if isinstance(getattr(sub, key, None), int) and getattr(sub, key) >= 4096:
                    setattr(sub, key, 4095 - len(key))


def _build(model_type: str, level: int):
    import torch
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.for_model(model_type)
    _shrink(config, level)
    with torch.device("meta"):
        model = AutoModel.from_config(config)
    return model


def _owner(module, attribute: str) -> tuple[str, str]:
    """(file relative to site-packages, class) of the nearest class whose source creates ``attribute``."""
    pattern = re.compile(rf"self\.{re.escape(attribute)}\s*[:=]|[\"']{re.escape(attribute)}[\"']")
    fallback = type(module)
    for cls in type(module).__mro__:
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            continue
        if pattern.search(source):
            fallback = cls
            break
    path = inspect.getsourcefile(fallback) or "?"
    marker = os.sep + "site-packages" + os.sep
    return (path.split(marker, 1)[1] if marker in path else path).replace(os.sep, "/"), fallback.__qualname__


def _is_torch(module) -> bool:
    return type(module).__module__.startswith("torch.")


def _holders(model) -> dict[str, tuple[str, object]]:
    """Path of each torch built-in module -> (path of the nearest module above it of a transformers class,
    that module)."""
    found: dict[str, tuple[str, object]] = {}
    for path, module in model.named_modules():
        for name, child in module.named_children():
            child_path = f"{path}.{name}" if path else name
            if _is_torch(child):
                found[child_path] = found[path] if path in found else (path, module)
    return found


def _builtin_owner(module, path: str, name: str, holders: dict) -> tuple[str, str, str]:
    """(file, class, attribute path) of a torch built-in's tensor: the transformers class that builds the
    built-in (``conv.weight``, ``mlp.0.bias``), or the transformers class that inherits it
    (``class LearnedPositionalEmbedding(nn.Embedding)``: ``weight``)."""
    if not _is_torch(module):
        return (*_source_of(type(module)), name)
    if path not in holders:
        return (*_owner(module, name), name)
    holder_path, holder = holders[path]
    relative = path[len(holder_path) + 1:] if holder_path else path
    return (*_owner(holder, relative.split(".")[0]), f"{relative}.{name}")


def _source_of(cls) -> tuple[str, str]:
    path = inspect.getsourcefile(cls) or "?"
    marker = os.sep + "site-packages" + os.sep
    return (path.split(marker, 1)[1] if marker in path else path).replace(os.sep, "/"), cls.__qualname__


def execute(model_type: str) -> dict:
    """Build, poison, initialize and read back one family."""
    import torch

    record: dict = {"family": model_type}
    model, errors = None, []
    for level in (2, 3, 1, 0):
        try:
            candidate = _build(model_type, level)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none is fatal
            errors.append(f"level {level}: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        size = sum(t.numel() for t in [*candidate.parameters(), *candidate.buffers()])
        if size <= LIMIT:
            model, record["shrink"], record["elements"] = candidate, level, size
            break
        errors.append(f"level {level}: {size} elements")
    if model is None:
        record["error"] = "; ".join(errors)[-600:]
        return record
    model.to_empty(device="cpu")
    sentinels = {}
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.is_floating_point() or tensor.is_complex():
                tensor.fill_(math.nan)
            elif tensor.dtype != torch.bool:
                sentinels[id(tensor)] = value = torch.iinfo(tensor.dtype).min + 7
                tensor.fill_(value)
    model._initialize_missing_keys(is_quantized=False)
    unwritten, scope = set(), set()
    holders = _holders(model)
    for path, module in model.named_modules():
        own = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
        for name, tensor in own:
            if tensor is None or tensor.dtype == torch.bool:
                continue
            where = (*_owner(module, name), name)
            if not where[0].startswith("transformers/"):  # a torch built-in's: the class that builds it
                where = _builtin_owner(module, path, name, holders)
            scope.add(where[:2])
            if tensor.is_floating_point() or tensor.is_complex():
                left = bool(torch.isnan(tensor).any())
            else:
                left = bool((tensor == sentinels.get(id(tensor), 0)).any()) if id(tensor) in sentinels else False
            if left:
                unwritten.add(where)
    record["unwritten"] = sorted(unwritten)
    record["scope"] = sorted(scope)
    return record


def worker(families: list[str], out: Path, timeout: int) -> None:
    """Execute ``families`` one after another, appending one JSON line each to ``out``."""
    import signal
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

    def alarm(signum, frame):
        raise TimeoutError(f"over {timeout} s")

    signal.signal(signal.SIGALRM, alarm)
    for family in families:
        start = time.perf_counter()
        signal.alarm(timeout)
        try:
            record = execute(family)
        except BaseException as exc:  # noqa: BLE001
            record = {"family": family, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        finally:
            signal.alarm(0)
        record["seconds"] = round(time.perf_counter() - start, 2)
        with out.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        import gc

        gc.collect()


# -- the parent: schedule, cache, score ---------------------------------------------------------------
def _cache_file() -> Path:
    import importlib.metadata

    return CACHE / f"hf_truth-{importlib.metadata.version('transformers')}.jsonl"


def load(path: Path) -> dict[str, dict]:
    """family -> record (the last line wins)."""
    records = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                records[record["family"]] = record
    return records


def run_all(families: list[str], jobs: int, timeout: int, path: Path, retry: bool = False) -> None:
    """Execute the families not yet cached, in ``jobs`` worker processes (restarted if one dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _attempt in range(5):
        done = load(path)
        todo = [f for f in families if f not in done or (retry and "error" in done[f])]
        retry = False  # once: a family that fails again keeps its new error
        if not todo:
            return
        # a fixed shuffle: a sweep stopped early is still a uniform sample of the families
        todo.sort(key=lambda f: hashlib.blake2b(f.encode(), digest_size=4).digest())
        chunks = [todo[i::jobs] for i in range(jobs)]
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", ",".join(c), "--timeout", str(timeout)])
                 for c in chunks if c]
        for proc in procs:
            proc.wait()
        for family in [f for f in todo if f not in load(path)][:1]:  # the one that killed a worker
            with path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"family": family, "error": "the worker process died"}) + "\n")


_TENSOR = re.compile(r"(?:parameter|buffer) (`[^`]+`|<[^>]*>)")


def _pairs(findings: list[tuple[str, str]], site: Path) -> set[tuple[str, str, str]]:
    """(file, class, tensor) of each tensor INI004's ``(path, message)`` findings name."""
    found = set()
    for path, message in findings:
        cls = message.split("`")[1]
        file = Path(path).resolve().relative_to(site).as_posix()
        for name in _TENSOR.findall(message.split("; `from_pretrained`")[0]):
            found.add((file, cls, name.strip("`")))
    return found


def lint_truth_pairs(paths: list[str] | None = None, findings: Path | None = None) -> set[tuple[str, str, str]]:
    """INI004's (file, class, attribute) on the installed transformers (or on ``paths`` inside it), or read
    from the JSON output (``initlint check --format json``) of a run on it."""
    import transformers

    site = Path(transformers.__file__).parent.parent
    if findings is not None:
        records = json.loads(findings.read_text(encoding="utf-8"))
        return _pairs([(r["path"], r["message"]) for r in records
                       if r["code"] == "INI004" and not Path(r["path"]).name.startswith("modular_")], site)
    from initlint.config import Config
    from initlint.lint.engine import lint_paths

    # modular_*.py are the sources transformers generates modeling files from: never imported, never run
    config = Config(root=site, select=("INI004",), exclude=("modular_*.py",))
    result = lint_paths([site / p for p in paths or ["transformers"]], config, jobs=2)
    return _pairs([(f.path, f.message) for f in result.findings], site)


def _matches(predicted: str, executed: str) -> bool:
    """A predicted tensor names an executed one: the same name; a dynamic name (``<f'{layer_type}_inv_freq'>``)
    any of its class; ``*`` any one key of a container (``layers.*.weight``: ``layers.3.weight``)."""
    if predicted.startswith("<"):
        return True
    if "*" not in predicted:
        return predicted == executed
    return re.fullmatch(r"[^.]+".join(re.escape(part) for part in predicted.split("*")), executed) is not None


def score(records: dict[str, dict], predicted: set[tuple[str, str, str]]) -> dict:
    """TP/FP/FN of INI004 against the executed truth, on the classes the built families instantiated.

    A tensor of a torch built-in counts as the tensor of the transformers class that builds it (``conv.weight``
    of the class whose ``__init__`` sets ``self.conv``), or that inherits it."""
    built = [r for r in records.values() if "unwritten" in r]
    truth = {tuple(t) for r in built for t in r["unwritten"] if t[0].startswith("transformers/")}
    outside = {tuple(t) for r in built for t in r["unwritten"] if not t[0].startswith("transformers/")}
    scope = {tuple(s) for r in built for s in r["scope"]}
    scored = {p for p in predicted if p[:2] in scope}
    by_class: dict[tuple[str, str], list[str]] = {}
    for t in truth:
        by_class.setdefault(t[:2], []).append(t[2])
    hits = {p for p in scored if any(_matches(p[2], name) for name in by_class.get(p[:2], ()))}
    fp_items = sorted(scored - hits)
    fn_items = sorted(t for t in truth if not any(p[:2] == t[:2] and _matches(p[2], t[2]) for p in hits))
    tp = len(hits)
    precision = tp / (tp + len(fp_items)) if tp + len(fp_items) else 1.0
    recall = (len(truth) - len(fn_items)) / len(truth) if truth else 1.0
    return {"families": len(records), "built": len(built), "truth": len(truth), "outside": sorted(outside),
            "predicted": len(scored), "tp": tp, "fp": fp_items, "fn": fn_items,
            "precision": precision, "recall": recall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated model types (default: every AutoModel family)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=240, help="seconds per family")
    parser.add_argument("--score-only", action="store_true")
    parser.add_argument("--retry-errors", action="store_true", help="execute again the families that failed")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--findings", type=Path, default=None,
                        help="score this JSON output of `initlint check --format json` on the package instead")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = args.cache or _cache_file()
    if args.worker:
        worker(args.worker.split(","), path, args.timeout)
        return 0
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    families = args.only.split(",") if args.only else sorted(MODEL_MAPPING_NAMES)
    if not args.score_only:
        run_all(families, args.jobs, args.timeout, path, args.retry_errors)
    records = {f: r for f, r in load(path).items() if f in families}
    result = score(records, lint_truth_pairs(findings=args.findings))
    import transformers

    print(f"transformers {transformers.__version__}: {result['families']} families, {result['built']} built "
          f"(the others need extra packages or weights, or fail on the default config)")
    print(f"executed truth: {result['truth']} unwritten tensors of transformers' classes, torch built-ins they "
          f"build or inherit counted as theirs (+{len(result['outside'])} outside transformers)")
    print(f"INI004 on those classes: {result['predicted']} predicted; TP {result['tp']}, FP {len(result['fp'])}, "
          f"FN {len(result['fn'])}; precision {result['precision']:.3f}, recall {result['recall']:.3f}")
    for label, items in (("FP (reported, but written)", result["fp"]), ("FN (unwritten, not reported)", result["fn"]),
                         ("unwritten outside transformers", result["outside"])):
        print(f"\n{label}: {len(items)}")
        for item in items:
            print("  " + " ".join(item))
    failed = {f: r["error"] for f, r in records.items() if "error" in r}
    print(f"\nnot built: {len(failed)}")
    for family, error in sorted(failed.items()):
        print(f"  {family}: {error[:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
