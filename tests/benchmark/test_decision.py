"""``protocol.decision = "inner_threshold"``: an operating point chosen on inner data, never on the test fold.

An imbalanced 2-class SynthSpine run (85 % normal) with the classical method (class-weighted logistic
regression on HOG features, seconds per cell): its argmax decisions miss most scoliosis images, and the
threshold chosen on each cell's inner split gains balanced accuracy on the outer-test folds, with the
same probabilities.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score

from sdc_bench.benchmark import cell as cell_module
from sdc_bench.cli import main

SUITE = """
description = "test: imbalanced 2-class SynthSpine, an operating point on inner data"
seed = 0
methods = ["classical"]
backbones = ["tf_efficientnet_lite0"]

[data]
source = "synthspine"
seed = 0
n_images = 300
classes = ["normal", "scoliosis"]
prevalence = [0.85, 0.15]
modalities = ["xray"]
size = 64

[protocol]
outer_folds = 2
inner_val_fraction = 0.25

[train]
device = "cpu"
early_stopping = false

[search]
n_trials = 0
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[pd.DataFrame]]:
    """The same suite with argmax and with inner_threshold; the second with a spy on the threshold's inputs."""
    root = tmp_path_factory.mktemp("decision")
    suite = root / "imbalanced.toml"
    suite.write_text(SUITE)
    seen: list[pd.DataFrame] = []
    real = cell_module.choose_threshold

    def spy(inner: pd.DataFrame, classes: Any) -> Any:
        seen.append(inner.copy())
        return real(inner, classes)

    out = {}
    for decision in ("argmax", "inner_threshold"):
        out[decision] = root / decision
        args = ["run", "--suite", str(suite), "--out", str(out[decision]), "--quiet"]
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cell_module, "choose_threshold", spy)
            assert main([*args, "--set", f"protocol.decision={decision}"]) == 0
    return out["argmax"], out["inner_threshold"], seen


def _test_predictions(run: Path) -> pd.DataFrame:
    frame = pd.read_parquet(run / "predictions.parquet")
    return frame[frame["split"] == "test"].sort_values("sample_id").reset_index(drop=True)


def _balanced_accuracy(frame: pd.DataFrame) -> float:
    return float(balanced_accuracy_score(frame["y_true"], frame["y_pred"]))


def test_inner_threshold_gains_balanced_accuracy_with_the_same_probabilities(
    runs: tuple[Path, Path, list[pd.DataFrame]],
) -> None:
    argmax, threshold, _ = runs
    before, after = _test_predictions(argmax), _test_predictions(threshold)
    pd.testing.assert_frame_equal(before[["p_normal", "p_scoliosis"]], after[["p_normal", "p_scoliosis"]])
    assert _balanced_accuracy(after) > _balanced_accuracy(before) + 0.05
    for cell_file in sorted((threshold / "cells").glob("*.json")):
        decision = json.loads(cell_file.read_text())["decision"]
        assert decision["rule"] == "inner_threshold" and decision["positive_class"] == "scoliosis"
        fold = after[after["outer_fold"] == json.loads(cell_file.read_text())["cell"]["outer_fold"]]
        expected = np.where(fold["p_scoliosis"] > decision["threshold"], "scoliosis", "normal")
        assert (fold["y_pred"].to_numpy() == expected).all()  # y_pred follows the stored threshold
    for cell_file in sorted((argmax / "cells").glob("*.json")):
        assert json.loads(cell_file.read_text())["decision"]["rule"] == "argmax"
    table = (threshold / "tables" / "main_comparison.md").read_text()
    assert (
        "inner_threshold" in table
        and "inner_threshold" not in (argmax / "tables" / "main_comparison.md").read_text()
    )


def test_no_test_fold_prediction_reaches_the_threshold(runs: tuple[Path, Path, list[pd.DataFrame]]) -> None:
    """The function choosing the threshold saw only the cell's inner validation samples, never a test id."""
    _, threshold, seen = runs
    splits = json.loads((threshold / "splits.json").read_text())
    cells = [json.loads(f.read_text()) for f in sorted((threshold / "cells").glob("*.json"))]
    assert len(seen) == len(cells) == 2
    for inner, record in zip(seen, cells, strict=True):
        fold = next(f for f in splits["folds"] if f["outer_fold"] == record["cell"]["outer_fold"])
        ids = set(inner["sample_id"])
        assert (
            ids == set(record["decision"]["inner_sample_ids"]) and len(ids) == record["decision"]["n_inner"]
        )
        assert not ids & set(fold["test"])
        assert ids <= set(fold["train"])
        assert set(inner["split"]) == {"inner"}


def test_inner_threshold_on_three_classes_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "three.toml"
    suite.write_text(
        SUITE.replace('["normal", "scoliosis"]', '["normal", "scoliosis", "spondylolisthesis"]')
        .replace("[0.85, 0.15]", "[0.4, 0.3, 0.3]")
        .replace("n_images = 300", "n_images = 60")
    )
    args = ["run", "--suite", str(suite), "--out", str(tmp_path / "run"), "--quiet"]
    assert main([*args, "--set", "protocol.decision=inner_threshold"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "needs 2 classes" in lines[0] and "argmax" in lines[0]
    assert not (tmp_path / "run").exists()
