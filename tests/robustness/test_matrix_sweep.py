"""The bad-input matrix, generated: every public command, a bad value for each of its options.

The options come from argparse's own table (:func:`sdc_bench.cli.build_parser`), so a new option is swept
without a new test. Each command is given a base that fails validation before any work (a run folder
that does not exist, ``train.batch_size=0``), plus one generated bad value for one option; whatever the
value, the answer must be exit 2 and one line of at most 300 characters on stderr, never a traceback.
Hypothesis draws a bounded number of examples, so the sweep stays within seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdc_bench.cli import build_parser, main

MAX_LINE = 300
NO_SUCH = "/nonexistent/sdc-bench-sweep"

SUITE = """
description = "sweep"
seed = 0
methods = ["classical"]
backbones = ["tf_efficientnet_lite0"]

[data]
source = "synthspine"
n_images = 20
classes = ["normal", "scoliosis"]
prevalence = [0.5, 0.5]
modalities = ["xray"]
size = 32

[train]
device = "cpu"

[throughput]
enabled = false
"""


def _bases(tmp: Path) -> dict[tuple[str, ...], list[str]]:
    """Per command: arguments that fail validation before any work, whatever else is added."""
    suite = tmp / "sweep.toml"
    suite.write_text(SUITE)
    out = str(tmp / "out")
    return {
        ("run",): ["--suite", str(suite), "--out", out, "--quiet", "--set", "train.batch_size=0"],
        ("worker",): [NO_SUCH, "--quiet"],
        ("list",): ["no-such-registry"],
        ("data", "synth"): ["--out", out, "--n", "0", "--quiet"],
        ("data", "check"): [NO_SUCH, "--out", str(tmp / "audit.json"), "--quiet"],
        ("report",): [NO_SUCH],
        ("throughput",): ["--backbones", "no_such_backbone", "--out", str(tmp / "t.csv"), "--quiet"],
        ("regress",): [NO_SUCH, "--baseline", NO_SUCH + ".json"],
        ("baseline",): [NO_SUCH, "--out", str(tmp / "b.json")],
        ("export",): [NO_SUCH, "--method", "sdc_dl", "--out", out, "--quiet"],
        ("predict",): [NO_SUCH, "--data", NO_SUCH, "--out", str(tmp / "p.csv")],
        ("weights", "fetch"): ["--backbones", "no_such_backbone", "--out", out],
        ("weights", "check"): [NO_SUCH],
        ("compare",): [NO_SUCH, NO_SUCH + "-b", "--out", out],
        ("publish",): [NO_SUCH, "--to", out],
        ("board",): [NO_SUCH, "--out", out],
        ("data", "get"): ["no-such-dataset", "--out", out, "--offline", "--quiet"],
    }


def _commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every leaf command of the parser, by its words (``("data", "check")``)."""
    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(_commands(sub, (*prefix, name)) or {(*prefix, name): sub})
    return found


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options that take a value (flags without one cannot be given a bad value)."""
    return [
        action
        for action in parser._actions
        if action.option_strings and action.nargs != 0 and action.dest not in ("help", "version")
    ]


COMMANDS = _commands(build_parser())
CASES = [
    (words, action.option_strings[-1]) for words, sub in sorted(COMMANDS.items()) for action in _options(sub)
]
ACTIONS = {
    (words, action.option_strings[-1]): action for words, sub in COMMANDS.items() for action in _options(sub)
}

_JUNK = st.sampled_from(
    [
        "",
        " ",
        "abc",
        "-1",
        "0",
        "1e9",
        "nan",
        "=",
        "a=b=c",
        "{",
        "['x']",
        "../../etc/passwd",
        NO_SUCH,
        "x" * 60,
        "é∂",
        "\t",
    ]
)


def _bad_value(action: argparse.Action) -> st.SearchStrategy[str]:
    """Values the option refuses: not an integer for an int, outside the choices, junk text otherwise."""
    text = st.text(min_size=0, max_size=24).filter(lambda t: "\x00" not in t)
    if action.type is int:
        return (_JUNK | text).filter(lambda t: not t.strip().lstrip("+-").isdigit())
    if action.choices is not None:
        return (_JUNK | text).filter(lambda t: t not in action.choices)  # type: ignore[operator]
    return _JUNK | text


def test_the_sweep_covers_every_command_and_option() -> None:
    missing = sorted(" ".join(words) for words in set(COMMANDS) - set(_bases(Path("/tmp"))))
    assert not missing, f"give these commands a base in _bases(), one that fails before any work: {missing}"
    assert len(CASES) >= 40


@pytest.mark.parametrize("words", sorted(COMMANDS), ids=" ".join)
def test_each_commands_base_is_refused_in_one_line(
    words: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bases = _bases(tmp_path)
    if words not in bases:
        pytest.skip("no base yet: test_the_sweep_covers_every_command_and_option names it")
    _assert_one_line(main([*words, *bases[words]]), capsys, [*words])


def _assert_one_line(code: int, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if not line.startswith("sdc-bench: warning:")]
    assert code == 2, (argv, err)
    assert "Traceback" not in err, (argv, err)
    assert len(lines) == 1, (argv, err)
    assert lines[0].startswith("sdc-bench: error: ") and len(lines[0]) <= MAX_LINE, (argv, lines[0])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_bad_value_for_any_option_is_one_line(
    data: st.DataObject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bases = _bases(tmp_path)
    words, option = data.draw(st.sampled_from([case for case in CASES if case[0] in bases]), label="option")
    value = data.draw(_bad_value(ACTIONS[(words, option)]), label="value")
    argv = [*words, *bases[words], f"{option}={value}"]
    _assert_one_line(main(argv), capsys, argv)
