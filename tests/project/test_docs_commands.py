"""Every ``sdc-bench`` command and ``--flag`` the README and CONTRIBUTING show exists in the CLI.

Commands are read from fenced code blocks and from inline code (which is where the tables keep theirs);
each flag after a command must be an option of that (sub)command's parser, the one its ``--help``
prints. Inline code made only of flags (``--workers 4``) must name an option of some subcommand.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sdc_bench.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "CONTRIBUTING.md")

_FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.S)
_INLINE = re.compile(r"`([^`]+)`")
# words after the program name, up to a shell pipe or comment (``\|`` in a table cell is an alternative)
_COMMAND = re.compile(r"(?:^|[\s/])sdc-bench((?:\s+(?!\|\s)[^\s#]+)*)")
_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def _snippets(text: str) -> list[str]:
    """Code block lines (comments dropped) and inline code spans outside the code blocks."""
    blocks = _FENCE.findall(text)
    lines = [line.split("  #")[0] for block in blocks for line in block.splitlines()]
    return lines + _INLINE.findall(_FENCE.sub("", text))


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _resolve(words: list[str]) -> tuple[str, argparse.ArgumentParser]:
    """The deepest (sub)command the leading words name, e.g. ``data synth``."""
    parser, path = build_parser(), []
    for word in words:
        children = _subparsers(parser)
        if word not in children:
            break
        parser, path = children[word], [*path, word]
    return " ".join(path), parser


def _shown() -> tuple[list[tuple[str, str, str | None]], list[tuple[str, str]]]:
    """(document, command, flag) for flags after a command (flag None: the command alone);
    (document, flag) for flag-only spans."""
    commands: list[tuple[str, str, str | None]] = []
    loose: list[tuple[str, str]] = []
    for name in DOCS:
        for snippet in _snippets((ROOT / name).read_text()):
            found = list(_COMMAND.finditer(snippet))
            for match in found:
                words = match.group(1).replace("\\|", " ").split()
                command, _ = _resolve(words)
                if not command:  # a path such as ~/.cache/sdc-bench, not a command
                    continue
                commands.append((name, command, None))
                commands += [(name, command, flag) for flag in _FLAG.findall(match.group(1))]
            if not found and snippet.strip().startswith("--"):
                loose += [(name, flag) for flag in _FLAG.findall(snippet)]
    return commands, loose


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return set(parser._option_string_actions)


def _all_options() -> set[str]:
    options = _options(build_parser())
    stack = list(_subparsers(build_parser()).values())
    while stack:
        parser = stack.pop()
        options |= _options(parser)
        stack += _subparsers(parser).values()
    return options


def test_documents_show_commands() -> None:
    commands, loose = _shown()
    assert {c for _, c, _ in commands} >= {"run", "list", "worker", "data synth", "data check", "regress"}
    assert loose


def test_every_documented_command_flag_exists() -> None:
    commands, _ = _shown()
    missing = set()
    for name, command, flag in commands:
        _, parser = _resolve(command.split())
        if flag is not None and flag not in _options(parser):
            missing.add(f"{name}: `sdc-bench {command}` has no {flag}")
    assert not missing, sorted(missing)


def test_every_documented_loose_flag_exists() -> None:
    _, loose = _shown()
    options = _all_options()
    missing = {f"{name}: {flag}" for name, flag in loose if flag not in options}
    assert not missing, sorted(missing)
