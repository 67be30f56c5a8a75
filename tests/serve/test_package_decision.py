"""A package exported from an ``inner_threshold`` run stores its rule and threshold; ``predict``, ``predict
--member`` and the model card use them, and a package of the older format (no rule) is refused in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdc_bench.cli import main


@pytest.fixture(scope="module")
def thresholded(tiny_suite: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The serve tests' tiny 2-class run with ``protocol.decision = "inner_threshold"``, scratch exported."""
    root = tmp_path_factory.mktemp("decision")
    run = root / "run"
    args = ["run", "--suite", str(tiny_suite), "--out", str(run), "--quiet", "--set", "methods=['scratch']"]
    assert main([*args, "--set", "protocol.decision=inner_threshold"]) == 0
    package = root / "package"
    assert main(["export", str(run), "--method", "scratch", "--out", str(package)]) == 0
    return run, package


def _source(run_dir: Path) -> str:
    origin = json.loads((run_dir / "run.json").read_text())["data"]["origin"]
    return str(Path(origin.removeprefix("synthspine:")) / "manifest.csv")


def test_the_package_stores_the_rule_and_predict_uses_it(
    thresholded: tuple[Path, Path], tmp_path: Path
) -> None:
    run, package = thresholded
    info = json.loads((package / "package.json").read_text())
    cells = [json.loads(f.read_text())["decision"] for f in sorted((run / "cells").glob("*.json"))]
    decision = info["decision"]
    assert info["format_version"] == 2 and decision["rule"] == "inner_threshold"
    assert decision["threshold"] == pytest.approx(np.mean([c["threshold"] for c in cells]))
    assert sorted(decision["member_thresholds"].values()) == sorted(c["threshold"] for c in cells)
    for member, threshold in [(None, decision["threshold"]), *decision["member_thresholds"].items()]:
        out = tmp_path / f"{member}.csv"
        extra = ["--member", member] if member else []
        assert main(["predict", str(package), "--data", _source(run), "--out", str(out), *extra]) == 0
        frame = pd.read_csv(out)
        expected = np.where(frame["p_scoliosis"] > threshold, "scoliosis", "normal")
        assert (frame["predicted"].to_numpy() == expected).all()
    card = (package / "MODEL_CARD.md").read_text()
    assert f"p(scoliosis) > {decision['threshold']:.3g}" in card and "inner data" in card


def test_a_package_of_the_older_format_is_one_line(
    thresholded: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, package = thresholded
    old = shutil.copytree(package, tmp_path / "old")
    info = json.loads((old / "package.json").read_text())
    del info["decision"]
    info["format_version"] = 1
    (old / "package.json").write_text(json.dumps(info))
    assert main(["predict", str(old), "--data", _source(run), "--out", str(tmp_path / "p.csv")]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "version" in error, error
