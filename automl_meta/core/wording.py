"""How messages write a count: "1 trial", "2 trials"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun, singular for one: counted(1, "row") is "1 row"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
