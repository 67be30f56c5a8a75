"""Size limits that keep the package readable: no function over 80 lines, no module over 600 lines.

A long function hides several jobs and a long module several concerns; both are where the layers of
``docs/architecture.md`` start to blur. The limits are counted on the AST (decorators excluded,
docstrings included), over every module of ``sdc_bench/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sdc_bench"
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600
MODULES = sorted(PACKAGE.rglob("*.py"))


def _function_lengths(tree: ast.AST) -> list[tuple[str, int, int]]:
    return [
        (node.name, node.lineno, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None
    ]


def test_package_has_modules() -> None:
    assert len(MODULES) > 30


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_size(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    n_lines = len(source.splitlines())
    assert n_lines <= MAX_MODULE_LINES, (
        f"{path.name} has {n_lines} lines (limit {MAX_MODULE_LINES}): split it along its seams"
    )
    too_long = [
        f"{name} (line {line}: {length} lines)"
        for name, line, length in _function_lengths(ast.parse(source))
        if length > MAX_FUNCTION_LINES
    ]
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines in {path.name}: {', '.join(too_long)}"


def test_the_check_catches_a_long_function() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    tree = ast.parse(f"def long():\n{body}\n")
    ((name, _, length),) = _function_lengths(tree)
    assert name == "long" and length == MAX_FUNCTION_LINES + 1
