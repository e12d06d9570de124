"""The one-line error text every layer prints: one helper, not one per module."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """Return the first line of an error's message (its type if it has none), printable."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    # A binary file's bytes can reach a parser's message: keep the line printable.
    line = "".join(c if c.isprintable() else "?" for c in line)
    return line if len(line) <= 200 else line[:197] + "..."
