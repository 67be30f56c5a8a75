"""`.ci/run` is the project's contract with CI: it runs README's test command and fails fast and clearly."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CI_RUN = ROOT / ".ci" / "run"


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(python3 -m venv .*?)\n```", text)


def test_readme_gives_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    commands = _readme_commands()
    assert len(commands) == 2, commands
    install_and_run, install_and_test = commands
    assert "sdc-bench run --suite smoke" in install_and_run
    assert "pytest" in install_and_test
    ci_lines = [line.strip() for line in CI_RUN.read_text().splitlines()]
    assert install_and_test in ci_lines


@pytest.mark.skipif(shutil.which("df") is None, reason="needs POSIX df")
def test_ci_stops_with_one_line_when_the_disk_is_too_full(tmp_path: Path) -> None:
    env = {**os.environ, "SDC_BENCH_CI_MIN_FREE_GIB": str(10**9), "TMPDIR": str(tmp_path)}
    done = subprocess.run(["bash", str(CI_RUN)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("CI: only ") and "MiB free on the disk of" in lines[0]
    assert "free space there" in lines[0]
    # It stopped before touching anything: no PostgreSQL step, no venv install.
    assert "PostgreSQL" not in done.stdout
