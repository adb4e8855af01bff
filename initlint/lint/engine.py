"""One lint run: find the files, analyse them (cached, in parallel), resolve classes, filter findings.

The engine owns everything that is not a rule's judgement: I/O, the cache, worker processes, the
project index, configuration, suppression comments and ordering.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from initlint.config import Config
from initlint.lint.cache import SummaryCache, content_hash, findings_of, noqa_of
from initlint.lint.discovery import discover_files, module_of, modules_under, relative
from initlint.lint.summary import FileSummary, Finding, Question

if TYPE_CHECKING:
    from initlint.lint.index import ProjectIndex
    from initlint.lint.protocols.judge import Protocols

__all__ = ["LintResult", "lint_paths", "lint_file", "Project"]

_PARALLEL_FROM = 24  # fewer files than this are analysed in-process: workers cost more than they save
_BINS_PER_WORKER = 16  # work is dealt in this many parcels per worker, largest files first


@dataclass
class LintResult:
    """The findings of a run, sorted, how many files were checked, and the content hash of each file as
    the run read it (by the path shown): a fix must apply only to those bytes."""

    findings: list[Finding]
    files_checked: int
    hashes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Job:
    path: str
    module: str
    is_package: bool
    need_classes: bool
    known_hash: str | None
    extra_optimizers: frozenset[str]


def _analyze(job: _Job) -> tuple[str, FileSummary | None]:
    """Read and analyse one file (in a worker). ``None``: unchanged since the cached ``known_hash``."""
    from initlint.lint.analyze import analyze_source, read_source
    from initlint.lint.cache import content_hash

    data, text, error = read_source(Path(job.path))
    digest = content_hash(data)
    if job.known_hash == digest:
        return digest, None
    if text is None:
        assert error is not None
        return digest, replace(error, module=job.module)
    summary = analyze_source(text, job.path, job.module, job.is_package, job.extra_optimizers, job.need_classes)
    return digest, summary


def _analyze_all(jobs: list[_Job]) -> list[tuple[str, FileSummary | None]]:
    return [_analyze(job) for job in jobs]


class Project:
    """The files of the project under ``config.root``, analysed on demand and remembered.

    The files given on the command line are analysed first (in worker processes when there are many);
    another file of the project is read only when a class of those inherits from a class it defines
    or re-exports. What a file's class findings were resolved through is recorded with them, so a
    warm run reuses them until one of those files changes.

    An editor's unsaved buffers are *overlays*: a file with one is analysed from that text instead of
    the disk, and nothing learnt from it is cached. A long-lived project (the language server's) calls
    ``forget_changed`` before each run, so that files edited on disk meanwhile are read again.
    """

    def __init__(self, config: Config, targets: Iterable[Path | str] = (), cache: bool = True, jobs: int = 1,
                 scan: bool = True) -> None:
        self.config = config
        self.scan = scan  # False: the modules are the targets and overlays only (a root such as ``/``)
        self.jobs = max(1, jobs)
        self.cache = SummaryCache(config.root, _settings(config), enabled=cache)
        self._summaries: dict[str, FileSummary] = {}  # analysed (or loaded) in this run
        self._analysed: set[str] = set()  # read and analysed in this run
        self._hashes: dict[str, str] = {}  # content hash in this run of every file known
        self._trusted: dict[str, dict[str, Any]] = {}  # cache entries validated in this run
        self._checked: set[str] = set()  # files whose cache entry was looked at in this run
        self._by_module: dict[str, str] | None = None
        self._targets = [os.path.abspath(t) for t in targets]
        self._valid_deps: dict[tuple[str, str | None, str | None], bool] = {}
        self._recording: dict[str, tuple[str | None, str | None]] | None = None
        self._overlays: dict[str, str] = {}
        self._runs: dict[str, _ProtocolRun] = {}  # roots key -> the init protocols judged under it
        self._root_files: set[str] | None = None  # the targets that could define roots
        self._base_key = ""

    def set_overlays(self, overlays: Mapping[Path | str, str]) -> None:
        """Analyse these files from the given texts (unsaved buffers) instead of the disk; a file whose
        overlay is dropped or changed is read again."""
        wanted = {os.path.abspath(path): text for path, text in overlays.items()}
        changed = {key for key in set(self._overlays) | set(wanted) if self._overlays.get(key) != wanted.get(key)}
        self._overlays = wanted
        if changed:
            for key in changed:
                self._forget(key)
            self._valid_deps.clear()
            self._by_module = None
            self._forget_protocols()

    def forget_changed(self) -> None:
        """Start a new run of a long-lived project: what the disk says is validated again (by the cache's
        stat signatures, so unchanged files cost a ``stat``)."""
        for key in [k for k in self._summaries if k not in self._overlays]:
            self._forget(key)
        self._trusted.clear()
        self._checked.clear()
        self._valid_deps.clear()
        self._by_module = None
        self._forget_protocols()

    def _forget_protocols(self) -> None:
        self._runs.clear()
        self._root_files = None

    def _forget(self, key: str) -> None:
        self._summaries.pop(key, None)
        self._analysed.discard(key)
        self._hashes.pop(key, None)
        self._trusted.pop(key, None)
        self._checked.discard(key)

    def analyze(self, paths: list[Path] | list[str], need_classes: bool = False) -> None:
        """Make sure every path is known: trusted from the cache, else analysed (in parallel if many)."""
        jobs: list[tuple[str, os.stat_result | None, _Job]] = []
        for path in paths:
            key = os.path.abspath(path)
            known = self._summaries.get(key)
            if known is not None and (known.parsed or not need_classes):
                continue
            if key in self._overlays:
                self._analyse_overlay(key)
                continue
            entry = self._trusted.get(key)
            if entry is not None and (entry["parsed"] or not need_classes):
                continue
            module = module_of(key)
            stat = _stat(key)
            if key not in self._checked:
                self._checked.add(key)
                entry = self.cache.fresh(key, stat, module)
                if entry is not None:
                    self._trusted[key] = entry
                    self._hashes[key] = entry["h"]
                    if entry["parsed"] or not need_classes:
                        continue
            known_hash = None if entry is not None else self.cache.known_hash(key, module)
            if need_classes and known_hash is not None and not self.cache.entries[key].get("parsed"):
                known_hash = None  # the cached one was not parsed
            job = _Job(key, module[0], module[1], need_classes, known_hash, frozenset(self.config.extra_optimizers))
            jobs.append((key, stat, job))
        results = self._run([job for _, _, job in jobs], [stat.st_size if stat else 0 for _, stat, _ in jobs])
        for (key, stat, job), (digest, summary) in zip(jobs, results):
            module = (job.module, job.is_package)
            self._hashes[key] = digest
            if summary is None and stat is not None:  # touched but unchanged
                self._trusted[key] = self.cache.touched(key, stat)
                continue
            if summary is None:
                summary = _analyze(replace(job, known_hash=None))[1]
                assert summary is not None
            self._summaries[key] = summary
            self._analysed.add(key)
            self._trusted[key] = self.cache.store(key, stat, digest, summary, module)

    def _run(self, jobs: list[_Job], sizes: list[int]) -> list[tuple[str, FileSummary | None]]:
        if not jobs:
            return []
        import initlint.lint.analyze  # noqa: F401  # here, before the fork: not once per worker

        # Every full collection while the files are analysed would walk all that is alive, the objects
        # of every imported module included (0.2-0.3 CPU s of a cold run over torch nn+optim+distributed
        # +fx); frozen, they are skipped, here and in the forked workers (Python's advice for fork).
        gc.freeze()
        try:
            if self.jobs == 1 or len(jobs) < _PARALLEL_FROM:
                return _analyze_all(jobs)
            return self._run_parallel(jobs, sizes)
        finally:
            gc.unfreeze()

    def _run_parallel(self, jobs: list[_Job], sizes: list[int]) -> list[tuple[str, FileSummary | None]]:
        from concurrent.futures import ProcessPoolExecutor

        # Deal the files, largest first, round the parcels, so that every parcel costs about the same
        # and no worker is left with the biggest files at the end.
        order = sorted(range(len(jobs)), key=lambda i: -sizes[i])
        count = min(len(jobs), self.jobs * _BINS_PER_WORKER)
        parcels: list[list[int]] = [[] for _ in range(count)]
        for rank, i in enumerate(order):
            turn, place = divmod(rank, count)
            parcels[place if turn % 2 == 0 else count - 1 - place].append(i)
        results: list[tuple[str, FileSummary | None]] = [("", None)] * len(jobs)
        with ProcessPoolExecutor(max_workers=self.jobs) as pool:
            done = pool.map(_analyze_all, [[jobs[i] for i in parcel] for parcel in parcels])
            for parcel, outcome in zip(parcels, done):
                for i, result in zip(parcel, outcome):
                    results[i] = result
        return results

    def summary(self, path: Path | str, need_classes: bool = False) -> FileSummary:
        """The summary of one file."""
        key = os.path.abspath(path)
        self.analyze([key], need_classes)
        summary = self._summaries.get(key)
        if summary is None:
            summary = self.cache.summary(key, self._trusted[key], module_of(key)[0])
            if summary is None:  # its summary file is gone: read the file again
                self._trusted.pop(key)
                self.cache.entries.pop(key, None)
                self.analyze([key], need_classes)
                return self._summaries[key]
            self._summaries[key] = summary
        return summary

    def load_module(self, module: str) -> FileSummary | None:
        """The summary, classes included, of a module of the project by dotted name."""
        summary, where = self._load(module)
        if self._recording is not None:
            self._recording[module] = where
        return summary

    def _load(self, module: str) -> tuple[FileSummary | None, tuple[str | None, str | None]]:
        """A module's summary, and the file and content hash it was found in."""
        path = self._modules().get(module)
        summary = self.summary(path, need_classes=True) if path is not None else None
        return summary, (path, self._hashes.get(path) if path is not None else None)

    def _modules(self) -> dict[str, str]:
        if self._by_module is None:
            self._by_module = modules_under(self.config.root) if self.scan else {}
            found = set(self._by_module.values())  # a target found there already claims its own name
            extra = [*self._targets, *self._overlays]
            self._by_module.update((module_of(path)[0], path) for path in extra if path not in found)
        return self._by_module

    def _analyse_overlay(self, key: str) -> None:
        from initlint.lint.analyze import analyze_source

        text = self._overlays[key]
        module, is_package = module_of(key)
        self._summaries[key] = analyze_source(
            text, key, module, is_package, frozenset(self.config.extra_optimizers), True
        )
        self._analysed.add(key)
        self._hashes[key] = "overlay:" + content_hash(text.encode("utf-8"))

    def content_hash(self, path: str) -> str | None:
        """The content hash of a file as this run read it (or trusted it from the cache)."""
        return self._hashes.get(os.path.abspath(path))

    def index(self) -> ProjectIndex:
        """A class index reading this project's modules."""
        from initlint.lint.index import ProjectIndex

        return ProjectIndex(self.load_module, self.config.extra_module_bases, self.config.init_methods)

    def facts(self, path: str, shown: str) -> tuple[list[Finding], dict[int, list[str]], bool]:
        """The single-file findings, ``# noqa`` lines and whether the file is skipped, of an analysed file."""
        summary = self._summaries.get(path)
        if summary is not None:
            return [replace(f, path=shown) for f in summary.findings], summary.noqa, summary.skip_file
        entry = self._trusted[path]
        return findings_of(entry["findings"], shown), noqa_of(entry), entry["skip"]

    def class_findings(self, path: str, shown: str) -> list[Finding]:
        """The findings of every class rule on the classes of ``path`` (cached with what they depend on)."""
        entry = self._trusted.get(path)
        key = self._roots_key(path)
        if entry is not None and path not in self._analysed and path not in self._overlays:
            held = self.cache.class_findings(entry, self._generation(key))
            if held is not None and self._deps_hold(held[1]):
                return findings_of(held[0], shown)
        summary = self.summary(path)
        found: list[Finding] = []
        self._recording = {}
        try:
            building = key is not None and any("builtins" in cls.protocol for cls in summary.classes)
            consulted = building or any(cls.tensors for cls in summary.classes)  # the init protocols
            if consulted or summary.questions:
                index = self.index()  # one per file: every module it reads is recorded
            if consulted:
                protocols = index.protocols = self._protocols(key, path) if key is not None else None
                # the torch built-ins a class builds are judged by a Hugging Face family only (INI004)
                building = building and protocols is not None and protocols.judges_families()
                judged = [cls for cls in summary.classes
                          if cls.tensors or (building and "builtins" in cls.protocol)]
                rules = _class_rules()
                for cls in judged:
                    view = index.view(cls, summary.module)
                    for rule in rules:
                        found += [
                            Finding("", cls.line, cls.col, rule.code, message, cls.line, cls.end_col,
                                    cls.fixes.get(rule.code))
                            for message in rule.check(view)
                        ]
            if summary.questions:
                found += _answers(summary.questions, index)
            deps = [[module, *where] for module, where in sorted(self._recording.items())]
        finally:
            self._recording = None
        # findings of a file no init protocol judged stand under every generation
        run = self._runs.get(key) if consulted and key is not None else None
        volatile = path in self._overlays or any(dep[1] in self._overlays for dep in deps)
        if not volatile and not (run is not None and run.volatile):  # never what an unsaved buffer made
            self.cache.set_class_findings(path, found, deps, run.generation if run is not None else None)
        return [replace(f, path=shown) for f in found]

    # -- init protocols: a class's verdict reads the roots of other files -------------------------
    def _roots_key(self, path: str) -> str | None:
        """What the init-protocol verdicts on ``path``'s classes depend on besides the modules they read:
        the files that could define roots (the targets that could, and ``path`` if it could), by content."""
        if self.config.init_protocol != "auto":
            return None
        if self._root_files is None:
            # targets are absolute already: those a whole run analysed cost no second pass here
            self.analyze([t for t in self._targets if t not in self._trusted and t not in self._summaries])
            self._root_files = {t for t in self._targets if self._holds_roots(t)}
            self._base_key = self._key_of(self._root_files)
        if path in self._root_files or not self._holds_roots(path):
            return self._base_key
        return self._key_of({*self._root_files, path})  # a file of its own (the language server's)

    def _key_of(self, files: set[str]) -> str:
        return content_hash(repr(sorted((f, self._hashes.get(f)) for f in files)).encode())

    def _holds_roots(self, path: str) -> bool:
        summary = self._summaries.get(path)
        if summary is not None:
            return summary.roots
        return bool(self._trusted[path].get("roots"))

    def _run_for(self, key: str) -> _ProtocolRun:
        run = self._runs.get(key)
        if run is None:
            record = self.cache.protocols.get(key)
            if record is not None and self._deps_hold(record["deps"]):
                run = _ProtocolRun(record["gen"], {m: (p, h) for m, p, h in record["deps"]}, valid=True)
            else:
                run = _ProtocolRun(os.urandom(6).hex(), {})
            self._runs[key] = run
        return run

    def _generation(self, key: str | None) -> str | None:
        """The generation cached class findings must carry to be reused (``None``: no protocol judges)."""
        if key is None:
            return None
        run = self._run_for(key)
        return run.generation if run.valid else "(none)"

    def _protocols(self, key: str, path: str) -> Protocols:
        """The init protocols of the roots ``key`` stands for, with ``path``'s own roots."""
        from initlint.lint.index import ProjectIndex
        from initlint.lint.protocols.judge import Protocols

        run = self._run_for(key)
        if run.protocols is None:
            index = ProjectIndex(run.loader(self), self.config.extra_module_bases, self.config.init_methods)
            run.protocols = Protocols(index, self.config.init_protocol, self.config.init_methods,
                                      os.fspath(self.config.root))
            run.protocols.add_roots(self.summary(f, need_classes=True) for f in sorted(self._root_files or ()))
        if self._holds_roots(path):
            run.protocols.add_roots([self.summary(path, need_classes=True)])
        run.volatile |= any(f in self._overlays for f in self._root_files or ()) or path in self._overlays
        return run.protocols

    def save(self) -> None:
        """Write the cache: the summaries, class findings and what the init-protocol verdicts read."""
        for key, run in self._runs.items():
            if run.protocols is not None and not run.volatile:
                self.cache.set_protocols(key, [[m, *where] for m, where in sorted(run.read.items())], run.generation)
        self.cache.save()

    def _deps_hold(self, deps: list[list[Any]]) -> bool:
        """Whether every module the class findings were resolved through is the same file, unchanged."""
        for module, path, digest in deps:
            key = (module, path, digest)
            if key not in self._valid_deps:
                now = self._modules().get(module)
                if now == path and path is not None:
                    self.analyze([path])
                self._valid_deps[key] = now == path and (path is None or self._hashes.get(path) == digest)
            if not self._valid_deps[key]:
                return False
        return True


@dataclass
class _ProtocolRun:
    """The init protocols judged under one roots key in this run, and every module they read.

    ``valid``: the cache's record of the key still holds, so class findings cached under ``generation``
    stand; else a new generation starts and every class of the key is judged again.
    """

    generation: str
    read: dict[str, tuple[str | None, str | None]]  # module -> (file, content hash)
    valid: bool = False
    protocols: Protocols | None = None
    volatile: bool = False  # an unsaved buffer was read: nothing of this run is cached

    def loader(self, project: Project) -> Callable[[str], FileSummary | None]:
        """A module loader for the protocols' index that records what it reads."""

        def load(module: str) -> FileSummary | None:
            summary, where = project._load(module)
            self.read[module] = where
            self.volatile |= where[0] in project._overlays
            return summary

        return load


def _class_rules() -> list[Any]:
    """Every class rule: their findings are cached whatever is selected, and filtered when shown."""
    from initlint.lint.rules import ALL_RULES, ClassRule

    return [rule() for rule in ALL_RULES if issubclass(rule, ClassRule)]


def _answers(questions: list[Question], index: ProjectIndex) -> list[Finding]:
    """The tree rules' findings: each question judged on its model's class tree, through the project."""
    from initlint.lint.modeltree import tree_of
    from initlint.lint.rules import RULES_BY_CODE, TreeRule

    found: list[Finding] = []
    for question in questions:
        rule = RULES_BY_CODE.get(question.code)
        if rule is None or not issubclass(rule, TreeRule):
            continue
        message = rule().judge(question.model, tree_of(question.cls, index))
        if message is not None:
            found.append(Finding("", question.line, question.col, question.code, message, question.end_line,
                                 question.end_col))
    return found


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _settings(config: Config) -> str:
    """What besides a file's content changes its summary or its class findings."""
    return repr((sorted(config.extra_optimizers), sorted(config.extra_module_bases), list(config.init_methods),
                 config.init_protocol))


def lint_paths(
    paths: Iterable[Path], config: Config, force_exclude: bool = False, cache: bool = False, jobs: int = 1
) -> LintResult:
    """Lint the Python files under ``paths`` with ``config``.

    Args:
        cache: read and write the summary cache under the project root.
        jobs: worker processes for analysing files (1: in this process).
    """
    targets = discover_files(list(paths), config, force_exclude)
    project = Project(config, [full for _, full in targets], cache=cache, jobs=jobs)
    project.analyze([full for _, full in targets])
    findings: list[Finding] = []
    for shown, full in targets:
        findings += _findings_in(project, full, shown)
    project.save()
    hashes = {shown: project.content_hash(full) for shown, full in targets}
    return LintResult(sorted(findings), len(targets), {shown: h for shown, h in hashes.items() if h is not None})


def lint_file(project: Project, path: Path | str) -> list[Finding]:
    """The findings of one file of ``project`` (from its overlay, if it has one), as ``lint_paths``
    reports them; the language server's entry point."""
    key = os.path.abspath(path)
    project.analyze([key])
    return sorted(_findings_in(project, key, str(path)))


def _findings_in(project: Project, full: str, shown: str) -> list[Finding]:
    """One analysed file's findings: its own and its classes', filtered by configuration and ``# noqa``."""
    found, noqa, skip = project.facts(full, shown)
    if skip:
        return []
    found += project.class_findings(full, shown)
    return _kept(found, full, noqa, project.config)


def _kept(findings: list[Finding], path: str, noqa: dict[int, list[str]], config: Config) -> list[Finding]:
    """Drop findings of disabled rules, per-file ignores and ``# noqa`` comments."""
    if not findings:
        return findings
    ignored = config.ignored_in(relative(Path(path), config.root)) if config.per_file_ignores else ()
    kept = []
    for finding in findings:
        if not config.enabled(finding.code) or finding.code.startswith(ignored):
            continue
        codes = noqa.get(finding.line)
        if codes is not None and (not codes or finding.code in codes):
            continue
        kept.append(finding)
    return kept
