"""Sections that other benchmarks keep inside docs/results.md, so one page holds every measured table.

A section is the text between ``<!-- section:NAME -->`` and ``<!-- /section:NAME -->``. ``benchmarks/results.py``
rewrites the page from its own runs and carries the sections over; each other benchmark replaces its own.
"""

from __future__ import annotations

import re
from pathlib import Path

_BLOCK = re.compile(r"<!-- section:(?P<name>[\w-]+) -->\n.*?<!-- /section:(?P=name) -->\n", re.S)


def sections(text: str) -> list[str]:
    """Every embedded section of ``text``, in order, markers included."""
    return [m.group(0) for m in _BLOCK.finditer(text)]


def embed(page: Path, name: str, markdown: str) -> None:
    """Put ``markdown`` into ``page`` as section ``name``: in place of the old one, else at the end."""
    block = f"<!-- section:{name} -->\n{markdown.rstrip()}\n<!-- /section:{name} -->\n"
    text = page.read_text(encoding="utf-8") if page.is_file() else "# Results\n"
    pattern = re.compile(
        rf"<!-- section:{re.escape(name)} -->\n.*?<!-- /section:{re.escape(name)} -->\n", re.S
    )
    text, replaced = pattern.subn(lambda _: block, text)
    if not replaced:
        text = text.rstrip("\n") + "\n\n" + block
    page.write_text(text, encoding="utf-8")
