"""``sdc-bench compare`` on fixture run folders: the paired path, the side-by-side path, the class refusal.

The acceptance checks on real smoke runs (seeds 0 and 1, an injected fault, a second site) train models:
they are the tests marked ``slow`` at the end, on the smoke suite shrunk with ``--set``.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdc_bench.cli import main
from sdc_bench.core.store import RunStore, write_parquet
from sdc_bench.reports.compare import compare_runs
from tests.reports.fixtures import SyntheticRun, make_synthetic_run

SPEC = SyntheticRun(
    methods=("sdc_dl", "scratch"), backbones=("resnet18",), n_patients=60, optuna=False, throughput=False
)
N_BOOTSTRAP = 200


@pytest.fixture(scope="module")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_run(tmp_path_factory.mktemp("compare") / "a", SPEC)


def _copy(run: Path, target: Path) -> Path:
    shutil.copytree(run, target)
    return target


def _perturb(run: Path, method: str, share: float) -> None:
    """Make ``method``'s test predictions wrong on ``share`` of the images it got right."""
    store = RunStore(run)
    predictions = pd.read_parquet(store.predictions)
    classes = [c[2:] for c in predictions.columns if c.startswith("p_")]
    rng = np.random.default_rng(1)
    chosen = (predictions["method"] == method) & (predictions["split"] == "test")
    chosen &= predictions["y_pred"] == predictions["y_true"]
    chosen &= rng.random(len(predictions)) < share
    for index in predictions.index[chosen]:
        wrong = classes[(classes.index(predictions.at[index, "y_true"]) + 1) % len(classes)]
        predictions.at[index, "y_pred"] = wrong
        probabilities = np.full(len(classes), 0.1 / (len(classes) - 1))
        probabilities[classes.index(wrong)] = 0.9
        predictions.loc[index, [f"p_{c}" for c in classes]] = probabilities
    write_parquet(store.predictions, predictions)


def test_an_identical_copy_differs_nowhere_and_every_interval_covers_zero(
    run_a: Path, tmp_path: Path
) -> None:
    copy = _copy(run_a, tmp_path / "copy")
    result = compare_runs([run_a, copy], tmp_path / "out", n_bootstrap=N_BOOTSTRAP)
    assert result.same_data and result.n_significant == 0
    paired = pd.read_csv(tmp_path / "out" / "paired_differences.csv")
    assert set(paired["method"]) == {"sdc_dl", "scratch"}
    assert set(paired["metric"]) == {"auroc", "balanced_accuracy", "accuracy"}
    assert ((paired["ci_low"] <= 0) & (paired["ci_high"] >= 0)).all()
    assert pd.read_csv(tmp_path / "out" / "differences.csv").empty
    for name in (
        "compare.md",
        "compare.html",
        "tables/paired_differences.tex",
        "tables/paired_differences.csv",
    ):
        assert (tmp_path / "out" / name).is_file()
    assert "paired patient-level bootstrap" in (tmp_path / "out" / "compare.md").read_text()


def test_a_perturbed_method_is_significant_after_holm_and_the_other_is_not(
    run_a: Path, tmp_path: Path
) -> None:
    worse = _copy(run_a, tmp_path / "worse")
    _perturb(worse, "sdc_dl", 0.5)
    assert (
        main(["compare", str(run_a), str(worse), "--out", str(tmp_path / "out"), "--bootstrap", "1000"]) == 0
    )
    paired = pd.read_csv(tmp_path / "out" / "paired_differences.csv")
    internal = paired[paired["split"] == "test"]
    perturbed = internal[internal["method"] == "sdc_dl"]
    assert perturbed["significant"].all() and (perturbed["difference"] < 0).all()
    assert (perturbed["mcnemar_p_holm"] < 0.05).all()
    assert not paired[paired["method"] == "scratch"]["significant"].any()


def test_different_seeds_are_named_first_and_images_still_pair(run_a: Path, tmp_path: Path) -> None:
    other_seed = _copy(run_a, tmp_path / "seed1")
    RunStore(other_seed).update_manifest(lambda run: run.replace(seed=1, seeds=(1,)))
    predictions = pd.read_parquet(RunStore(other_seed).predictions).assign(seed=1)
    write_parquet(RunStore(other_seed).predictions, predictions)
    result = compare_runs([run_a, other_seed], tmp_path / "out", n_bootstrap=N_BOOTSTRAP)
    differences = pd.read_csv(tmp_path / "out" / "differences.csv", dtype=str)
    assert differences["fact"].tolist() == ["seeds"]
    assert result.same_data
    assert "the runs' seeds differ" in (tmp_path / "out" / "compare.md").read_text()


def test_different_data_is_shown_side_by_side_with_no_paired_test(run_a: Path, tmp_path: Path) -> None:
    site_b = make_synthetic_run(tmp_path / "site_b", dataclasses.replace(SPEC, seed=3))
    RunStore(site_b).update_manifest(
        lambda run: run.replace(data=dataclasses.replace(run.data, fingerprint="fedcba9876543210"))
    )
    result = compare_runs([run_a, site_b], tmp_path / "out", n_bootstrap=N_BOOTSTRAP)
    assert not result.same_data and result.n_significant == 0
    out = tmp_path / "out"
    assert not (out / "paired_differences.csv").exists()
    side = pd.read_csv(out / "side_by_side.csv")
    assert {"balanced_accuracy", "accuracy", "auroc"} <= set(side["metric"])
    assert side.iloc[:, 2:].map(lambda text: "[" in str(text)).all().all()  # each run's own interval
    agreement = pd.read_csv(out / "rank_agreement.csv")
    assert agreement["kendall_tau"].tolist() == [1.0]  # SDC-DL ahead of the scratch CNN in both
    assert (out / "figures" / "rank_slope.png").is_file()
    differences = pd.read_csv(out / "differences.csv", dtype=str)
    assert "data_fingerprint" in set(differences["fact"])
    html = (out / "compare.html").read_text()
    assert "data:image/png;base64," in html and "no paired test" in html


def _rename_class(run: Path, old: str, new: str) -> None:
    store = RunStore(run)
    predictions = pd.read_parquet(store.predictions).rename(columns={f"p_{old}": f"p_{new}"})
    for column in ("y_true", "y_pred"):
        predictions[column] = predictions[column].replace(old, new)
    write_parquet(store.predictions, predictions)
    store.update_manifest(
        lambda manifest: manifest.replace(
            data=dataclasses.replace(
                manifest.data, classes=tuple(new if c == old else c for c in manifest.data.classes)
            )
        )
    )


def test_runs_whose_classes_differ_are_refused_in_one_line_unless_mapped(
    run_a: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renamed = _copy(run_a, tmp_path / "renamed")
    _rename_class(renamed, "fracture", "vertebral_fracture")
    assert main(["compare", str(run_a), str(renamed), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "classes differ" in error and "--classes" in error
    mapped = ["--classes", "vertebral_fracture=fracture", "--bootstrap", "100"]
    assert main(["compare", str(run_a), str(renamed), "--out", str(tmp_path / "out"), *mapped]) == 0
    paired = pd.read_csv(tmp_path / "out" / "paired_differences.csv")
    assert (paired["difference"] == 0).all()


def test_a_single_run_or_a_bad_class_map_is_one_line(run_a: Path, tmp_path: Path) -> None:
    assert main(["compare", str(run_a), "--out", str(tmp_path / "out")]) == 2
    assert main(["compare", str(run_a), str(run_a), "--out", str(tmp_path / "o"), "--classes", "x"]) == 2


# --------------------------------------------------------------------------- acceptance, on real smoke runs

SHRINK = [
    "--set", "data.n_images=120", "--set", "external.site_b.n_images=40", "--set", "params.sdc_dl.epochs=2",
    "--set", "params.sdc_dl.head_epochs=1", "--set", "params.scratch.epochs=1", "--quiet", "--no-models",
]  # fmt: skip


def _smoke(out: Path, *extra: str) -> Path:
    assert main(["run", "--suite", "smoke", "--out", str(out), *SHRINK, *extra]) == 0
    return out


@pytest.mark.slow
def test_smoke_runs_of_seeds_0_and_1_differ_in_the_seed_and_no_paired_difference_is_significant(
    tmp_path: Path,
) -> None:
    seed_0 = _smoke(tmp_path / "seed0", "--seed", "0")
    seed_1 = _smoke(tmp_path / "seed1", "--seed", "1")
    result = compare_runs([seed_0, seed_1], tmp_path / "out", n_bootstrap=300)
    differences = pd.read_csv(tmp_path / "out" / "differences.csv", dtype=str)
    assert "seeds" in set(differences["fact"])
    assert result.same_data
    paired = pd.read_csv(tmp_path / "out" / "paired_differences.csv")
    assert ((paired["ci_low"] <= 0) & (paired["ci_high"] >= 0)).all()


@pytest.mark.slow
def test_a_smoke_run_without_pretrained_weights_makes_sdc_dl_significantly_worse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # at SHRINK's 120 images and 2 epochs the paired CIs are too wide for Holm over 12 rows; 300 images and
    # 4 epochs of SDC-DL are the smallest run where the lost pretraining shows, still under a minute each
    bigger = ("--set", "data.n_images=300", "--set", "params.sdc_dl.epochs=4")
    good = _smoke(tmp_path / "good", *bigger)
    monkeypatch.setenv("SDC_BENCH_INJECT_FAULT", "no_pretrained")
    broken = _smoke(tmp_path / "broken", *bigger)
    compare_runs([good, broken], tmp_path / "out", n_bootstrap=1000)
    paired = pd.read_csv(tmp_path / "out" / "paired_differences.csv")
    sdc_dl = paired[(paired["method"] == "sdc_dl") & (paired["split"] == "test")]
    assert sdc_dl["significant"].any()
    differences = pd.read_csv(tmp_path / "out" / "differences.csv", dtype=str)
    assert "faults" in set(differences["fact"])


@pytest.mark.slow
def test_a_smoke_run_on_another_site_is_compared_side_by_side(tmp_path: Path) -> None:
    site_a = _smoke(tmp_path / "site_a")
    site_b = _smoke(tmp_path / "site_b", "--set", "data.site='site_b'")
    result = compare_runs([site_a, site_b], tmp_path / "out", n_bootstrap=200)
    assert not result.same_data
    assert not (tmp_path / "out" / "paired_differences.csv").exists()
    assert (tmp_path / "out" / "side_by_side.csv").is_file()
