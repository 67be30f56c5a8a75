"""Tests of sdc_bench.reports.stats against worked values and independent computations."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.reports.stats import (
    COMPARISON_COLUMNS,
    TestResult,
    compare_to_reference,
    corrected_resampled_ttest,
    friedman_nemenyi,
    holm,
    mcnemar_exact,
    paired_bootstrap_auroc,
)
from sdc_bench.reports.stats.paired import PairedReplicates

CLASSES = ("normal", "scoliosis", "spondylolisthesis")


def make_predictions(
    rng: np.random.Generator,
    methods: dict[tuple[str, str], float],
    *,
    n_patients: int = 60,
    images_per_patient: int = 2,
    n_folds: int = 4,
) -> pd.DataFrame:
    """Out-of-fold predictions; each (method, augment) configuration gets a signal strength."""
    n_classes = len(CLASSES)
    patient_class = rng.integers(0, n_classes, n_patients)
    patient_class[:n_classes] = np.arange(n_classes)
    base = pd.DataFrame(
        [
            (patient % n_folds, f"s{patient:03d}_{image}", f"p{patient:03d}", patient_class[patient])
            for patient in range(n_patients)
            for image in range(images_per_patient)
        ],
        columns=["outer_fold", "sample_id", "patient_id", "label"],
    )
    names = np.array(CLASSES)
    frames = []
    for (method, augment), signal in methods.items():
        logits = rng.normal(size=(len(base), n_classes))
        logits[np.arange(len(base)), base["label"].to_numpy()] += signal
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        frame = base.assign(
            run_id="run-1",
            method=method,
            backbone="resnet18",
            augment=augment,
            imbalance="none",
            seed=0,
            split="test",
            y_true=names[base["label"].to_numpy()],
            y_pred=names[proba.argmax(axis=1)],
        )
        for k, name in enumerate(CLASSES):
            frame[f"p_{name}"] = proba[:, k]
        frames.append(frame.drop(columns="label"))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- McNemar


def test_mcnemar_exact_equals_two_sided_binomial_test() -> None:
    # 20 both right, n01 = 7 (only A right), n10 = 2 (only B right), 5 both wrong
    y_true = np.zeros(34, dtype=int)
    pred_a = np.r_[np.zeros(20), np.zeros(7), np.ones(2), np.ones(5)].astype(int)
    pred_b = np.r_[np.zeros(20), np.ones(7), np.zeros(2), np.ones(5)].astype(int)
    result = mcnemar_exact(y_true, pred_a, pred_b)
    assert isinstance(result, TestResult)
    assert (result.n01, result.n10) == (7, 2)
    assert result.statistic == 2
    expected = scipy_stats.binomtest(2, n=9, p=0.5, alternative="two-sided").pvalue
    assert result.p_value == pytest.approx(expected, abs=1e-12)
    assert result.estimate == pytest.approx((7 - 2) / 34)

    swapped = mcnemar_exact(y_true, pred_b, pred_a)
    assert (swapped.n01, swapped.n10) == (2, 7)
    assert swapped.p_value == pytest.approx(result.p_value)


def test_mcnemar_exact_without_discordant_pairs() -> None:
    result = mcnemar_exact([0, 1, 1], [0, 1, 0], [0, 1, 0])
    assert (result.n01, result.n10, result.p_value) == (0, 0, 1.0)


def test_mcnemar_exact_rejects_unequal_lengths() -> None:
    with pytest.raises(DataError, match="pred_b=2"):
        mcnemar_exact([0, 1, 1], [0, 1, 0], [0, 1])


# --------------------------------------------------------------------------- corrected t-test


def test_corrected_resampled_ttest_worked_example() -> None:
    scores_a = [0.80, 0.82, 0.79, 0.85, 0.81]
    scores_b = [0.78, 0.80, 0.80, 0.81, 0.79]
    n_train, n_test = 80, 20
    result = corrected_resampled_ttest(scores_a, scores_b, n_train, n_test)

    differences = [a - b for a, b in zip(scores_a, scores_b, strict=True)]  # 0.02, 0.02, -0.01, 0.04, 0.02
    k = len(differences)
    mean = statistics.fmean(differences)
    variance = statistics.variance(differences)
    t = mean / math.sqrt((1 / k + n_test / n_train) * variance)
    p = 2 * scipy_stats.t.sf(abs(t), df=k - 1)
    assert mean == pytest.approx(0.018)
    assert variance == pytest.approx(0.00032)
    assert t == pytest.approx(0.018 / math.sqrt(0.45 * 0.00032))  # = 1.5
    assert result.statistic == pytest.approx(t, abs=1e-12)
    assert result.p_value == pytest.approx(p, abs=1e-12)
    assert result.df == k - 1
    assert result.estimate == pytest.approx(mean, abs=1e-12)
    half_width = scipy_stats.t.ppf(0.975, k - 1) * math.sqrt((1 / k + n_test / n_train) * variance)
    assert (result.ci_low, result.ci_high) == pytest.approx((mean - half_width, mean + half_width), abs=1e-12)


def test_corrected_ttest_reduces_to_paired_ttest_without_overlap_and_is_more_conservative() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.8, 0.02, 10), rng.normal(0.78, 0.02, 10)
    uncorrected = scipy_stats.ttest_rel(a, b)
    near_zero = corrected_resampled_ttest(a, b, n_train=1.0, n_test=1e-15)
    assert near_zero.statistic == pytest.approx(uncorrected.statistic, rel=1e-9)
    assert near_zero.p_value == pytest.approx(uncorrected.pvalue, rel=1e-8)
    corrected = corrected_resampled_ttest(a, b, n_train=[90] * 10, n_test=[10] * 10)
    assert abs(corrected.statistic) < abs(uncorrected.statistic)
    assert corrected.p_value > uncorrected.pvalue


def test_corrected_ttest_edge_cases() -> None:
    same = corrected_resampled_ttest([0.8, 0.9], [0.8, 0.9], 10, 5)
    assert (same.statistic, same.p_value) == (0.0, 1.0)
    constant = corrected_resampled_ttest([1.0, 0.75], [0.5, 0.25], 10, 5)
    assert constant.statistic == math.inf and constant.p_value == 0.0
    with pytest.raises(DataError, match="at least 2 folds"):
        corrected_resampled_ttest([0.9], [0.8], 10, 5)
    with pytest.raises(ConfigError, match="n_train"):
        corrected_resampled_ttest([0.9, 0.8], [0.8, 0.8], 0, 5)


# --------------------------------------------------------------------------- paired bootstrap


def _probabilities(rng: np.random.Generator, y_true: np.ndarray, signal: float) -> np.ndarray:
    logits = rng.normal(size=(len(y_true), 3))
    logits[np.arange(len(y_true)), y_true] += signal
    proba = np.exp(logits)
    return proba / proba.sum(axis=1, keepdims=True)


def test_paired_bootstrap_auroc() -> None:
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 3, 240)
    patients = np.arange(240) // 3
    strong, weak = _probabilities(rng, y_true, 2.5), _probabilities(rng, y_true, 0.3)

    result = paired_bootstrap_auroc(y_true, strong, weak, patients, n_bootstrap=300, seed=0)
    expected = roc_auc_score(y_true, strong, multi_class="ovr") - roc_auc_score(
        y_true, weak, multi_class="ovr"
    )
    assert result.test == "paired_bootstrap"
    assert result.estimate == pytest.approx(expected, abs=1e-12)
    assert 0 < result.ci_low < result.estimate < result.ci_high
    assert result.p_value == pytest.approx(2 / 301)  # no resample at or below 0: the smallest possible p
    assert result == paired_bootstrap_auroc(y_true, strong, weak, patients, n_bootstrap=300, seed=0)

    tie = paired_bootstrap_auroc(y_true, strong, strong, patients, n_bootstrap=100, seed=0)
    assert (tie.estimate, tie.ci_low, tie.ci_high, tie.p_value) == (0.0, 0.0, 0.0, 1.0)

    with pytest.raises(ConfigError, match="n_bootstrap"):
        paired_bootstrap_auroc(y_true, strong, weak, patients, n_bootstrap=0)
    with pytest.raises(DataError, match="patient_ids=3"):
        paired_bootstrap_auroc(y_true, strong, weak, patients[:3])


def test_paired_replicates_add_training_seed_variance_to_the_interval() -> None:
    # replicates of a difference ~ N(0.05, 0.01^2); a seed SD of 0.03 makes the difference's SD
    # sqrt(0.01^2 + 0.03^2) = 0.0316, so the 95% interval is 0.05 +- 1.96 * 0.0316 and covers 0
    replicates = PairedReplicates(0.05, np.random.default_rng(0).normal(0.05, 0.01, 20_000))
    models = replicates.result(0.95)
    assert models.test == "paired_bootstrap" and models.ci_low > 0 and models.p_value < 0.001
    assert (models.ci_low, models.ci_high) == pytest.approx((0.05 - 0.0196, 0.05 + 0.0196), abs=0.001)
    both = replicates.result(0.95, seed_sd=0.03, rng=np.random.default_rng(1))
    assert both.test == "paired_bootstrap+seed_variance" and both.estimate == 0.05
    margin = 1.96 * math.sqrt(0.01**2 + 0.03**2)
    assert (both.ci_low, both.ci_high) == pytest.approx((0.05 - margin, 0.05 + margin), abs=0.002)
    assert both.ci_low < 0 < both.ci_high and both.p_value > 0.05
    assert replicates.result(0.95, seed_sd=0.0) == models  # 0: the models held fixed
    # an SD estimated from 6 runs (5 degrees of freedom): Student's t draws, a wider interval
    t = replicates.result(0.95, seed_sd=0.03, seed_df=5, rng=np.random.default_rng(1))
    assert t.ci_high - t.ci_low > (both.ci_high - both.ci_low) * 1.1 and t.p_value > both.p_value
    with pytest.raises(ConfigError, match="seed_df"):
        replicates.result(0.95, seed_sd=0.03, seed_df=0.5, rng=np.random.default_rng(1))
    with pytest.raises(ConfigError, match="rng"):
        replicates.result(0.95, seed_sd=0.02)


# --------------------------------------------------------------------------- Holm


def test_holm_against_step_down_by_hand() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> running max 0.06
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02], atol=1e-12)
    with_nan = holm([0.01, np.nan, 0.04])
    assert np.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2]], [0.02, 0.04], atol=1e-12)
    assert holm([]).size == 0


def test_holm_equals_statsmodels_multipletests() -> None:
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    for size in (1, 2, 7, 40):
        p = np.round(rng.uniform(0.0, 0.3, size), 3)  # rounded: ties, and products above 1 capped
        np.testing.assert_array_equal(holm(p), multipletests(p, method="holm")[1])


# --------------------------------------------------------------------------- Friedman / Nemenyi

SCORES = pd.DataFrame(
    {
        "sdc_dl": [0.91, 0.88, 0.93, 0.90, 0.89, 0.92],
        "scratch": [0.80, 0.83, 0.79, 0.85, 0.82, 0.81],
        "probe": [0.84, 0.83, 0.86, 0.82, 0.88, 0.80],
        "classical": [0.70, 0.75, 0.72, 0.74, 0.69, 0.73],
    }
)


def test_friedman_matches_scipy_and_ranks_by_hand() -> None:
    result = friedman_nemenyi(SCORES)
    expected = scipy_stats.friedmanchisquare(*(SCORES[c] for c in SCORES.columns))
    assert result.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, abs=1e-12)
    # ranks per block (1 = best); block 1 and 5 tie/reorder scratch vs probe
    assert result.average_ranks.to_dict() == pytest.approx(
        {"sdc_dl": 1.0, "scratch": 15.5 / 6, "probe": 14.5 / 6, "classical": 4.0}
    )
    chi2, n, k = expected.statistic, 6, 4
    assert result.iman_davenport == pytest.approx((n - 1) * chi2 / (n * (k - 1) - chi2))
    assert (result.n_blocks, result.n_methods) == (6, 4)

    losses = friedman_nemenyi(-SCORES, higher_is_better=False)
    assert losses.average_ranks.to_dict() == pytest.approx(result.average_ranks.to_dict())


@pytest.mark.parametrize(("k", "q_table"), [(3, 2.343), (4, 2.569), (5, 2.728), (6, 2.850)])
def test_nemenyi_critical_difference_matches_demsar_table(k: int, q_table: float) -> None:
    """Demšar (2006), Table 5(a), alpha = 0.05."""
    rng = np.random.default_rng(k)
    n_blocks = 10
    table = pd.DataFrame(rng.random((n_blocks, k)), columns=[f"m{i}" for i in range(k)])
    result = friedman_nemenyi(table, alpha=0.05)
    assert result.q_alpha == pytest.approx(q_table, abs=1e-3)
    assert result.critical_difference == pytest.approx(
        q_table * math.sqrt(k * (k + 1) / (6 * n_blocks)), rel=1e-3
    )


def test_nemenyi_pairwise_p_values() -> None:
    result = friedman_nemenyi(SCORES)
    # Reference values from scikit-posthocs 0.11 posthoc_nemenyi_friedman(SCORES).
    expected = np.array(
        [
            [1.0, 0.1453533877, 0.2276967626, 0.0003321288],
            [0.1453533877, 1.0, 0.9960587537, 0.2276967626],
            [0.2276967626, 0.9960587537, 1.0, 0.1453533877],
            [0.0003321288, 0.2276967626, 0.1453533877, 1.0],
        ]
    )
    np.testing.assert_allclose(result.pairwise_p_values.to_numpy(), expected, atol=1e-9)
    assert list(result.pairwise_p_values.columns) == list(SCORES.columns)
    # a rank gap of exactly the critical difference has p = alpha
    from scipy.stats import studentized_range

    gap = result.critical_difference / math.sqrt(4 * 5 / (6 * 6))
    assert studentized_range.sf(gap * math.sqrt(2), 4, np.inf) == pytest.approx(0.05, abs=1e-6)


def test_friedman_bad_input() -> None:
    with pytest.raises(DataError, match="at least 3 method columns"):
        friedman_nemenyi(SCORES[["sdc_dl", "probe"]])
    with pytest.raises(DataError, match="'probe'"):
        friedman_nemenyi(SCORES.assign(probe=[0.8, np.nan, 0.8, 0.8, 0.8, 0.8]))
    with pytest.raises(ConfigError, match="alpha"):
        friedman_nemenyi(SCORES, alpha=5)


# --------------------------------------------------------------------------- compare_to_reference


def test_compare_to_reference() -> None:
    frame = make_predictions(
        np.random.default_rng(2),
        {("sdc_dl", "strong"): 3.0, ("scratch", "strong"): 0.4, ("sdc_dl_no_staged", "strong"): 2.9},
        n_folds=5,
    )
    table = compare_to_reference(frame, "sdc_dl", n_bootstrap=200, seed=0)

    assert list(table.columns) == list(COMPARISON_COLUMNS)
    assert table["method"].unique().tolist() == ["scratch", "sdc_dl_no_staged"]
    assert (table["reference"] == "sdc_dl/resnet18/strong/none").all()
    assert table[["test", "metric"]].drop_duplicates().apply(tuple, axis=1).tolist() == [
        ("mcnemar_exact", "accuracy"),
        ("corrected_resampled_ttest", "balanced_accuracy"),
        ("paired_bootstrap", "auroc"),
        ("paired_bootstrap", "balanced_accuracy"),
        ("paired_bootstrap", "accuracy"),
    ]
    assert (table["p_holm"] >= table["p_value"] - 1e-15).all()
    for _, family in table.groupby(["test", "metric"]):
        np.testing.assert_allclose(family["p_holm"], holm(family["p_value"]), atol=1e-15)
    assert (table["significant"] == (table["p_holm"] < 0.05)).all()

    scratch = table[table["method"] == "scratch"].set_index(["test", "metric"])
    assert (scratch["estimate"] > 0).all()  # reference minus a much weaker baseline
    assert scratch.loc[("paired_bootstrap", "auroc"), "significant"]
    assert scratch.loc[("mcnemar_exact", "accuracy"), "significant"]

    # independent recomputation of the McNemar and corrected t-test rows
    def aligned(method: str) -> pd.DataFrame:
        return frame[frame["method"] == method].sort_values(["outer_fold", "sample_id"])

    ref, other = aligned("sdc_dl"), aligned("scratch")
    mcnemar = mcnemar_exact(ref["y_true"], ref["y_pred"], other["y_pred"])
    assert scratch.loc[("mcnemar_exact", "accuracy"), "p_value"] == pytest.approx(mcnemar.p_value, abs=1e-15)
    accuracy_gap = (ref["y_pred"] == ref["y_true"]).mean() - (other["y_pred"] == other["y_true"]).mean()
    assert scratch.loc[("mcnemar_exact", "accuracy"), "estimate"] == pytest.approx(accuracy_gap, abs=1e-12)
    folds = sorted(ref["outer_fold"].unique())
    per_fold = [
        [
            balanced_accuracy_score(
                d.loc[d["outer_fold"] == f, "y_true"], d.loc[d["outer_fold"] == f, "y_pred"]
            )
            for f in folds
        ]
        for d in (ref, other)
    ]
    n_test = ref.groupby("outer_fold").size().to_numpy()
    expected = corrected_resampled_ttest(per_fold[0], per_fold[1], n_train=len(ref) - n_test, n_test=n_test)
    key = ("corrected_resampled_ttest", "balanced_accuracy")
    assert scratch.loc[key, "statistic"] == pytest.approx(expected.statistic, abs=1e-12)
    assert scratch.loc[key, "p_value"] == pytest.approx(expected.p_value, abs=1e-12)

    # the t-test row's effect size is the pooled paired-bootstrap one, on the metric's scale
    bootstrap = scratch.loc[("paired_bootstrap", "balanced_accuracy")]
    for column in ("estimate", "ci_low", "ci_high"):
        assert scratch.loc[key, column] == pytest.approx(bootstrap[column], abs=1e-15)

    again = compare_to_reference(frame, "sdc_dl", n_bootstrap=200, seed=0)
    pd.testing.assert_frame_equal(table, again)


def test_corrected_ttest_is_not_run_below_its_minimum_folds_and_its_interval_stays_in_range() -> None:
    """Two folds gave 'Δ +0.502 [-0.464, +1.468]' (a t interval on 1 df) and a p-value on the t scale."""
    frame = make_predictions(
        np.random.default_rng(3), {("sdc_dl", "s"): 3.0, ("scratch", "s"): 0.2}, n_folds=2
    )
    table = compare_to_reference(frame, "sdc_dl", n_bootstrap=100, seed=0).set_index(["test", "metric"])
    row = table.loc[("corrected_resampled_ttest", "balanced_accuracy")]
    assert math.isnan(row["p_value"]) and math.isnan(row["statistic"]) and not row["significant"]
    assert -1.0 <= row["ci_low"] <= row["estimate"] <= row["ci_high"] <= 1.0


def test_compare_to_reference_selects_and_validates_the_reference() -> None:
    frame = make_predictions(
        np.random.default_rng(3),
        {("sdc_dl", "strong"): 2.0, ("sdc_dl", "none"): 1.0, ("scratch", "strong"): 0.5},
        n_patients=30,
    )
    with pytest.raises(ConfigError, match="matches 2 configurations"):
        compare_to_reference(frame, "sdc_dl", n_bootstrap=20)
    with pytest.raises(ConfigError, match="matches no configuration"):
        compare_to_reference(frame, "sdc_dl_v2", n_bootstrap=20)
    with pytest.raises(ConfigError, match="reference_config key 'optimizer'"):
        compare_to_reference(frame, "sdc_dl", reference_config={"optimizer": "adam"}, n_bootstrap=20)

    table = compare_to_reference(frame, "sdc_dl", reference_config={"augment": "strong"}, n_bootstrap=20)
    # the no-augmentation ablation of the same method is compared too
    assert sorted(table[["method", "augment"]].drop_duplicates().apply(tuple, axis=1)) == [
        ("scratch", "strong"),
        ("sdc_dl", "none"),
    ]


def test_compare_to_reference_skips_configurations_on_other_samples() -> None:
    frame = make_predictions(
        np.random.default_rng(4), {("sdc_dl", "strong"): 2.0, ("scratch", "strong"): 0.5}, n_patients=30
    )
    partial = frame.drop(frame.index[(frame["method"] == "scratch")][:4])
    with pytest.warns(UserWarning, match="skipping scratch"):
        table = compare_to_reference(partial, "sdc_dl", n_bootstrap=20)
    assert table.empty and list(table.columns) == list(COMPARISON_COLUMNS)

    relabelled = frame.copy()
    first = relabelled.index[relabelled["method"] == "scratch"][0]
    relabelled.loc[first, "y_true"] = (
        "scoliosis" if relabelled.loc[first, "y_true"] != "scoliosis" else "normal"
    )
    with pytest.raises(DataError, match="'y_true' differs"):
        compare_to_reference(relabelled, "sdc_dl", n_bootstrap=20)


def test_compare_to_reference_pairs_by_seed_and_fold() -> None:
    methods = {("sdc_dl", "strong"): 2.0, ("baseline", "none"): 0.8}
    first = make_predictions(np.random.default_rng(1), methods)
    second = make_predictions(np.random.default_rng(2), methods)
    second["outer_fold"] = (second["outer_fold"] + 1) % 4  # the other seed's folds differ
    single = compare_to_reference(first, "sdc_dl", n_bootstrap=100, seed=0)
    # one seed: the seed column's value does not matter
    alone = compare_to_reference(first.drop(columns="seed"), "sdc_dl", n_bootstrap=100, seed=0)
    pd.testing.assert_frame_equal(single, alone)

    stacked = pd.concat([first.assign(seed=0), second.assign(seed=1)], ignore_index=True)
    table = compare_to_reference(stacked, "sdc_dl", n_bootstrap=100, seed=0).set_index(["test", "metric"])
    ref, other = (stacked[stacked["method"] == m] for m in ("sdc_dl", "baseline"))
    keys = ["seed", "outer_fold", "sample_id"]
    ref, other = (f.sort_values(keys).reset_index(drop=True) for f in (ref, other))
    correct_a = (ref["y_true"] == ref["y_pred"]).to_numpy()
    correct_b = (other["y_true"] == other["y_pred"]).to_numpy()
    mcnemar = mcnemar_exact(ref["y_true"], ref["y_pred"], other["y_pred"])
    assert table.loc[("mcnemar_exact", "accuracy"), "p_value"] == pytest.approx(mcnemar.p_value)
    assert table.loc[("mcnemar_exact", "accuracy"), "estimate"] == pytest.approx(
        correct_a.mean() - correct_b.mean()
    )

    def fold_scores(frame: pd.DataFrame) -> list[float]:
        return [
            balanced_accuracy_score(part["y_true"], part["y_pred"])
            for _, part in frame.groupby(["seed", "outer_fold"], sort=True)
        ]

    sizes = ref.groupby(["seed", "outer_fold"]).size().to_numpy(dtype=float)
    expected = corrected_resampled_ttest(
        fold_scores(ref), fold_scores(other), n_train=len(first) / 2 - sizes, n_test=sizes
    )
    ttest = table.loc[("corrected_resampled_ttest", "balanced_accuracy")]
    assert ttest["statistic"] == pytest.approx(expected.statistic)
    assert ttest["p_value"] == pytest.approx(expected.p_value)
