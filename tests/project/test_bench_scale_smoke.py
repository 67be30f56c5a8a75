"""CI's smoke check of the scaling benchmark: ``benchmarks/bench_scale.py --quick`` runs every stage at one
small size and writes its Markdown (the full benchmark is not a test: it runs outside ``pytest -q``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_scale_quick_writes_a_table_per_stage(tmp_path: Path) -> None:
    out = tmp_path / "scale.md"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    command = [sys.executable, str(ROOT / "benchmarks" / "bench_scale.py"), "--quick", "--out", str(out)]
    subprocess.run(command, check=True, env=env, cwd=tmp_path, capture_output=True, timeout=900)
    text = out.read_text()
    assert text.startswith("# Cost as the work grows")
    assert "bench_scale.py --quick" in text  # how to re-run it
    for stage in ("report", "data-check", "dicom", "resume", "compare", "regress"):
        assert f"## {stage}:" in text
    rows = re.findall(r"^\| [^|]+ \| [\d,]+ \| (\d+\.\d) \| (\d+) \|$", text, flags=re.MULTILINE)
    assert len(rows) == 6 and all(float(seconds) > 0 and int(mb) > 0 for seconds, mb in rows)
