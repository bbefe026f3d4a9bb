"""mkdocs hook: tidy Sphinx roles left in rendered API docstrings.

satsr docstrings use reST roles (``:class:`~satsr.errors.SatsrError```); mkdocstrings renders the
backticked part as code but keeps the role text. On API pages this hook drops the role prefix and
Sphinx's ``~`` (show the last name only) marker.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):(?=<code>)")
TILDE = re.compile(r"<code>~((?:[\w]+\.)*)(\w+)</code>")


def on_page_content(html: str, page: Any, **_: Any) -> str:
    """Remove ``:role:`` prefixes and ``~`` markers from code spans of ``api/`` pages."""
    if not page.file.src_uri.startswith("api/"):
        return html
    html = ROLE.sub("", html)
    return TILDE.sub(r"<code>\2</code>", html)
