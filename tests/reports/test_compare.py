"""``sdc-bench compare`` on fixture run folders: the paired path, the seed spread, the side-by-side path,
the class refusal.

The seed-spread tests use fixture runs that differ only in "training seed": copies of one synthetic run
(same images and folds) whose predictions are redrawn on a few images per seed. A baseline is built from
them the way ``sdc-bench baseline`` builds one, so the bands are a real seed spread and a perturbed run
can fall outside them.

The acceptance checks on real smoke runs (seeds 0 and 1, an injected fault, a second site) train models:
they are the tests marked ``slow`` at the end; the seed pair runs the full smoke suite, the one
``baselines/smoke.json`` describes, the others the smoke suite shrunk with ``--set``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdc_bench.benchmark.regress import baseline_from_samples, samples_from_run, write_baseline
from sdc_bench.cli import main
from sdc_bench.core.store import RunStore, write_parquet
from sdc_bench.reports.compare import compare_runs
from sdc_bench.reports.metrics import compute_metrics
from tests.reports.fixtures import SyntheticRun, make_synthetic_run
from tests.smoke_runs import train_smoke_runs

SPEC = SyntheticRun(
    methods=("sdc_dl", "scratch"), backbones=("resnet18",), n_patients=60, optuna=False, throughput=False
)
N_BOOTSTRAP = 200
#: what every paired section says about what its tests cover
CAVEAT = "the headline interval and p-value add the SD that training seeds give a difference"
SEED_SPREAD_TITLE = "## Seed spread"
PAIRED_TITLE = "## Paired differences"


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
    report = (tmp_path / "out" / "compare.md").read_text()
    assert "paired patient-level bootstrap" in report
    # one seed each and no baseline: the paired view first, its caveat, and the spread refused in one line
    assert CAVEAT in report and "THESE two trained models" in report
    assert "Seed spread unknown: every run has one protocol seed" in report
    assert report.index(PAIRED_TITLE) < report.index(SEED_SPREAD_TITLE)
    assert not (tmp_path / "out" / "seed_spread.csv").exists()
    assert result.judged_by == "unknown" and not result.seed_only  # nothing differs, so not "only the seed"


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


def test_a_runs_column_only_where_three_or_more_runs_are_compared(run_a: Path, tmp_path: Path) -> None:
    copy, other = _copy(run_a, tmp_path / "copy"), _reseeded(run_a, tmp_path / "seed1", seed=1, share=0.2)
    compare_runs([run_a, copy], tmp_path / "two", n_bootstrap=N_BOOTSTRAP, draw_figures=False)
    shown = pd.read_csv(tmp_path / "two" / "tables" / "paired_differences.csv")
    assert "runs" not in shown.columns and "configuration" in shown.columns
    labels = pd.read_csv(tmp_path / "two" / "paired_differences.csv")[["candidate", "baseline"]].iloc[0]
    caption = f"Paired differences, {labels['candidate']} minus {labels['baseline']}."
    assert caption in (tmp_path / "two" / "compare.md").read_text()
    compare_runs([run_a, copy, other], tmp_path / "three", n_bootstrap=N_BOOTSTRAP, draw_figures=False)
    shown = pd.read_csv(tmp_path / "three" / "tables" / "paired_differences.csv")
    assert shown["runs"].nunique() == 2
    assert "Paired differences, later run minus the first." in (tmp_path / "three" / "compare.md").read_text()


def test_paired_differences_are_the_differences_of_the_runs_reported_metrics(
    run_a: Path, tmp_path: Path
) -> None:
    # on the external split each run's image is its fold models' soft vote, as metrics.csv scores it, so
    # the paired table and each run's own report agree on every difference (the external split included)
    other = _reseeded(run_a, tmp_path / "seed1", seed=1, share=0.2)
    compare_runs([run_a, other], tmp_path / "out", n_bootstrap=N_BOOTSTRAP, draw_figures=False)
    paired = pd.read_csv(tmp_path / "out" / "paired_differences.csv")
    assert set(paired["split"]) == {"test", "external:site_b"}
    external = paired[paired["split"] != "test"]
    predictions = pd.read_parquet(RunStore(run_a).predictions)
    images = predictions.loc[predictions["split"] != "test", "sample_id"]
    assert len(images) > images.nunique()  # every fold model predicts each external image...
    assert (external["n_images"] == images.nunique()).all()  # ...and the pairs are one soft vote per image

    def pooled(run: Path) -> pd.Series:
        metrics = compute_metrics(pd.read_parquet(RunStore(run).predictions), n_bootstrap=0)
        wanted = {("auroc", "macro"), ("balanced_accuracy", "overall"), ("accuracy", "overall")}
        pairs = zip(metrics["metric"], metrics["class_name"])
        keep = (metrics["scope"] == "pooled") & np.array([pair in wanted for pair in pairs])
        return metrics[keep].set_index(["method", "split", "metric"])["value"]

    expected = pooled(other) - pooled(run_a)
    assert len(expected) == len(paired) == 12
    for row in paired.itertuples(index=False):
        assert row.difference == pytest.approx(
            expected[(row.method, row.split, row.metric)], rel=1e-5
        )  # CSV: 6 digits
    assert (paired["difference"] != 0).any()


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


# --------------------------------------------------------------------------- the seed spread

SEED_SPEC = dataclasses.replace(SPEC, n_patients=300, external=False)
N_SEEDS = 6


def _reseeded(run: Path, target: Path, seed: int, share: float = 0.03) -> Path:
    """A copy of ``run`` as if trained with another seed: same images and folds, ``share`` of its
    predictions redrawn (probabilities rotated to another class) by that seed's generator."""
    copy = _copy(run, target)
    store = RunStore(copy)
    store.update_manifest(lambda manifest: manifest.replace(seed=seed, seeds=(seed,)))
    predictions = pd.read_parquet(store.predictions).assign(seed=seed)
    columns = [c for c in predictions.columns if c.startswith("p_")]
    rng = np.random.default_rng(100 + seed)
    chosen = np.flatnonzero(rng.random(len(predictions)) < share)
    probabilities = predictions[columns].to_numpy(copy=True)
    for index, shift in zip(chosen, rng.integers(1, len(columns), size=len(chosen))):
        probabilities[index] = np.roll(probabilities[index], shift)
    predictions[columns] = probabilities
    predictions["y_pred"] = [columns[i][2:] for i in probabilities.argmax(axis=1)]
    write_parquet(store.predictions, predictions)
    compute_metrics(predictions, n_bootstrap=0).to_csv(store.metrics, index=False)
    return copy


@pytest.fixture(scope="module")
def seed_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    """Runs of seeds 0..5 that differ only in seed, and a baseline built from all of them as regress does."""
    root = tmp_path_factory.mktemp("seeds")
    base = make_synthetic_run(root / "base", SEED_SPEC)
    runs = [_reseeded(base, root / f"seed{seed}", seed) for seed in range(N_SEEDS)]
    samples = [sample for run in runs for sample in samples_from_run(run)]
    baseline = root / "baseline.json"
    write_baseline(baseline, baseline_from_samples(samples, suite="synthetic"))
    return runs, baseline


def _bands(baseline: Path) -> dict[tuple[str, ...], tuple[float, bool]]:
    """(method, backbone, split) -> the baseline's balanced-accuracy (band, gated), read from the file itself."""
    entries = json.loads(baseline.read_text())["metrics"]
    return {
        (e["method"], e["backbone"], e["split"]): (float(e["band"]), bool(e["gated"]))
        for e in entries
        if e["metric"] == "balanced_accuracy"
    }


def test_seed_0_and_1_differ_in_the_seed_and_balanced_accuracy_stays_within_the_baseline_band(
    seed_runs: tuple[list[Path], Path], tmp_path: Path
) -> None:
    runs, baseline = seed_runs
    out = tmp_path / "out"
    args = ["--out", str(out), "--baseline", str(baseline), "--bootstrap", str(N_BOOTSTRAP), "--no-figures"]
    assert main(["compare", str(runs[0]), str(runs[1]), *args]) == 0
    assert pd.read_csv(out / "differences.csv", dtype=str)["fact"].tolist() == ["seeds"]
    spread = pd.read_csv(out / "seed_spread.csv")
    accuracy = spread[spread["metric"] == "balanced_accuracy"]
    bands = _bands(baseline)
    assert len(accuracy) == len(bands) == 2  # SDC-DL and the scratch CNN on the internal test split
    for row in accuracy.itertuples(index=False):
        band, gated = bands[(row.method, row.backbone, row.split)]
        assert gated and abs(row.difference) <= band
        assert row.difference != 0  # the seeds did change the predictions
    assert accuracy["within_band"].all() and (accuracy["verdict"] == "within seed spread").all()
    assert (spread["verdict"] == "within seed spread").all()
    # the paired intervals add the seed spread (the baseline's SDs): each covers 0, and is wider than the
    # one that holds the two trained models fixed
    paired = pd.read_csv(out / "paired_differences.csv")
    assert (paired["covers"] == "patients and training seeds").all() and (paired["seed_sd"] > 0).all()
    assert ((paired["ci_low"] <= 0) & (paired["ci_high"] >= 0)).all() and not paired["significant"].any()
    width, models_width = (
        paired["ci_high"] - paired["ci_low"],
        paired["models_ci_high"] - paired["models_ci_low"],
    )
    assert (width > models_width).all()
    # the seed SD of a difference of two one-seed runs is sqrt(2) times the baseline's SD of one run
    sds = {
        (e["method"], e["split"], e["metric"]): e["sd"] for e in json.loads(baseline.read_text())["metrics"]
    }
    for row in paired.itertuples(index=False):
        assert row.seed_sd == pytest.approx(sds[(row.method, row.split, row.metric)] * 2**0.5, rel=1e-4)
    assert (paired["seed_df"] == N_SEEDS - 1).all()  # the baseline's SDs come from its N_SEEDS runs

    # the band check can fail: a run that lost half of SDC-DL's right answers lies outside the band
    worse = _copy(runs[1], tmp_path / "worse")
    _perturb(worse, "sdc_dl", 0.5)
    assert main(["compare", str(runs[0]), str(worse), *args]) == 0
    spread = pd.read_csv(out / "seed_spread.csv")
    accuracy = spread[spread["metric"] == "balanced_accuracy"].set_index("method")
    assert abs(accuracy.at["sdc_dl", "difference"]) > bands[("sdc_dl", "resnet18", "test")][0]
    assert (
        not accuracy.at["sdc_dl", "within_band"] and accuracy.at["sdc_dl", "verdict"] == "beyond seed spread"
    )
    assert accuracy.at["scratch", "verdict"] == "within seed spread"


def test_runs_that_differ_only_in_seed_lead_with_the_seed_spread_and_mark_the_paired_verdicts(
    seed_runs: tuple[list[Path], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs, baseline = seed_runs
    worse = _copy(runs[1], tmp_path / "worse")
    _perturb(worse, "sdc_dl", 0.5)  # so that some paired verdicts are "significant" and must be marked
    out = tmp_path / "out"
    args = ["--baseline", str(baseline), "--bootstrap", "1000", "--no-figures"]
    assert main(["compare", str(runs[0]), str(worse), "--out", str(out), *args]) == 0
    printed = capsys.readouterr().out
    assert printed.index("beyond the seed spread (baseline band)") < printed.index("paired difference(s)")
    assert "significant after Holm (CIs over patients and training seeds)" in printed
    report = (out / "compare.md").read_text()
    assert report.index("## What differs") < report.index(SEED_SPREAD_TITLE) < report.index(PAIRED_TITLE)
    assert "so this is the verdict on the recipe" in report
    assert "## Paired differences (same data)" in report and "patients + seeds" in report
    assert CAVEAT in report and CAVEAT in (out / "compare.html").read_text()
    paired = pd.read_csv(out / "paired_differences.csv")
    # half of SDC-DL's right answers lost is beyond patients and seeds together; the scratch CNN is not
    assert paired.loc[(paired["method"] == "sdc_dl") & (paired["metric"] != "auroc"), "significant"].all()
    assert not paired.loc[paired["method"] == "scratch", "significant"].any()

    # without a baseline the seed spread is unknown: the paired verdicts are marked as about these models
    assert (
        main(["compare", str(runs[0]), str(worse), "--out", str(out), "--bootstrap", "1000", "--no-figures"])
        == 0
    )
    assert "these two trained models only" in capsys.readouterr().out
    report = (out / "compare.md").read_text()
    assert "## Paired differences: these trained models (not the recipe)" in report
    assert CAVEAT in report and "yes, these two models" in report
    paired = pd.read_csv(out / "paired_differences.csv")
    assert (paired["covers"] == "patients only (these two models)").all() and paired["seed_sd"].isna().all()
    assert paired["significant"].any()

    # the same runs with a code change as well: the paired view leads, unmarked, and keeps its caveat
    RunStore(worse).update_manifest(lambda manifest: manifest.replace(git_revision="f" * 40))
    result = compare_runs([runs[0], worse], tmp_path / "code", n_bootstrap=N_BOOTSTRAP, draw_figures=False)
    report = (tmp_path / "code" / "compare.md").read_text()
    assert not result.seed_only and result.judged_by == "unknown"
    assert report.index(PAIRED_TITLE) < report.index(SEED_SPREAD_TITLE)
    assert "Seed spread unknown" in report and CAVEAT in report and "yes, these two models" not in report


def _multi_seed(runs: Sequence[Path], target: Path) -> Path:
    """One run folder holding the predictions of ``runs`` as protocol seeds (``--seeds``)."""
    merged = _copy(runs[0], target)
    seeds = tuple(RunStore(run).read_manifest().seed for run in runs)
    frames = [pd.read_parquet(RunStore(run).predictions) for run in runs]
    write_parquet(RunStore(merged).predictions, pd.concat(frames, ignore_index=True))
    RunStore(merged).update_manifest(lambda manifest: manifest.replace(seed=seeds[0], seeds=seeds))
    return merged


def test_multi_seed_runs_are_judged_by_a_t_test_over_their_seeds(
    seed_runs: tuple[list[Path], Path], tmp_path: Path
) -> None:
    runs, _ = seed_runs
    first = _multi_seed(runs[:3], tmp_path / "seeds012")
    second = _multi_seed(runs[3:], tmp_path / "seeds345")
    result = compare_runs([first, second], tmp_path / "out", n_bootstrap=N_BOOTSTRAP, draw_figures=False)
    assert result.seed_only and result.judged_by == "t-test over seeds" and result.n_beyond_seed_spread == 0
    spread = pd.read_csv(tmp_path / "out" / "seed_spread.csv")
    assert (spread["test"] == "Welch t").all() and (spread["n_seeds_baseline"] == 3).all()
    assert (spread["seed_sd"] > 0).all() and (spread["p_holm"] >= spread["p_value"]).all()
    assert spread["band"].isna().all()  # no baseline given
    # the runs' own seeds give the paired intervals their seed SD: pooled over 3 + 3 seeds (4 degrees of
    # freedom), times sqrt(1/3 + 1/3) for a difference of two 3-seed means
    assert (spread["sd_df"] == 4).all()
    assert spread["difference_sd"].to_numpy() == pytest.approx(
        spread["seed_sd"].to_numpy() * (2 / 3) ** 0.5, rel=1e-5
    )
    paired = pd.read_csv(tmp_path / "out" / "paired_differences.csv")
    assert (paired["covers"] == "patients and training seeds").all() and (paired["seed_df"] == 4).all()

    # SDC-DL made worse in every seed lies beyond the seed spread; the scratch CNN does not
    for run in runs[3:]:
        _perturb(run, "sdc_dl", 0.5)
    worse = _multi_seed(runs[3:], tmp_path / "worse345")
    compare_runs([first, worse], tmp_path / "worse", n_bootstrap=N_BOOTSTRAP, draw_figures=False)
    spread = pd.read_csv(tmp_path / "worse" / "seed_spread.csv")
    assert (spread.loc[spread["method"] == "sdc_dl", "verdict"] == "beyond seed spread").all()
    assert (spread.loc[spread["method"] == "scratch", "verdict"] == "within seed spread").all()


def test_a_baseline_of_other_data_is_ignored_and_the_spread_is_unknown(
    seed_runs: tuple[list[Path], Path], tmp_path: Path
) -> None:
    runs, baseline = seed_runs
    payload = json.loads(baseline.read_text())
    for run in payload["runs"]:
        run["data_fingerprint"] = "ffffffffffffffff"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(payload))
    out = tmp_path / "out"
    assert main(["compare", str(runs[0]), str(runs[1]), "--out", str(out), "--baseline", str(other)]) == 0
    report = (out / "compare.md").read_text()
    assert f"Baseline {other} ignored: it was built on data ffffffffffffffff" in report
    assert "Seed spread unknown" in report and not (out / "seed_spread.csv").exists()


# --------------------------------------------------------------------------- acceptance, on real smoke runs

SHRINK = [
    "--set", "data.n_images=120", "--set", "external.site_b.n_images=40", "--set", "params.sdc_dl.epochs=2",
    "--set", "params.sdc_dl.head_epochs=1", "--set", "params.scratch.epochs=1",
]  # fmt: skip


SMOKE_BASELINE = Path(__file__).resolve().parents[2] / "baselines" / "smoke.json"


@pytest.mark.slow
def test_smoke_runs_of_seeds_0_and_1_differ_in_the_seed_and_every_paired_interval_covers_zero(
    tmp_path: Path, smoke_runs_of_seeds_0_and_1: tuple[Path, Path]
) -> None:
    # the full smoke suite (the one baselines/smoke.json describes; a shrunk one has other data and
    # another spread, and compare would ignore the baseline) at seeds 0 and 1, one thread each: the
    # session's runs, which the regression check's noise tests read too
    runs = list(smoke_runs_of_seeds_0_and_1)
    compared = ["--out", str(tmp_path / "out"), "--bootstrap", "300", "--no-figures"]
    assert main(["compare", *map(str, runs), *compared, "--baseline", str(SMOKE_BASELINE)]) == 0
    differences = pd.read_csv(tmp_path / "out" / "differences.csv", dtype=str)
    assert differences["fact"].tolist() == ["seeds"]
    spread = pd.read_csv(tmp_path / "out" / "seed_spread.csv")
    accuracy = spread[spread["metric"] == "balanced_accuracy"]
    bands = _bands(SMOKE_BASELINE)
    assert len(accuracy) == len(bands) == 4  # SDC-DL and scratch, internal test and site_b
    for row in accuracy.itertuples(index=False):
        # every band, gated or not (a band wider than the rule's max_band is shown, never gated, by regress)
        assert abs(row.difference) <= bands[(row.method, row.backbone, row.split)][0]
    assert accuracy["within_band"].all()
    assert not (spread["verdict"] == "beyond seed spread").any()
    # the paired intervals add the baseline's seed SDs, so they cover patients and training seeds: every one
    # covers 0, and none is significant after Holm
    paired = pd.read_csv(tmp_path / "out" / "paired_differences.csv")
    assert len(paired) == 12 and (paired["covers"] == "patients and training seeds").all()
    assert ((paired["ci_low"] <= 0) & (paired["ci_high"] >= 0)).all(), paired.to_string()
    assert not paired["significant"].any()
    report = (tmp_path / "out" / "compare.md").read_text()
    assert report.index(SEED_SPREAD_TITLE) < report.index(PAIRED_TITLE) and CAVEAT in report


@pytest.mark.slow
def test_a_smoke_run_without_pretrained_weights_makes_sdc_dl_significantly_worse(tmp_path: Path) -> None:
    # at SHRINK's 120 images and 2 epochs the paired CIs are too wide for Holm over 12 rows; 300 images and
    # 4 epochs of SDC-DL are the smallest run where the lost pretraining shows, the two trained side by side
    bigger = ("--set", "data.n_images=300", "--set", "params.sdc_dl.epochs=4")
    jobs = {"good": (bigger, ""), "broken": (bigger, "no_pretrained")}
    runs = train_smoke_runs(tmp_path, jobs, *SHRINK)
    compare_runs([runs["good"], runs["broken"]], tmp_path / "out", n_bootstrap=1000)
    paired = pd.read_csv(tmp_path / "out" / "paired_differences.csv")
    sdc_dl = paired[(paired["method"] == "sdc_dl") & (paired["split"] == "test")]
    assert sdc_dl["significant"].any()
    differences = pd.read_csv(tmp_path / "out" / "differences.csv", dtype=str)
    assert "faults" in set(differences["fact"])


@pytest.mark.slow
def test_a_smoke_run_on_another_site_is_compared_side_by_side(tmp_path: Path) -> None:
    jobs = {"site_a": ((), ""), "site_b": (("--set", "data.site='site_b'"), "")}
    runs = train_smoke_runs(tmp_path, jobs, *SHRINK)
    result = compare_runs([runs["site_a"], runs["site_b"]], tmp_path / "out", n_bootstrap=200)
    assert not result.same_data
    assert not (tmp_path / "out" / "paired_differences.csv").exists()
    assert (tmp_path / "out" / "side_by_side.csv").is_file()
