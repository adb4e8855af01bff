"""``initlint run``: run a script or module as ``python`` would, with every empty-init entry point verified.

The program runs in this process, as ``coverage run`` and ``python -m cProfile`` run it: ``sys.argv``,
``sys.path[0]`` and a fresh ``__main__`` are what ``python SCRIPT`` / ``python -m MODULE`` set (the
module is found as ``python -m`` finds it, a package runs its ``__main__``). The entry points
are patched by ``initlint.runtime.patching`` (the module ``pytest --check-init`` uses), so each model built
empty is checked at its first forward. Nothing here imports torch: the program does, when it wants to.

Exit codes: 0 clean, 1 failures found, else the program's own (an exception it raised: 1, its traceback
printed as Python prints it).
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib.machinery
import importlib.util
import json
import os
import sys
import traceback
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, ModuleType, TracebackType
from typing import Any, TextIO

from initlint.runtime.patching import EntryPoints

__all__ = ["RunOptions", "run"]

_OWN_FILES = (os.path.abspath(__file__),)
_SCREEN = 20  # tensors named per failed model: the summary fits one screen


@dataclass
class RunOptions:
    """How ``initlint run`` verifies.

    Attributes:
        strict: a failed check raises ``UninitializedWeightsError`` at the first forward (else the program
            runs on and the failures are reported at the end).
        portable, poison, ignore: as ``verified_empty_init``'s arguments, for every model.
        report: where to write the JSON report (under several ranks, rank N > 0 writes ``NAME.rankN.json``).
        verbose: print the summary of a clean run too.
        trackers: every tracker armed during the run (filled by ``run``).
    """

    strict: bool = True
    portable: bool = False
    poison: bool = False
    ignore: Sequence[str] = ()
    report: Path | None = None
    verbose: bool = False
    trackers: list[Any] = field(default_factory=list, repr=False)


def run(target: str, args: Sequence[str], options: RunOptions, *, module: bool = False, out: TextIO | None = None) -> int:
    """Run ``target`` (a script path, or a module name with ``module=True``) with ``args``; return the exit code.

    Example::

        code = run("train.py", ["--epochs", "1"], RunOptions(strict=True))
    """
    out = out or sys.stderr
    patches = EntryPoints(
        strict=options.strict,
        portable=options.portable,
        poison=options.poison,
        ignore=options.ignore,
        on_tracker=options.trackers.append,
    )
    _set_main_path(target, module)
    sys.argv = [target, *args]
    with warnings.catch_warnings():
        # The reports are printed once, at the end; initlint's own faults still warn where they happen.
        warnings.filterwarnings("ignore", message=r"(\[rank \d+\] )?initlint: ")
        patches.start()
        try:
            code, error = _execute(target, module)
        finally:
            patches.undo()
    return _finish(code, error, options, patches, out)


def _set_main_path(target: str, module: bool) -> None:
    """``sys.path[0]`` as ``python`` sets it: the script's folder, or the current folder for ``-m``."""
    first = os.getcwd() if module else os.path.dirname(os.path.realpath(target))
    previous = sys.path[0] if sys.path else None
    if sys.path:
        sys.path[0] = first
    else:
        sys.path.append(first)
    initlint_home = str(Path(__file__).resolve().parents[2])
    if previous is not None and os.path.realpath(previous or ".") == initlint_home and initlint_home not in sys.path:
        sys.path.append(previous)  # initlint runs from a checkout: keep it importable, last


def _execute(target: str, module: bool) -> tuple[int, BaseException | None]:
    """Run the program; (its exit code, the exception that ended it)."""
    try:
        code, main = _module_main(target) if module else _script_main(target)
    except ImportError as error:  # what `python -m` says of a module it cannot find
        print(f"{sys.executable}: {error}", file=sys.stderr)
        return 1, None
    sys.argv[0] = main.__file__ if module else target
    sys.modules["__main__"] = main  # for good, as in `python SCRIPT`: pickle and multiprocessing find it
    try:
        exec(code, main.__dict__)
    except SystemExit as exit_:
        return _exit_code(exit_.code), None
    except KeyboardInterrupt as error:
        return 130, error
    except BaseException as error:  # noqa: BLE001 - the program's own failure, reported as Python would
        return 1, error
    return 0, None


def _script_main(path: str) -> tuple[CodeType, ModuleType]:
    """The code of a script file and a fresh ``__main__`` for it (a folder or zip: its ``__main__.py``)."""
    full = os.path.abspath(path)
    if os.path.isdir(full) or zipfile.is_zipfile(full):
        sys.path[0] = full
        return _module_main("__main__")
    with open(full, "rb") as source:  # bytes: compile() honours a coding cookie
        code = compile(source.read(), full, "exec", dont_inherit=True)
    main = ModuleType("__main__")
    main.__dict__.update(
        __file__=full, __builtins__=builtins, __spec__=None, __package__=None, __cached__=None,
        __loader__=importlib.machinery.SourceFileLoader("__main__", full),
    )  # fmt: skip
    return code, main


def _module_main(name: str) -> tuple[CodeType, ModuleType]:
    """The code of module ``name`` (a package: its ``__main__``) and a fresh ``__main__`` for it."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ImportError(f"No module named {name}")
    if spec.submodule_search_locations is not None:  # a package runs its __main__, as `python -m` does
        spec = importlib.util.find_spec(f"{name}.__main__")
        if spec is None:
            raise ImportError(f"No module named {name}.__main__; '{name}' is a package and cannot be directly executed")
    code = spec.loader.get_code(spec.name) if spec.loader is not None else None
    if code is None:
        raise ImportError(f"No code object available for {name}")
    main = ModuleType("__main__")
    main.__dict__.update(
        __file__=spec.origin, __builtins__=builtins, __spec__=spec, __package__=spec.parent,
        __cached__=spec.cached, __loader__=spec.loader,
    )  # fmt: skip
    return code, main


def _exit_code(code: Any) -> int:
    """What Python exits with for ``sys.exit(code)``: a message is printed and means 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _finish(code: int, error: BaseException | None, options: RunOptions, patches: EntryPoints, out: TextIO) -> int:
    verdicts = [t for t in options.trackers if t.verdict is not None]
    unreached = [t for t in options.trackers if t.verdict is None]
    for tracker in unreached:
        tracker.close()  # never forwarded: nothing to judge, and torch is left as it was
    failed = [t for t in verdicts if not t.verdict.ok]
    stopped = _is_ours(error)
    if error is not None and not stopped:
        _print_program_error(error)
    if stopped and not failed:  # raised by a tracker this run did not see: show its own message
        print(error, file=out)
    if failed or options.verbose or any(_reinitialized(t) for t in verdicts):
        print(_summary(verdicts, unreached, failed, patches.where, error if stopped else None), file=out)
    # The program's own failure keeps its code; a failed verification of a program that ended well is 1.
    final = 1 if stopped or (failed and code == 0) else code
    if options.report is not None:
        _write_report(options, verdicts, unreached, patches.where, final)
    if any(t.verdict.global_counts is not None for t in failed):
        _wait_for_the_other_ranks()
    return final


def _wait_for_the_other_ranks() -> None:
    """Every rank reached the failed check together (it is a collective): let each print and write its
    report before the first to exit makes torchrun stop the others."""
    dist = sys.modules["torch"].distributed
    if not dist.is_initialized():
        return
    try:
        if dist.get_backend() == "gloo":
            from datetime import timedelta

            dist.monitored_barrier(timeout=timedelta(seconds=60))
        else:
            dist.barrier()
    except Exception:  # noqa: BLE001 - a rank gone already: nothing left to wait for
        pass


def _is_ours(error: BaseException | None) -> bool:
    report = sys.modules.get("initlint.runtime.report")
    return error is not None and report is not None and isinstance(error, report.UninitializedWeightsError)


def _print_program_error(error: BaseException) -> None:
    """The traceback Python would print: this runner's and runpy's frames left out."""
    tb: TracebackType | None = error.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) in _OWN_FILES:
        tb = tb.tb_next
    sys.stdout.flush()
    sys.excepthook(type(error), error.with_traceback(tb), tb)


def _reinitialized(tracker: Any) -> bool:
    return any(r.status == "reinitialized" for r in tracker.verdict)


def _label(tracker: Any, where: dict[int, str]) -> str:
    return where.get(id(tracker), "a model built empty")


def _summary(verdicts: list, unreached: list, failed: list, where: dict[int, str], stopped: BaseException | None) -> str:
    models = sum(t.models for t in verdicts)
    tensors = sum(len(t.verdict) for t in verdicts)
    rank, _ = _rank()
    lines = [
        f"initlint run{f' [rank {rank}]' if rank is not None else ''}: {_plural(models, 'model')} verified, {_plural(tensors, 'tensor')} tracked, "
        f"{len(failed)} failed" + (f", {_plural(sum(t.models for t in unreached), 'model')} not reached" if unreached else "")
    ]
    for tracker in failed:
        lines += ["", f"FAILED {_label(tracker, where)}:", tracker.verdict.format(limit=_SCREEN)]
    if stopped is not None:
        lines += ["", f"The program was stopped at its first forward, {_first_forward(stopped)}."]
    for tracker in verdicts:
        if _reinitialized(tracker):
            lines += ["", f"WARNING {_label(tracker, where)}: {tracker.verdict.format_reinitialized()}"]
    for tracker in unreached:
        lines.append(f"not reached (built empty, never run forward, not verified): {_label(tracker, where)}")
    return "\n".join(lines)


def _first_forward(error: BaseException) -> str:
    """``file:line`` of the program's call that ran the model: its last frame outside initlint and the
    installed libraries (else outside initlint and torch)."""
    here = str(Path(__file__).resolve().parents[1])
    torch = sys.modules.get("torch")
    frames = [f for f in traceback.extract_tb(error.__traceback__) if not os.path.abspath(f.filename).startswith(here)]
    programs = [f for f in frames if not _installed(f.filename)]
    if torch is not None and torch.__file__:
        frames = [f for f in frames if not os.path.abspath(f.filename).startswith(os.path.dirname(torch.__file__))]
    frame = (programs or frames or [None])[-1]
    return f"in {_shown(frame.filename)}:{frame.lineno}" if frame is not None else "in the program"


def _installed(filename: str) -> bool:
    return any(part in ("site-packages", "dist-packages") for part in Path(filename).parts)


def _shown(path: str) -> str:
    """A path as the user typed it: relative to the current folder when under it."""
    full = os.path.abspath(path)
    return os.path.relpath(full) if full.startswith(os.getcwd() + os.sep) else full


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _rank() -> tuple[int | None, int]:
    """(rank, world size) under torchrun or an initialized process group; (None, 1) alone."""
    dist = getattr(sys.modules.get("torch"), "distributed", None)
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return (int(os.environ.get("RANK", "0")), world) if world > 1 else (None, 1)


def _write_report(options: RunOptions, verdicts: list, unreached: list, where: dict[int, str], code: int) -> None:
    assert options.report is not None
    rank, world = _rank()
    path = options.report
    if rank:
        path = path.with_name(f"{path.stem}.rank{rank}{path.suffix or '.json'}")
    models = []
    for tracker in verdicts:
        report = tracker.verdict
        models.append({
            "entry": _label(tracker, where),
            "status": "ok" if report.ok else "failed",
            "models": tracker.models,
            "tensors": len(report),
            "global_counts": list(report.global_counts) if report.global_counts else None,
            "failures": [_record(r) for r in report.failures],
            "reinitialized": [r.name for r in report if r.status == "reinitialized"],
        })  # fmt: skip
    models += [{"entry": _label(t, where), "status": "not reached", "models": t.models} for t in unreached]
    document = {
        "version": 1,
        "exit_code": code,
        "argv": list(sys.argv),
        "mode": "strict" if options.strict else "warn",
        "rank": rank,
        "world_size": world,
        "verified": sum(t.models for t in verdicts),
        "not_reached": sum(t.models for t in unreached),
        "failed": sum(1 for t in verdicts if not t.verdict.ok),
        "tensors": sum(len(t.verdict) for t in verdicts),
        "models": models,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _record(record: Any) -> dict[str, Any]:
    fields = dataclasses.asdict(record)
    fields.pop("portable", None)
    fields["shape"] = list(fields["shape"])
    fields["aliases"] = list(fields["aliases"])
    return fields
