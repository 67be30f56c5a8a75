"""End to end: a tiny suite through data, folds, training, predictions, metrics, tables and figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdc_bench.cli import main

TINY_SUITE = """
description = "test: tiny end-to-end run"
seed = 5
methods = ["sdc_dl", "scratch"]
backbones = ["tf_efficientnet_lite0"]

[data]
source = "synthspine"
n_images = 96
classes = ["normal", "scoliosis", "spondylolisthesis"]
prevalence = [0.4, 0.3, 0.3]
modalities = ["xray"]
size = 32

[protocol]
outer_folds = 2
inner_val_fraction = 0.25

[train]
batch_size = 16
patience = 2
max_epochs = 1
device = "cpu"

[params.sdc_dl]
head_epochs = 1
epochs = 1

[params.scratch]
epochs = 1
"""


@pytest.fixture(scope="module")
def tiny_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("suite") / "tiny.toml"
    path.write_text(TINY_SUITE)
    return path


@pytest.fixture(scope="module")
def run_dir(tiny_suite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "first"
    assert main(["run", "--suite", str(tiny_suite), "--out", str(out), "--quiet"]) == 0
    return out


def test_run_folder_holds_every_artifact(run_dir: Path) -> None:
    for name in ("run.json", "splits.json", "audit.json", "predictions.parquet", "metrics.csv", "log.txt"):
        assert (run_dir / name).is_file(), name
    for suffix in (".csv", ".md", ".tex"):
        assert (run_dir / "tables" / f"main_comparison{suffix}").is_file()
    for suffix in (".pdf", ".png"):
        assert (run_dir / "figures" / f"per_class_sensitivity_specificity{suffix}").stat().st_size > 1000
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["status"] == "done"
    assert manifest["seed"] == 5
    assert len(manifest["data"]["fingerprint"]) >= 16
    assert manifest["environment"]["packages"]["torch"]
    assert manifest["git_revision"]
    assert set(manifest["weights"].values()) >= {"random"}
    assert any(v.startswith("package:efficientnet-lite0") for v in manifest["weights"].values())


def test_predictions_follow_the_contract(run_dir: Path) -> None:
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    required = [
        "run_id",
        "method",
        "backbone",
        "augment",
        "imbalance",
        "seed",
        "outer_fold",
        "sample_id",
        "patient_id",
        "y_true",
        "y_pred",
    ]
    assert set(required) <= set(predictions.columns)
    proba = predictions[[c for c in predictions.columns if c.startswith("p_")]]
    assert list(proba.columns) == ["p_normal", "p_scoliosis", "p_spondylolisthesis"]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    # one row per image per method: every image is tested exactly once per method
    counts = predictions.groupby(["method", "sample_id"]).size()
    assert (counts == 1).all()
    n_images = json.loads((run_dir / "run.json").read_text())["data"]["n_images"]
    assert predictions.groupby("method")["sample_id"].nunique().eq(n_images).all()
    assert (predictions["y_pred"] == proba.idxmax(axis=1).str.removeprefix("p_")).all()


def test_no_patient_in_two_outer_folds(run_dir: Path) -> None:
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    folds_per_patient = predictions.groupby("patient_id")["outer_fold"].nunique()
    assert (folds_per_patient == 1).all()
    splits = json.loads((run_dir / "splits.json").read_text())
    sample_patient = predictions.drop_duplicates("sample_id").set_index("sample_id")["patient_id"]
    for fold in splits["folds"]:
        assert not set(sample_patient.loc[fold["train"]]) & set(sample_patient.loc[fold["test"]])
    # the inner validation patients of every cell come from its outer-training patients only
    for info_path in (run_dir / "cells").glob("*.json"):
        info = json.loads(info_path.read_text())
        fold = splits["folds"][info["cell"]["outer_fold"]]
        assert set(info["fit_sample_ids"]) | set(info["val_sample_ids"]) <= set(fold["train"])
        assert not set(sample_patient.loc[info["val_sample_ids"]]) & set(
            sample_patient.loc[info["fit_sample_ids"]]
        )


def test_metrics_derive_from_predictions_and_report_rebuilds(run_dir: Path) -> None:
    metrics = pd.read_csv(run_dir / "metrics.csv")
    pooled = metrics[(metrics["scope"] == "pooled") & (metrics["metric"] == "accuracy")].set_index("method")[
        "value"
    ]
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    for method, group in predictions.groupby("method"):
        assert pooled[method] == pytest.approx((group["y_true"] == group["y_pred"]).mean(), abs=1e-6)
    before = (run_dir / "metrics.csv").read_bytes()
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "metrics.csv").read_bytes() == before
    table = (run_dir / "tables" / "main_comparison.md").read_text()
    assert "SDC-DL" in table and "Scratch CNN" in table and "Balanced accuracy" in table  # display names


def test_same_seed_twice_gives_identical_metrics(run_dir: Path, tiny_suite: Path, tmp_path: Path) -> None:
    again = tmp_path / "second"
    assert main(["run", "--suite", str(tiny_suite), "--out", str(again), "--quiet"]) == 0
    assert (again / "metrics.csv").read_bytes() == (run_dir / "metrics.csv").read_bytes()
    first = pd.read_parquet(run_dir / "predictions.parquet").drop(columns="run_id")
    second = pd.read_parquet(again / "predictions.parquet").drop(columns="run_id")
    pd.testing.assert_frame_equal(first, second)


def test_resume_skips_finished_cells(run_dir: Path, tiny_suite: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "resumed"
    shutil.copytree(run_dir, copy)
    removed = sorted((copy / "cells").glob("scratch__*fold1.parquet"))
    assert removed
    kept = {p.name: p.stat().st_mtime_ns for p in (copy / "cells").glob("*.parquet") if p not in removed}
    for path in removed:
        path.unlink()
    (copy / "predictions.parquet").unlink()
    assert main(["run", "--resume", str(copy), "--quiet"]) == 0
    for name, mtime in kept.items():
        assert (copy / "cells" / name).stat().st_mtime_ns == mtime  # not recomputed
    pd.testing.assert_frame_equal(
        pd.read_parquet(copy / "predictions.parquet").drop(columns="run_id"),
        pd.read_parquet(run_dir / "predictions.parquet").drop(columns="run_id"),
    )


def test_out_folder_that_is_not_empty_is_refused(
    run_dir: Path, tiny_suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--suite", str(tiny_suite), "--out", str(run_dir), "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err


def test_a_folder_source_runs_end_to_end(
    tiny_suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user's dataset as class sub-folders (no manifest) goes through the same pipeline; the suite's
    SynthSpine external set is not scored beside a model of the user's images."""
    import shutil

    from sdc_bench.data.synthspine import SynthConfig, generate

    generated = tmp_path / "generated"
    manifest = generate(
        generated,
        SynthConfig(
            n_images=90,
            seed=3,
            size=64,
            classes=("normal", "scoliosis", "spondylolisthesis"),
            modalities=("xray",),
        ),
        progress=False,
    )
    folder = tmp_path / "folder"
    for row in manifest.itertuples():
        target = folder / row.label / f"{row.patient_id}_{Path(row.path).name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(generated / row.path, target)
    (folder / "normal" / "notes.txt").write_text("not an image")
    out = tmp_path / "run"
    # the stray text file is refused with a clear error, then skipped on request
    assert (
        main(
            [
                "run",
                "--suite",
                str(tiny_suite),
                "--data",
                str(folder),
                "--out",
                str(out),
                "--quiet",
                "--set",
                "methods=['classical']",
            ]
        )
        == 2
    )
    assert (
        main(
            [
                "run",
                "--suite",
                str(tiny_suite),
                "--data",
                str(folder),
                "--out",
                str(out),
                "--quiet",
                "--skip-bad",
                "--set",
                "methods=['classical']",
                "--set",
                "external.site_b.site='site_b'",
            ]
        )
        == 0
    )
    assert "external set 'site_b' of the suite is SynthSpine" in capsys.readouterr().err
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert len(predictions) == 90 and set(predictions["split"]) == {"test"}
    audit = json.loads((out / "audit.json").read_text())
    assert "notes.txt" in json.dumps(audit)


def test_external_validation_set_is_predicted_by_every_final_model(tiny_suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "external"
    args = ["run", "--suite", str(tiny_suite), "--out", str(out), "--quiet", "--set", "methods=['classical']"]
    assert (
        main([*args, "--set", "external.site_b.site='site_b'", "--set", "external.site_b.n_images=40"]) == 0
    )
    predictions = pd.read_parquet(out / "predictions.parquet")
    external = predictions[predictions["split"] == "external:site_b"]
    internal = predictions[predictions["split"] == "test"]
    assert len(internal) == 96
    assert len(external) == 2 * external["sample_id"].nunique()  # one row per image per outer-fold model
    assert external["sample_id"].str.startswith("site_b").all()
    assert not set(external["patient_id"]) & set(internal["patient_id"])
    metrics = pd.read_csv(out / "metrics.csv")
    assert "external:site_b" in set(metrics["split"])


def test_a_fixed_recipe_trains_every_outer_training_patient_for_its_epochs(
    tiny_suite: Path, tmp_path: Path
) -> None:
    """``train.early_stopping = false``: no inner split, no checkpoint choice, the method's epochs."""
    out = tmp_path / "fixed"
    args = ["--set", "train.early_stopping=false", "--set", "train.threads=1", "--set", "methods=['scratch']"]
    assert main(["run", "--suite", str(tiny_suite), "--out", str(out), "--quiet", *args]) == 0
    splits = json.loads((out / "splits.json").read_text())
    for cell_file in sorted((out / "cells").glob("*.json")):
        info = json.loads(cell_file.read_text())
        fold = info["cell"]["outer_fold"]
        train = next(f["train"] for f in splits["folds"] if f["outer_fold"] == fold)
        assert info["n_val"] == 0 and info["val_sample_ids"] == []
        assert sorted(info["fit_sample_ids"]) == sorted(train)
        assert info["epochs_trained"] == 1  # scratch: epochs = 1, max_epochs = 1
        assert all(np.isnan(r["val_loss"]) for r in info["history"])
    environment = json.loads((out / "run.json").read_text())["environment"]
    assert environment["torch_threads"] == 1 and environment["cpu_model"]
