"""Write ``docs/rules/<CODE>.md`` and ``docs/rules/index.md`` from each rule's own metadata.

Usage::

    python scripts/generate_rule_docs.py          # rewrite the pages
    python scripts/generate_rule_docs.py --check  # exit 1 if a page is stale (a test runs this)
"""

from __future__ import annotations

import sys
from pathlib import Path

from initlint.lint.explain import explain
from initlint.lint.rules import ALL_RULES
from initlint.lint.rules.base import Rule

DOCS = Path(__file__).resolve().parents[1] / "docs" / "rules"


def _fixable(rule: type[Rule]) -> str:
    """The index's "Fixable" cell: the option that applies the rule's fix, if it has one."""
    if not rule.fix_safety:
        return "no"
    return "`--unsafe-fixes`" if rule.fix_is_unsafe() else "`--fix`"


def _summary(rule: type[Rule]) -> str:
    """The first sentence of the rule's "What it does"."""
    return rule.what_it_does.split("\n\n")[0].split(". ")[0].rstrip(".") + "."


def pages() -> dict[Path, str]:
    """Every generated page and its text."""
    generated = {DOCS / f"{rule.code}.md": explain(rule) for rule in ALL_RULES}
    rows = "".join(f"| [{r.code}]({r.code}.md) | {r.name} | {_summary(r)} | {_fixable(r)} |\n" for r in ALL_RULES)
    generated[DOCS / "index.md"] = (
        "# Rules\n\n"
        "Codes are stable forever. Bands: `INI0xx` module and init structure, `INI1xx` script order, "
        "`INI4xx` opt-in, `INI9xx` internal. `initlint rule CODE` prints a rule's page. *Fixable*: the option "
        "that applies the rule's fix (`--unsafe-fixes` with `--fix` or `--diff`; see [Fixes](../linter.md#fixes)).\n\n"
        "| Code | Name | What it does | Fixable |\n|---|---|---|---|\n" + rows
    )
    return generated


def main() -> int:
    stale = [path for path, text in pages().items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if "--check" in sys.argv:
        for path in stale:
            print(f"{path} is stale: run python scripts/generate_rule_docs.py")
        return int(bool(stale))
    DOCS.mkdir(parents=True, exist_ok=True)
    for path, text in pages().items():
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(pages())} pages under {DOCS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
