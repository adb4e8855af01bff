"""The ``initlint`` command: ``initlint [PATHS]...`` to lint, ``initlint rule CODE`` to explain.

Exit codes, as ruff's: 0 no findings, 1 findings, 2 a usage or configuration error.
This module (and everything it imports) must never import torch.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from initlint.__about__ import __version__
from initlint.config import ConfigError, find_project_root, load_config
from initlint.lint.engine import lint_paths
from initlint.lint.explain import explain
from initlint.lint.formats import FORMATS, format_statistics
from initlint.lint.rules import RULES_BY_CODE

__all__ = ["main", "cli"]


class _DefaultToCheck(click.Group):
    """``initlint src/`` means ``initlint check src/``, as ``ruff src/`` once did."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["check", *args]
        return super().parse_args(ctx, args)


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
) -> None:
    """Lint PATHS (default: the current folder)."""
    targets = list(paths) or [Path(".")]
    try:
        config = load_config(find_project_root(targets)).with_cli(_codes(select), _codes(ignore))
        result = lint_paths(
            targets, config, force_exclude=force_exclude, cache=not no_cache, jobs=jobs or os.cpu_count() or 1
        )
    except ConfigError as exc:
        click.echo(f"initlint: error: {exc}", err=True)
        sys.exit(2)
    output = format_statistics(result.findings) if statistics else FORMATS[output_format](result.findings)
    if output:
        click.echo(output, nl=False)
    if output_format == "text" and not result.findings and not statistics:
        click.echo(f"All checks passed! ({result.files_checked} files)", err=True)
    sys.exit(1 if result.findings and not exit_zero else 0)


@cli.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="List every rule.")
def rule(code: str | None, show_all: bool) -> None:
    """Explain rule CODE (e.g. `initlint rule INI001`), or list every rule with --all."""
    if show_all or code is None:
        for rule_class in RULES_BY_CODE.values():
            click.echo(f"{rule_class.code}  {rule_class.name}")
        return
    rule_class = RULES_BY_CODE.get(code.upper())
    if rule_class is None:
        click.echo(f"initlint: error: unknown rule code {code!r} (known: {', '.join(RULES_BY_CODE)})", err=True)
        sys.exit(2)
    click.echo(explain(rule_class), nl=False)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="initlint")
