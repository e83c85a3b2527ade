"""Message-derived text made safe for logs (CWE-117).

A frame_id, encoding or exception text comes from whoever publishes on the node's topics: a newline in it
would forge a separate, well-formed log line, and ANSI escape bytes would drive the reader's terminal.
"""
from __future__ import annotations

__all__ = ["printable"]


def printable(value, limit: int | None = 120) -> str:
    """``str(value)`` with every non-printable character (newlines, ANSI escapes, other control and separator
    characters) written as its Python escape (``\\n``, ``\\x1b``, ``\\u2028``), cut to ``limit`` characters.

    Idempotent (a backslash is printable), so text escaped at a call site may safely pass through again.
    """
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(value))
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}...({len(text) - limit} more characters)"
    return text
