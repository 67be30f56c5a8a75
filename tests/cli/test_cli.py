from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sdc_bench.cli import build_parser, main

SUBCOMMANDS = [
    ["run"],
    ["list"],
    ["data"],
    ["data", "synth"],
    ["data", "check"],
    ["report"],
    ["regress"],
    ["baseline"],
    ["throughput"],
    ["worker"],
    ["weights"],
    ["weights", "fetch"],
    ["weights", "check"],
]


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "list", "data", "report", "regress", "baseline", "throughput", "worker"):
        assert command in out


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=" ".join)
def test_each_subcommand_help_describes_its_options(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: sdc-bench" in out
    assert "--help" in out


def test_run_help_names_the_stable_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for option in ("--suite", "--data", "--out", "--seed", "--resume", "--set"):
        assert option in out


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sdc_bench", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_missing_manifest_is_one_line_exit_2(tmp_path: Path) -> None:
    result = _cli(
        "run",
        "--suite",
        "smoke",
        "--data",
        str(tmp_path / "absent.csv"),
        "--out",
        str(tmp_path / "run"),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "absent.csv" in lines[0]
    assert not (tmp_path / "run").exists()


def test_malformed_manifest_is_one_line_exit_2(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("filename,diagnosis\na.png,normal\n")
    result = _cli("run", "--data", str(manifest), "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "manifest.csv" in result.stderr and "path" in result.stderr


def test_argparse_rejects_unknown_registry() -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["list", "gadgets"])
    assert exit_info.value.code == 2
