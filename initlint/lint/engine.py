"""One lint run: find the files, analyse them (cached, in parallel), resolve classes, filter findings.

The engine owns everything that is not a rule's judgement: I/O, the cache, worker processes, the
project index, configuration, suppression comments and ordering.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from initlint.config import Config
from initlint.lint.analyze import analyze_source, read_source
from initlint.lint.cache import SummaryCache, content_hash
from initlint.lint.discovery import SKIP_DIRS, SUFFIXES, absolute, discover, module_name, relative
from initlint.lint.index import ProjectIndex
from initlint.lint.protocols.judge import Protocols
from initlint.lint.rules import ALL_RULES, ClassRule
from initlint.lint.summary import FileSummary, Finding

__all__ = ["LintResult", "lint_paths", "Project"]

_PARALLEL_FROM = 24  # fewer files than this are analysed in-process: workers cost more than they save


@dataclass
class LintResult:
    """The findings of a run, sorted, and how many files were checked."""

    findings: list[Finding]
    files_checked: int


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
    data, text, error = read_source(Path(job.path))
    digest = content_hash(data)
    if job.known_hash == digest:
        return digest, None
    if text is None:
        assert error is not None
        return digest, replace(error, module=job.module)
    summary = analyze_source(text, job.path, job.module, job.is_package, job.extra_optimizers, job.need_classes)
    return digest, summary


class Project:
    """The files of the project under ``config.root``, analysed on demand and remembered.

    The files given on the command line are analysed first (in worker processes when there are many);
    another file of the project is read only when a class of those inherits from a class it defines
    or re-exports.
    """

    def __init__(self, config: Config, targets: Iterable[Path] = (), cache: bool = True, jobs: int = 1) -> None:
        self.config = config
        self.jobs = max(1, jobs)
        self.cache = SummaryCache(config.root, _settings(config), enabled=cache)
        self._summaries: dict[Path, FileSummary] = {}
        self._by_module: dict[str, Path] | None = None
        self._targets = list(targets)

    def analyze(self, paths: list[Path], need_classes: bool = False) -> None:
        """Make sure every path has a summary: from the cache, else analysed (in parallel if many)."""
        jobs: list[tuple[Path, os.stat_result, _Job]] = []
        for path in paths:
            key = absolute(path)
            known = self._summaries.get(key)
            if known is not None and (known.parsed or not need_classes):
                continue
            try:
                stat = key.stat()
            except OSError:
                stat = None
            cached, known_hash = self.cache.lookup(key, stat) if stat is not None else (None, None)
            if cached is not None and (cached.parsed or not need_classes):
                self._summaries[key] = cached
                continue
            if cached is None and known_hash is not None and need_classes:
                known_hash = None  # the cached one may not have been parsed
            module, is_package = module_name(key)
            job = _Job(str(key), module, is_package, need_classes, known_hash, frozenset(self.config.extra_optimizers))
            jobs.append((key, stat, job))
        results = self._run([job for _, _, job in jobs])
        for (key, stat, job), (digest, summary) in zip(jobs, results):
            if summary is None:  # touched but unchanged
                summary = self.cache.by_hash(key, digest, stat) if stat is not None else None
                if summary is None:
                    summary = _analyze(replace(job, known_hash=None))[1]
                    assert summary is not None
            elif stat is not None:
                self.cache.store(key, stat, digest, summary)
            self._summaries[key] = summary

    def _run(self, jobs: list[_Job]) -> list[tuple[str, FileSummary | None]]:
        if self.jobs == 1 or len(jobs) < _PARALLEL_FROM:
            return [_analyze(job) for job in jobs]
        chunk = max(1, len(jobs) // (self.jobs * 8))
        with ProcessPoolExecutor(max_workers=self.jobs) as pool:
            return list(pool.map(_analyze, jobs, chunksize=chunk))

    def summary(self, path: Path, need_classes: bool = False) -> FileSummary:
        """The summary of one file."""
        self.analyze([path], need_classes)
        return self._summaries[absolute(path)]

    def load_module(self, module: str) -> FileSummary | None:
        """The summary, classes included, of a module of the project by dotted name."""
        if self._by_module is None:
            self._by_module = dict(_modules_under(self.config.root))
            self._by_module.update((module_name(path)[0], absolute(path)) for path in self._targets)
        path = self._by_module.get(module)
        return self.summary(path, need_classes=True) if path is not None else None

    def index(self) -> ProjectIndex:
        """A class index reading this project's modules."""
        return ProjectIndex(self.load_module, self.config.extra_module_bases, self.config.init_methods)


def _settings(config: Config) -> str:
    """What besides a file's content changes its summary."""
    return repr((sorted(config.extra_optimizers), config.init_protocol))


def _modules_under(root: Path) -> Iterator[tuple[str, Path]]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in files:
            if name.endswith(SUFFIXES):
                path = Path(os.path.abspath(os.path.join(folder, name)))
                yield module_name(path)[0], path


def lint_paths(
    paths: Iterable[Path], config: Config, force_exclude: bool = False, cache: bool = False, jobs: int = 1
) -> LintResult:
    """Lint the Python files under ``paths`` with ``config``.

    Args:
        cache: read and write the summary cache under the project root.
        jobs: worker processes for analysing files (1: in this process).
    """
    targets = discover(list(paths), config, force_exclude)
    project = Project(config, targets, cache=cache, jobs=jobs)
    project.analyze(targets)
    index = project.index()
    index.protocols = Protocols(index, [project.summary(path) for path in targets], config.init_protocol,
                                config.init_methods)
    class_rules = [rule() for rule in ALL_RULES if issubclass(rule, ClassRule) and config.enabled(rule.code)]
    findings: list[Finding] = []
    for path in targets:
        summary = project.summary(path)
        if summary.skip_file:
            continue
        shown = str(path)
        found = [replace(f, path=shown) for f in summary.findings]
        for cls in summary.classes:
            if not cls.tensors:
                continue
            view = index.view(cls, summary.module)
            for rule in class_rules:
                found += [
                    Finding(shown, cls.line, cls.col, rule.code, message, cls.line, cls.col + 5, cls.fixes.get(rule.code))
                    for message in rule.check(view)
                ]
        findings += _kept(found, summary, config)
    project.cache.save()
    return LintResult(sorted(findings), len(targets))


def _kept(findings: list[Finding], summary: FileSummary, config: Config) -> list[Finding]:
    """Drop findings of disabled rules, per-file ignores and ``# noqa`` comments."""
    ignored = config.ignored_in(relative(Path(summary.path), config.root))
    kept = []
    for finding in findings:
        if not config.enabled(finding.code) or finding.code.startswith(ignored):
            continue
        codes = summary.noqa.get(finding.line)
        if codes is not None and (not codes or finding.code in codes):
            continue
        kept.append(finding)
    return kept
