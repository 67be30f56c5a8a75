"""Seeds as a protocol axis: repeated patient-grouped cross-validation (``--seeds`` / ``protocol.seeds``)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdc_bench.benchmark.plan import plan_cells
from sdc_bench.benchmark.suite import apply_overrides, load_suite, protocol_seeds
from sdc_bench.cli import main
from sdc_bench.core.contracts import format_cell_id, parse_cell_id
from sdc_bench.core.determinism import derive_seed
from sdc_bench.core.errors import ConfigError
from sdc_bench.reports.metrics import compute_metrics
from sdc_bench.reports.stats import compare_to_reference

SUITE = """
description = "test: tiny repeated cross-validation"
seed = 5
methods = ["sdc_dl", "classical"]
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

[throughput]
enabled = false

[params.sdc_dl]
head_epochs = 1
epochs = 1
"""
SEEDS = (5, 6)


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("suite") / "repeated.toml"
    path.write_text(SUITE)
    return path


@pytest.fixture(scope="module")
def run_dir(suite_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "repeated"
    seeds = ",".join(map(str, SEEDS))
    assert main(["run", "--suite", str(suite_file), "--seeds", seeds, "--out", str(out), "--quiet"]) == 0
    return out


# --------------------------------------------------------------------------- suite and plan


def test_protocol_seeds_default_to_the_suite_seed_and_single_seed_cells_keep_their_seeds() -> None:
    suite = load_suite("smoke")
    assert protocol_seeds(suite) == (suite.seed,)
    cells = plan_cells(suite, 2)
    assert cells == plan_cells(replace(suite, protocol=replace(suite.protocol, seeds=(suite.seed,))), 2)
    for cell in cells:
        assert cell.repeat_seed == suite.seed
        assert cell.seed == derive_seed(suite.seed, cell.method, cell.backbone, cell.outer_fold)
        assert cell.cell_id == f"{cell.method}__{cell.backbone}__seed{suite.seed}__fold{cell.outer_fold}"


def test_plan_repeats_every_cell_per_protocol_seed() -> None:
    suite = apply_overrides(load_suite("smoke"), ["protocol.seeds=[0, 1, 2]"])
    assert protocol_seeds(suite) == (0, 1, 2)
    cells = plan_cells(suite, 2)
    assert len(cells) == 3 * len(plan_cells(load_suite("smoke"), 2))
    assert len({c.cell_id for c in cells}) == len(cells)
    assert len({c.seed for c in cells}) == len(cells)
    for cell in cells:
        assert cell.seed == derive_seed(cell.repeat_seed, cell.method, cell.backbone, cell.outer_fold)
        key = parse_cell_id(f"run-1/{cell.cell_id}")
        assert key is not None
        assert (key.method, key.backbone, key.repeat_seed, key.outer_fold) == (
            cell.method,
            cell.backbone,
            cell.repeat_seed,
            cell.outer_fold,
        )


def test_parse_cell_id_reads_double_underscore_backbones_and_no_id_without_a_seed() -> None:
    odd = parse_cell_id(format_cell_id("m", "hub__some_net", 7, 1))
    assert odd is not None and (odd.backbone, odd.repeat_seed, odd.outer_fold) == ("hub__some_net", 7, 1)
    assert parse_cell_id("__cells__") is None
    assert parse_cell_id("sdc_dl__resnet18__fold3") is None  # ids of runs made before protocol seeds


@pytest.mark.parametrize(
    ("assignment", "match"),
    [
        ("protocol.seeds=[0, 0]", "protocol.seeds has duplicates"),
        ("protocol.seeds=[-1]", "protocol.seeds must be integers >= 0"),
        ("protocol.seeds=['a']", "protocol.seeds must be integers >= 0"),
    ],
)
def test_bad_protocol_seeds_are_one_line_errors(assignment: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        apply_overrides(load_suite("smoke"), [assignment])


@pytest.mark.parametrize("value", ["0,x", "", "1,1", "-2"])
def test_bad_seeds_option_exits_2(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--suite", "smoke", "--seeds", value, "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert "seeds" in err and "\n" not in err


def test_dry_run_lists_the_cells_of_every_seed(suite_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a features method only: the cost estimate then measures no CNN (fast)
    args = [
        "run",
        "--suite",
        str(suite_file),
        "--set",
        "methods=['classical']",
        "--seeds",
        "5,6",
        "--dry-run",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "4 cells" in out and "2 protocol seeds (5, 6)" in out
    assert "classical__hog_hist__seed5__fold0" in out and "classical__hog_hist__seed6__fold1" in out


# --------------------------------------------------------------------------- a repeated run


def test_run_records_seeds_cells_and_folds_per_seed(run_dir: Path) -> None:
    run = json.loads((run_dir / "run.json").read_text())
    assert run["seeds"] == list(SEEDS) and run["seed"] == 5
    cells = sorted(p.stem for p in (run_dir / "cells").glob("*.parquet"))
    assert len(cells) == 8
    assert {parse_cell_id(c).repeat_seed for c in cells} == set(SEEDS)  # type: ignore[union-attr]
    splits = json.loads((run_dir / "splits.json").read_text())
    assert splits["seeds"] == list(SEEDS)
    assert splits["folds"] == splits["repeats"]["5"]  # single-fold-set readers see the first seed's
    assert splits["repeats"]["5"] != splits["repeats"]["6"]
    for path in (run_dir / "cells").glob("*.json"):
        info = json.loads(path.read_text())
        cell = info["cell"]
        fold = splits["repeats"][str(cell["repeat_seed"])][cell["outer_fold"]]
        assert set(info["fit_sample_ids"]) | set(info["val_sample_ids"]) <= set(fold["train"])
        assert cell["seed"] == derive_seed(
            cell["repeat_seed"], cell["method"], cell["backbone"], cell["outer_fold"]
        )
    report = (run_dir / "report.md").read_text()
    assert "Protocol seeds" in report and "5, 6" in report


def test_predictions_carry_the_protocol_seed(run_dir: Path) -> None:
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    oof = predictions[predictions["split"] == "test"]
    assert set(oof["seed"]) == set(SEEDS)
    # each image once per method and seed; folds differ between seeds
    assert not oof.duplicated(["method", "seed", "sample_id"]).any()
    assert (oof.groupby(["method", "seed"])["sample_id"].nunique() == 96).all()
    fold_of = oof[oof["method"] == "classical"].pivot(index="sample_id", columns="seed", values="outer_fold")
    assert (fold_of[5] != fold_of[6]).any()


def test_metrics_have_seed_rows_and_a_pooled_row_over_all_seeds(run_dir: Path) -> None:
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert list(metrics["scope"].unique()) == ["pooled", "seed", "fold"]
    key = ["method", "backbone", "augment", "imbalance", "split", "metric", "class_name"]
    pooled = metrics[metrics["scope"] == "pooled"]
    assert not pooled.duplicated(key).any() and (pooled["seed"] == -1).all()
    assert set(metrics.loc[metrics["scope"] == "seed", "seed"]) == set(SEEDS)
    assert set(metrics.loc[metrics["scope"] == "fold", "seed"]) == set(SEEDS)
    accuracy = metrics[(metrics["metric"] == "accuracy") & (metrics["split"] == "test")]
    for method, rows in accuracy.groupby("method"):
        per_seed = rows[rows["scope"] == "seed"]
        whole = rows[rows["scope"] == "pooled"].iloc[0]
        assert whole["value"] == pytest.approx(per_seed["value"].mean(), abs=1e-6), method
        assert whole["n_images"] == 2 * 96
        assert whole["ci_method"] == "bootstrap"  # stacked repetitions: no Wilson interval
        assert set(per_seed["ci_method"]) == {"wilson"}


def test_a_seed_block_equals_a_single_seed_run_of_that_seed(run_dir: Path) -> None:
    """Seed 5's cells are those a plain run with seed 5 makes; its block matches a one-seed table."""
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    repeated = compute_metrics(predictions, n_bootstrap=100, seed=0)
    single = compute_metrics(predictions[predictions["seed"] == 5], n_bootstrap=100, seed=0)
    assert set(single["scope"]) == {"pooled", "fold"}
    columns = ["value", "ci_low", "ci_high", "ci_method", "n_images", "n_patients"]
    block = repeated[repeated["scope"] == "seed"].query("seed == 5").reset_index(drop=True)
    one = single[single["scope"] == "pooled"].reset_index(drop=True)
    pd.testing.assert_frame_equal(block[columns], one[columns])


def test_main_table_shows_mean_and_sd_over_seeds(run_dir: Path) -> None:
    table = pd.read_csv(run_dir / "tables" / "main_comparison.csv")
    column = "Balanced accuracy, mean ± SD over 2 seeds"
    assert column in table.columns
    methods = table[table["Backbone"] != "–"]  # the reference rules (no backbone) do not vary with the seed
    assert len(methods) == 2 and methods[column].str.contains("±").all()
    per_class = pd.read_csv(run_dir / "tables" / "per_class.csv")
    assert "Sensitivity, mean ± SD over 2 seeds" in per_class.columns


def test_comparisons_pair_by_seed_and_fold(run_dir: Path) -> None:
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    table = compare_to_reference(predictions, "sdc_dl", n_bootstrap=100, seed=0)
    assert set(table["method"]) == {"classical"}
    mcnemar = table[table["test"] == "mcnemar_exact"].iloc[0]
    oof = predictions[predictions["split"] == "test"]
    correct = (oof["y_true"] == oof["y_pred"]).groupby(oof["method"]).mean()
    assert mcnemar["estimate"] == pytest.approx(correct["sdc_dl"] - correct["classical"])
    ttest = table[table["test"] == "corrected_resampled_ttest"].iloc[0]
    # 2 seeds x 2 folds = 4 (seed, fold) blocks, below the test's minimum of 5: not run (NaN p), and its
    # estimate is the pooled paired difference in balanced accuracy, with a CI on the metric's scale
    scores = pd.read_csv(run_dir / "metrics.csv").query(
        "scope == 'fold' and split == 'test' and metric == 'balanced_accuracy'"
    )
    assert len(scores) == 2 * 2 * 2
    assert np.isnan(ttest["p_value"])
    assert -1 <= ttest["ci_low"] <= ttest["estimate"] <= ttest["ci_high"] <= 1
    written = pd.read_csv(run_dir / "comparisons.csv")
    assert len(written) == len(table)


def test_resume_skips_the_finished_cells_of_every_seed(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "resumed"
    shutil.copytree(run_dir, copy)
    removed = [copy / "cells" / f"{name}.parquet" for name in ("classical__hog_hist__seed6__fold1",)]
    removed.append(copy / "cells" / "sdc_dl__tf_efficientnet_lite0__seed5__fold0.parquet")
    kept = {p.name: p.stat().st_mtime_ns for p in (copy / "cells").glob("*.parquet") if p not in removed}
    for path in removed:
        path.unlink()
    (copy / "predictions.parquet").unlink()
    assert main(["run", "--resume", str(copy), "--quiet"]) == 0
    for name, mtime in kept.items():
        assert (copy / "cells" / name).stat().st_mtime_ns == mtime  # not recomputed
    assert all(path.is_file() for path in removed)
    assert (copy / "metrics.csv").read_bytes() == (run_dir / "metrics.csv").read_bytes()
    log = (copy / "log.txt").read_text()
    assert "resume: 6 of 8 cells already done" in log
