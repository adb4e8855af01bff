"""The ``initlint`` command: ``initlint [PATHS]...`` to lint, ``initlint rule CODE`` to explain,
``initlint run SCRIPT`` to run a program with its empty-initialized models verified.

Exit codes, as ruff's: 0 no findings, 1 findings, 2 a usage or configuration error, a file that could not
be written, or an internal error (`initlint run`: 0 clean, 1 failures found, else the program's own).
This module (and everything it imports) must never import torch.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from typing import TYPE_CHECKING

import click

from initlint.__about__ import __version__
from initlint.config import INIT_PROTOCOLS, ConfigError, find_project_root, load_config
from initlint.lint.formats import FORMATS, format_statistics, format_text

if TYPE_CHECKING:
    from initlint.lint.noqa import NoqaRun

__all__ = ["main", "cli"]


class _DefaultToCheck(click.Group):
    """``initlint src/`` means ``initlint check src/``, as ``ruff src/`` once did."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["check", *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a bug of initlint's exits 2 with its traceback, never 1 ("findings")."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception:
            import traceback

            traceback.print_exc()
            click.echo("initlint: error: internal error (the traceback above); please report it", err=True)
            sys.exit(2)


def _count(n: int, noun: str) -> str:
    """``1 file``, ``2 files``: a count and its noun, singular for one."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _codes(value: str | None) -> list[str]:
    return [c.strip() for c in (value or "").split(",") if c.strip()]


@click.group(cls=_DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="initlint")
def cli() -> None:
    """Find the bugs of empty-weight initialization in PyTorch code.

    Run `initlint [PATHS]...` to lint (the default command), `initlint rule CODE` to read a rule.
    """


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "output_format", type=click.Choice(sorted(FORMATS)), default="text",
              show_default=True, help="How findings are printed.")
@click.option("--select", help="Comma-separated rule codes or prefixes to run (replaces the configured ones).")
@click.option("--ignore", help="Comma-separated rule codes or prefixes to skip.")
@click.option("--statistics", is_flag=True, help="Print a count per rule instead of each finding.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--force-exclude", is_flag=True,
              help="Apply `exclude` to files passed explicitly too (for pre-commit).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes for analysing files [default: one per CPU].")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the summary cache (.initlint_cache/).")
@click.option("--fix", is_flag=True, help="Apply the safe fixes (files are rewritten atomically).")
@click.option("--unsafe-fixes", is_flag=True,
              help="Also apply fixes that may change behaviour (with --fix/--diff); mark them [*].")
@click.option("--diff", is_flag=True, help="Print the fixes as a diff without writing; exit 1 if there are any.")
@click.option("--add-noqa", is_flag=True,
              help="Add `# noqa: CODE` to every reported line (to adopt initlint on a codebase with findings).")
@click.option("--init-protocol", type=click.Choice(list(INIT_PROTOCOLS)), default=None,
              help="How classes are initialized: `auto` (Hugging Face `_init_weights`, root init methods, "
                   "`reset_parameters`) or `reset_parameters` only [default: configured, else auto].")
def check(
    paths: tuple[Path, ...],
    output_format: str,
    select: str | None,
    ignore: str | None,
    statistics: bool,
    exit_zero: bool,
    force_exclude: bool,
    jobs: int | None,
    no_cache: bool,
    fix: bool,
    unsafe_fixes: bool,
    diff: bool,
    add_noqa: bool,
    init_protocol: str | None,
) -> None:
    """Lint PATHS (default: the current folder)."""
    from initlint.lint.engine import lint_paths  # imported here: `initlint --help` and `rule` need neither

    targets = list(paths) or [Path(".")]
    workers = jobs or os.cpu_count() or 1
    if add_noqa and (fix or diff):
        click.echo("initlint: error: --add-noqa cannot be combined with --fix or --diff; run them one after "
                   "the other", err=True)
        sys.exit(2)
    try:
        config = load_config(find_project_root(targets)).with_cli(_codes(select), _codes(ignore), init_protocol)
        if add_noqa:
            from initlint.lint.noqa import add_noqa_paths

            _report_noqa(add_noqa_paths(targets, config, force_exclude=force_exclude, cache=not no_cache,
                                        jobs=workers))
        if fix or diff:
            from initlint.lint.fixer import fix_paths

            run = fix_paths(targets, config, unsafe=unsafe_fixes, write=not diff, force_exclude=force_exclude,
                            cache=not no_cache, jobs=workers)
            result, fixed = run.result, len(run.fixed)
        else:
            result, fixed = lint_paths(targets, config, force_exclude, cache=not no_cache, jobs=workers), 0
    except ConfigError as exc:
        click.echo(f"initlint: error: {exc}", err=True)
        sys.exit(2)
    if fix or diff:
        for path in run.refused:
            click.echo(f"initlint: warning: {path}: its fixes were not applied because the fixed code would not "
                       "parse; please report this", err=True)
        for path, why in run.unwritable.items():
            click.echo(f"initlint: error: {path}: cannot write the fixes: {why}", err=True)
    if diff:
        click.echo("".join(run.diffs.values()), nl=False)
        click.echo(f"Would fix {_count(fixed, 'error')} in {_count(len(run.diffs), 'file')}.", err=True)
        sys.exit(1 if run.diffs else 0)
    if statistics:
        output = format_statistics(result.findings)
    elif output_format == "text":
        output = format_text(result.findings, unsafe_fixes=unsafe_fixes, fixed=fixed)
    else:
        output = FORMATS[output_format](result.findings)
    if output:
        click.echo(output, nl=False)
    if output_format == "text" and not result.findings and not statistics and not fixed:
        click.echo(f"All checks passed! ({_count(result.files_checked, 'file')})", err=True)
    if fix and run.unwritable:
        sys.exit(2)
    sys.exit(1 if result.findings and not exit_zero else 0)


def _report_noqa(run: NoqaRun) -> None:
    """Say what ``--add-noqa`` did, and exit: 2 if a file could not be written, 1 if findings are left."""
    for finding, why in run.unsuppressible:
        click.echo(f"initlint: warning: {finding.path}:{finding.line}: {finding.code} cannot be suppressed with "
                   f"`# noqa`: {why}; use `per-file-ignores` for this file", err=True)
    for path, why in run.unwritable.items():
        click.echo(f"initlint: error: {path}: cannot add the noqa directives: {why}", err=True)
    click.echo(f"Added {_count(run.added, 'noqa directive')}.", err=True)
    sys.exit(2 if run.unwritable else 1 if run.unsuppressible else 0)


@cli.command(short_help="Explain a rule, or list every rule with --all.")
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="List every rule.")
def rule(code: str | None, show_all: bool) -> None:
    """Explain rule CODE (e.g. `initlint rule INI001`), or list every rule with --all."""
    from initlint.lint.explain import explain
    from initlint.lint.rules import RULES_BY_CODE

    if show_all or code is None:
        for rule_class in RULES_BY_CODE.values():
            click.echo(f"{rule_class.code}  {rule_class.name}")
        return
    rule_class = RULES_BY_CODE.get(code.upper())
    if rule_class is None:
        click.echo(f"initlint: error: unknown rule code {code!r} (known: {', '.join(RULES_BY_CODE)})", err=True)
        sys.exit(2)
    click.echo(explain(rule_class), nl=False)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
             short_help="Run a script and verify every model it builds empty.")
@click.option("--strict/--warn", default=True,
              help="Stop the program at the first forward of a broken model [default], or let it run on and "
                   "report at the end.")
@click.option("--portable", is_flag=True,
              help="Also fail tensors holding only their constructor's value (a meta or sharded init leaves "
                   "them as garbage).")
@click.option("--poison", is_flag=True, help="Fill memory nobody wrote with NaN, so partial writes are counted.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a JSON report here (for CI).")
@click.option("--ignore", "ignore", multiple=True, metavar="PATTERN",
              help="Glob of dotted tensor names not to verify (repeatable).")
@click.option("-m", "module", metavar="MODULE", help="Run a module, as `python -m MODULE`.")
@click.option("-v", "--verbose", is_flag=True, help="Print the summary of a clean run too.")
@click.argument("program", nargs=-1, type=click.UNPROCESSED, metavar="SCRIPT [ARGS]...")
def run(strict: bool, portable: bool, poison: bool, report_path: Path | None, ignore: tuple[str, ...],
        module: str | None, verbose: bool, program: tuple[str, ...]) -> None:
    """Run a Python script (or `-m MODULE`) and verify every model it builds empty.

    Every empty-init entry point (Lightning's init_module, accelerate's init_empty_weights, transformers'
    from_pretrained, torch.device("meta") + to_empty, ...) is verified at the model's first forward.
    Exit 0 clean, 1 failures found, else the program's own exit code. A module:
    `initlint run [OPTIONS] -m MODULE [ARGS]...`; under torchrun: `torchrun ... -m initlint run train.py`.
    """
    if module is None and not program:
        click.echo("initlint: error: `initlint run` needs a SCRIPT or `-m MODULE`", err=True)
        sys.exit(2)
    from initlint.runtime.runner import RunOptions, run as run_program  # no torch: the program imports it

    options = RunOptions(strict=strict, portable=portable, poison=poison, ignore=ignore, report=report_path,
                         verbose=verbose)
    target, args = (module, list(program)) if module is not None else (program[0], list(program[1:]))
    if module is None and not os.path.exists(target):
        click.echo(f"initlint: error: can't open file {target!r}: no such file", err=True)
        sys.exit(2)
    sys.exit(run_program(target, args, options, module=module is not None))


@cli.command(short_help="Run the language server for editors (the lsp extra).")
def server() -> None:
    """Run the language server on stdin/stdout (for editors; needs `pip install "initlint[lsp]"`)."""
    try:
        from initlint.server import serve
        import pygls  # noqa: F401  (the extra is checked before the protocol starts)
    except ImportError as exc:
        click.echo(f"initlint: error: `initlint server` needs the lsp extra ({exc}): pip install \"initlint[lsp]\"",
                   err=True)
        sys.exit(2)
    serve()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="initlint")


if __name__ == "__main__":
    main()
