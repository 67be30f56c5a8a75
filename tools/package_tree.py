"""Prints the package tree that ``docs/architecture.md`` shows: each folder of ``sdc_bench/`` with its modules.

``python tools/package_tree.py`` prints it; ``--check`` exits 1 when the block between the
``<!-- package-tree -->`` markers of docs/architecture.md differs (tests/project/test_architecture.py runs it),
``--write`` replaces that block.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
START, END = "<!-- package-tree -->", "<!-- /package-tree -->"


def package_tree(package: Path = ROOT / "sdc_bench") -> str:
    """One line per folder (indented by depth): ``name/  module module ...`` (``__init__`` is the face)."""
    lines: list[str] = []

    def visit(folder: Path, depth: int) -> None:
        modules = sorted(p.stem for p in folder.glob("*.py") if p.name != "__init__.py")
        lines.append("  " * depth + f"{folder.name}/" + ("  " + " ".join(modules) if modules else ""))
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
            visit(sub, depth + 1)

    visit(package, 0)
    return "\n".join(lines)


def _block() -> str:
    return f"{START}\n```\n{package_tree()}\n```\n{END}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/architecture.md is stale")
    parser.add_argument("--write", action="store_true", help="rewrite the block in docs/architecture.md")
    args = parser.parse_args(argv)
    text = DOC.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    current = START + rest.partition(END)[0] + END
    if args.write:
        DOC.write_text(head + _block() + tail)
        return 0
    if args.check:
        if current != _block():
            print(
                f"{DOC.relative_to(ROOT)}: the package tree is stale; run python tools/package_tree.py --write"
            )
            return 1
        return 0
    print(package_tree())
    return 0


if __name__ == "__main__":
    sys.exit(main())
