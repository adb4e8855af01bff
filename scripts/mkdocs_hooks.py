"""mkdocs hooks for the docs site (named in mkdocs.yml)."""

from __future__ import annotations

import re

# Inline code with no space in it (`--diff`, `reset_parameters()`), not the code of a block (`<pre>...<code>`)
_UNBROKEN_CODE = re.compile(r"(?<!</span>)<code>([^<\s]+)</code>")


def on_page_content(html: str, **kwargs: object) -> str:
    """Mark inline code that has no space as one unbreakable word.

    A browser may break a line after any hyphen, so `--diff` would wrap as "--" and "diff"; the class
    ``nowrap`` (docs/stylesheets/extra.css) keeps such a span whole. Code with spaces still breaks at them.
    """
    return _UNBROKEN_CODE.sub(r'<code class="nowrap">\1</code>', html)
