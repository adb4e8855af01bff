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

DOCS = Path(__file__).resolve().parents[1] / "docs" / "rules"


def pages() -> dict[Path, str]:
    """Every generated page and its text."""
    generated = {DOCS / f"{rule.code}.md": explain(rule) for rule in ALL_RULES}
    rows = "".join(f"| [{r.code}]({r.code}.md) | {r.name} | {r.what_it_does.split('. ')[0].rstrip('.')}. |\n" for r in ALL_RULES)
    generated[DOCS / "index.md"] = (
        "# Rules\n\n"
        "Codes are stable forever. Bands: `INI0xx` module and init structure, `INI1xx` script order, "
        "`INI4xx` opt-in, `INI9xx` internal. Each page is generated from the rule's own code and examples "
        "(`python scripts/generate_rule_docs.py`); `initlint rule CODE` prints the same text.\n\n"
        "| Code | Name | What it does |\n|---|---|---|\n" + rows
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
