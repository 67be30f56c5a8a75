"""The ``publish`` and ``board`` commands: a leaderboard of exported model packages and its static page."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_leaderboard_parsers"]


def add_leaderboard_parsers(sub: Any) -> None:
    """Add ``sdc-bench publish MODEL_DIR --to DIR`` and ``sdc-bench board DIR --out SITE``."""
    publish = sub.add_parser(
        "publish",
        help="add an exported package's card and row to a leaderboard",
        description="Copy an exported package's MODEL_CARD.md and package.json (not its weights) into --to and "
        "add one row to its leaderboard.json and LEADERBOARD.md: task, data, balanced accuracy with CI, "
        "images/s on the measuring machine, licence, link to the card.",
    )
    publish.add_argument("model_dir", help="an exported package (sdc-bench export ... --out DIR)")
    publish.add_argument("--to", required=True, help="the leaderboard folder, e.g. model-cards/")
    publish.add_argument("--name", help="the model's name on the board (default: method-backbone-kind-run)")
    publish.set_defaults(func=cmd_publish)
    board = sub.add_parser(
        "board",
        help="render a leaderboard as a static, sortable HTML page",
        description="Write OUT/index.html (self-contained, sortable columns, no server) and OUT/leaderboard.md "
        "from a leaderboard folder made by `sdc-bench publish`.",
    )
    board.add_argument("folder", help="the leaderboard folder, e.g. model-cards/")
    board.add_argument("--out", required=True, help="folder for the page, e.g. site/")
    board.set_defaults(func=cmd_board)


def cmd_publish(args: argparse.Namespace) -> int:
    from sdc_bench.serve.leaderboard import publish

    row = publish(Path(args.model_dir), Path(args.to), name=args.name)
    print(f"published {row.name} to {args.to} ({row.card}; balanced accuracy {row.value})")
    return 0


def cmd_board(args: argparse.Namespace) -> int:
    from sdc_bench.serve.leaderboard import render_board

    written = render_board(Path(args.folder), Path(args.out))
    print(f"board written: {written[0]} and {written[1]}")
    return 0
