"""Make any text inert inside Markdown: alert labels, notes and names are data, never markup.

The characters that start inline markup (emphasis, code, links, images, tables, strikethrough)
are backslash-escaped; ``<``, ``>`` and ``&`` become entities, so no raw HTML or ``<url>``
autolink survives; line breaks become spaces and a leading block marker (``#``, ``-``, ``+``,
``=``, ``1.``) is escaped, so a value cannot start a heading, list or code block; ``://`` and
``www.`` get a zero-width space so renderers that link bare URLs (GitHub's) leave them as text.
Other punctuation is left alone so the Markdown source stays readable in a terminal.
"""

from __future__ import annotations

import re
from typing import Any

_INLINE = re.compile(r"([\\`*_\[\]|~])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ZWSP = "\u200b"
_AUTOLINK = re.compile(r"(?i)(?<=:)(?=//)|(?<=www)(?=\.)")
_BLOCK_START = re.compile(r"^(\s*)(\d*)([#\-+=.)])(?=\s|$|=)")


def escape_markdown(value: Any) -> str:
    """``value`` as Markdown text that renders as exactly that text, with no markup or link."""
    if value is None:
        return ""
    text = " ".join(str(value).splitlines())
    text = "".join(_ENTITIES.get(ch, ch) for ch in text)
    text = _INLINE.sub(r"\\\1", text)
    text = _AUTOLINK.sub(_ZWSP, text)
    return _BLOCK_START.sub(_escape_marker, text, count=1)


def _escape_marker(m: re.Match[str]) -> str:
    # "# x" -> "\# x"; "12. x" -> "12\. x" (a backslash before a digit is not an escape).
    marker = m.group(3)
    if m.group(2) and marker not in ".)":
        return m.group(0)
    if not m.group(2) and marker in ".)":
        return m.group(0)
    return m.group(1) + m.group(2) + "\\" + marker
