"""Measured figures live in docs/benchmarks.md with their command and commit, not in code
comments or docstrings, where they go stale silently (a comment may point to the docs).

The rule: no comment or docstring of the package holds a number with three or more
decimals or a "±" spread, the shape of a measured regret, rank or score. Quoted example
output ("best roc_auc 0.9959 ...") and doctest blocks are not measurements."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "automl_meta"
FIGURE = re.compile(r"\b\d+\.\d{3,}\b|±")
QUOTED = re.compile(r'"[^"\n]*"')
DOCTEST = re.compile(r"^\s*>>>.*(\n(?!\s*$).*)*", re.MULTILINE)  # a doctest and its output


def _texts(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring of a module."""
    source = path.read_text()
    texts = [(t.start[0], t.string) for t in tokenize.generate_tokens(io.StringIO(source).readline)
             if t.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                texts.append((getattr(node, "lineno", 1), doc))
    return texts


def _figures(text: str) -> list[str]:
    return FIGURE.findall(QUOTED.sub("", DOCTEST.sub("", text)))


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_comment_or_docstring_quotes_a_measured_figure(path):
    found = [(line, figure) for line, text in _texts(path) for figure in _figures(text)]
    assert not found, f"{path.name}: move these to docs/benchmarks.md: {found}"


@pytest.mark.parametrize(("text", "flagged"), [
    ("# regret 0.0330 at trial 5", True), ("# rank 2.45 ± 0.13", True),
    ("# 0.1 to 300, the best held-out error", False), ('"best roc_auc 0.9959 (ensemble)"', False),
    (">>> f()\n1.584962500721156\n\nafter", False)])
def test_the_rule_flags_figures_and_spares_examples(text, flagged):
    assert bool(_figures(text)) == flagged
