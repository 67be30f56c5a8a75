"""vulture finds no dead code in the package (imports, variables, unreachable code: confidence >= 80%).

Real false positives go in ``tests/vulture_whitelist.py`` with a comment saying why each is used.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WHITELIST = ROOT / "tests" / "vulture_whitelist.py"


def test_vulture_finds_no_dead_code() -> None:
    pytest.importorskip("vulture", reason="vulture is in the test extra: pip install -e '.[test]'")
    command = [sys.executable, "-m", "vulture", "sdc_bench", "--min-confidence", "80"]
    if WHITELIST.is_file():
        command.append(str(WHITELIST.relative_to(ROOT)))
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and not result.stdout.strip(), (
        f"vulture reports dead code (remove it, or whitelist a real false positive with a why):\n{result.stdout}"
        f"{result.stderr}"
    )
