"""Tests of sdc_bench.reports.metrics: agreement with scikit-learn / imbalanced-learn,
interval coverage by simulation, and the tidy metrics table."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from imblearn.metrics import sensitivity_score, specificity_score
from scipy.stats import norm
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from sdc_bench.core.contracts import METRIC_TABLE_COLUMNS
from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.reports.metrics import (
    CLASS_METRICS,
    ECE_BINS,
    METRICS,
    OVERALL_METRICS,
    MetricEvaluator,
    compute_metrics,
    patient_bootstrap,
    patient_resample_weights,
    point_metrics,
    summarize_folds,
    summarize_seeds,
    wilson_interval,
)
from sdc_bench.reports.predictions_table import class_names

EXACT = 1e-12
CLASSES = ("normal", "scoliosis", "spondylolisthesis")


def random_predictions(
    rng: np.random.Generator, n: int, n_classes: int, *, signal: float = 1.0, decimals: int | None = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, noisy argmax predictions and probabilities (rounded, so scores tie)."""
    y_true = rng.integers(0, n_classes, n)
    logits = rng.normal(size=(n, n_classes))
    logits[np.arange(n), y_true] += signal
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    if decimals is not None:
        proba = np.round(proba, decimals) + 1e-3
        proba /= proba.sum(axis=1, keepdims=True)
    y_pred = proba.argmax(axis=1)
    flip = rng.random(n) < 0.1
    y_pred[flip] = rng.integers(0, n_classes, int(flip.sum()))
    return y_true, y_pred, proba


def reference_ece(y_true: np.ndarray, proba: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Top-label ECE written out bin by bin: bins (lo, hi], the first one closed."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    total = 0.0
    for m in range(n_bins):
        lo, hi = edges[m], edges[m + 1]
        in_bin = (confidence > lo) & (confidence <= hi) if m > 0 else (confidence <= hi)
        if in_bin.any():
            total += in_bin.sum() / len(y_true) * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return total


def negative_predictive_value(y_true: np.ndarray, y_pred: np.ndarray, labels: list[int]) -> np.ndarray:
    confusion = skm.multilabel_confusion_matrix(y_true, y_pred, labels=labels)  # [[tn, fp], [fn, tp]]
    tn, fn = confusion[:, 0, 0], confusion[:, 1, 0]
    return tn / (tn + fn)


def make_predictions(
    rng: np.random.Generator,
    *,
    methods: dict[str, float] | None = None,
    n_patients: int = 45,
    images_per_patient: int = 2,
    n_folds: int = 3,
    external_patients: int = 0,
) -> pd.DataFrame:
    """A predictions table in the contract: patients split into folds, one configuration
    per method (value = signal strength), optional external split seen by every fold."""
    methods = methods or {"sdc_dl": 2.0, "baseline": 0.7}
    n_classes = len(CLASSES)
    patient_class = rng.integers(0, n_classes, n_patients)
    patient_class[:n_classes] = np.arange(n_classes)  # every class present
    records = []
    for method in methods:
        for patient in range(n_patients):
            for image in range(images_per_patient):
                records.append(
                    (
                        method,
                        "test",
                        patient % n_folds,
                        f"s{patient:03d}_{image}",
                        f"p{patient:03d}",
                        patient_class[patient],
                    )
                )
        for fold in range(n_folds):
            for patient in range(external_patients):
                records.append(
                    (
                        method,
                        "external:site_b",
                        fold,
                        f"x{patient:03d}",
                        f"xp{patient:03d}",
                        patient % n_classes,
                    )
                )
    frame = pd.DataFrame.from_records(
        records, columns=["method", "split", "outer_fold", "sample_id", "patient_id", "label"]
    )
    signal = frame["method"].map(methods).to_numpy()
    logits = rng.normal(size=(len(frame), n_classes))
    logits[np.arange(len(frame)), frame["label"].to_numpy()] += signal
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    names = np.array(CLASSES)
    frame = frame.assign(
        run_id="run-1",
        backbone="resnet18",
        augment="strong",
        imbalance="none",
        seed=0,
        y_true=names[frame["label"].to_numpy()],
        y_pred=names[proba.argmax(axis=1)],
    ).drop(columns="label")
    for k, name in enumerate(CLASSES):
        frame[f"p_{name}"] = proba[:, k]
    return frame


# --------------------------------------------------------------------------- point metrics


@pytest.mark.parametrize("n_classes", [3, 4, 5])
@pytest.mark.parametrize("seed", [0, 1])
def test_point_metrics_agree_with_sklearn_and_imblearn(n_classes: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true, y_pred, proba = random_predictions(rng, 400, n_classes)
    labels = list(range(n_classes))
    m = point_metrics(y_true, y_pred, proba)

    assert m.accuracy == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=EXACT)
    assert m.balanced_accuracy == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred), abs=EXACT)
    assert m.kappa == pytest.approx(skm.cohen_kappa_score(y_true, y_pred), abs=EXACT)
    assert m.mcc == pytest.approx(skm.matthews_corrcoef(y_true, y_pred), abs=EXACT)
    assert m.brier == pytest.approx(
        skm.brier_score_loss(y_true, proba, labels=labels, scale_by_half=False), abs=EXACT
    )
    assert m.ece == pytest.approx(reference_ece(y_true, proba), abs=EXACT)

    per_class = {
        "sensitivity": sensitivity_score(y_true, y_pred, labels=labels, average=None),
        "specificity": specificity_score(y_true, y_pred, labels=labels, average=None),
        "ppv": skm.precision_score(y_true, y_pred, labels=labels, average=None),
        "npv": negative_predictive_value(y_true, y_pred, labels),
        "f1": skm.f1_score(y_true, y_pred, labels=labels, average=None),
        "auroc": np.array([skm.roc_auc_score(y_true == k, proba[:, k]) for k in labels]),
        "auprc": np.array([skm.average_precision_score(y_true == k, proba[:, k]) for k in labels]),
    }
    for name, expected in per_class.items():
        np.testing.assert_allclose(getattr(m, name), expected, rtol=0, atol=EXACT, err_msg=name)

    onehot = label_binarize(y_true, classes=labels)
    macro = {
        "sensitivity": sensitivity_score(y_true, y_pred, labels=labels, average="macro"),
        "specificity": specificity_score(y_true, y_pred, labels=labels, average="macro"),
        "ppv": skm.precision_score(y_true, y_pred, labels=labels, average="macro"),
        "npv": negative_predictive_value(y_true, y_pred, labels).mean(),
        "f1": skm.f1_score(y_true, y_pred, labels=labels, average="macro"),
        "auroc": skm.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=labels),
        "auprc": skm.average_precision_score(onehot, proba, average="macro"),
    }
    for name, expected in macro.items():
        assert m.macro(name) == pytest.approx(expected, abs=EXACT), name
    assert m.macro("sensitivity") == pytest.approx(m.balanced_accuracy, abs=EXACT)


def test_class_absent_from_y_true_gives_nan_not_a_crash() -> None:
    rng = np.random.default_rng(3)
    y_true, y_pred, proba = random_predictions(rng, 200, 4)
    y_true[y_true == 2] = 0  # class 2 never occurs, but is still predicted
    labels = [0, 1, 3]
    m = point_metrics(y_true, y_pred, proba)

    for name in ("sensitivity", "auroc", "auprc"):
        assert np.isnan(getattr(m, name)[2]), name
    assert not np.isnan(m.specificity[2])  # every image is a negative for class 2
    np.testing.assert_allclose(
        m.sensitivity,
        skm.recall_score(y_true, y_pred, labels=[0, 1, 2, 3], average=None, zero_division=np.nan),
        atol=EXACT,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns that y_pred holds a class absent from y_true
        expected_balanced = skm.balanced_accuracy_score(y_true, y_pred)
    assert m.balanced_accuracy == pytest.approx(expected_balanced, abs=EXACT)
    expected_auroc = np.mean([skm.roc_auc_score(y_true == k, proba[:, k]) for k in labels])
    assert m.macro("auroc") == pytest.approx(expected_auroc, abs=EXACT)


def test_undefined_everything_for_a_single_class_input() -> None:
    proba = np.array([[0.8, 0.2], [0.7, 0.3]])
    m = point_metrics([0, 0], [0, 0], proba)
    assert m.accuracy == 1.0
    assert np.isnan(m.auroc).all()
    assert np.isnan(m.macro("auroc"))
    assert np.isnan(m.kappa)
    assert m.mcc == 0.0  # scikit-learn's convention when undefined


def test_ece_worked_example() -> None:
    # Confidences 0.9 (correct), 0.9 (wrong) share bin (0.867, 0.933]; 0.6 (correct) sits alone.
    proba = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4]])
    y_true = np.array([0, 0, 0])
    m = point_metrics(y_true, proba.argmax(axis=1), proba)
    expected = 2 / 3 * abs(0.5 - 0.9) + 1 / 3 * abs(1.0 - 0.6)
    assert m.ece == pytest.approx(expected, abs=EXACT)


def test_weighted_evaluation_equals_replicated_dataset() -> None:
    rng = np.random.default_rng(5)
    y_true, y_pred, proba = random_predictions(rng, 120, 3)
    weights = rng.integers(0, 4, size=(3, 120)).astype(float)
    evaluator = MetricEvaluator(y_true, y_pred, proba)
    weighted = evaluator(weights)
    for row in range(3):
        repeat = weights[row].astype(int)
        replicated = point_metrics(
            np.repeat(y_true, repeat), np.repeat(y_pred, repeat), np.repeat(proba, repeat, axis=0)
        )
        for name in OVERALL_METRICS:
            assert weighted[name][row] == pytest.approx(getattr(replicated, name), abs=1e-10), name
        for name in CLASS_METRICS:
            np.testing.assert_allclose(
                weighted[name][row], getattr(replicated, name), atol=1e-10, err_msg=name
            )


def test_metric_evaluator_rejects_codes_outside_the_classes() -> None:
    with pytest.raises(DataError, match="y_pred"):
        MetricEvaluator([0, 1], [0, 2], np.array([[0.5, 0.5], [0.5, 0.5]]))


# --------------------------------------------------------------------------- intervals


def test_wilson_interval_matches_statsmodels_and_handles_zero_trials() -> None:
    from statsmodels.stats.proportion import proportion_confint

    low, high = wilson_interval([8, 0, 3], [10, 0, 3])
    expected = proportion_confint(8, 10, alpha=0.05, method="wilson")
    assert (low[0], high[0]) == pytest.approx(expected, abs=EXACT)
    assert np.isnan(low[1]) and np.isnan(high[1])
    assert high[2] == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="confidence"):
        wilson_interval(1, 2, confidence=1.5)


def test_wilson_interval_coverage_by_simulation() -> None:
    rng = np.random.default_rng(11)
    true_sensitivity, n_positives, n_simulations = 0.8, 60, 300
    hits = 0
    for _ in range(n_simulations):
        y_true = np.r_[np.zeros(n_positives, int), np.ones(n_positives, int)]
        detected = rng.random(n_positives) < true_sensitivity
        y_pred = np.r_[np.where(detected, 0, 1), np.ones(n_positives, int)]
        m = point_metrics(y_true, y_pred, np.full((2 * n_positives, 2), 0.5))
        low, high = wilson_interval(round(m.sensitivity[0] * n_positives), n_positives)
        hits += bool(low <= true_sensitivity <= high)
    assert 0.91 <= hits / n_simulations <= 0.99


def test_patient_bootstrap_coverage_and_image_level_undercoverage() -> None:
    """Patients carry several identical images. The patient bootstrap covers the known
    AUROC and balanced accuracy about 95% of the time; resampling images as if they were
    independent covers far less often."""
    rng = np.random.default_rng(2024)
    separation, patients_per_class, copies, n_simulations = 1.2, 40, 4, 300
    true_auroc = norm.cdf(separation / np.sqrt(2))
    true_balanced_accuracy = norm.cdf(separation / 2)
    patient_class = np.repeat([0, 1], patients_per_class)
    patient_ids = np.repeat(np.arange(2 * patients_per_class), copies)
    image_ids = np.arange(len(patient_ids))
    covered = {"auroc_patient": 0, "balanced_patient": 0, "auroc_image": 0}
    for simulation in range(n_simulations):
        score = rng.normal(size=2 * patients_per_class) + np.where(
            patient_class == 1, separation / 2, -separation / 2
        )
        p1 = 1.0 / (1.0 + np.exp(-score))
        proba = np.repeat(np.column_stack([1 - p1, p1]), copies, axis=0)
        y_true = np.repeat(patient_class, copies)
        y_pred = proba.argmax(axis=1)
        by_patient = patient_bootstrap(y_true, y_pred, proba, patient_ids, n_bootstrap=200, seed=simulation)
        by_image = patient_bootstrap(y_true, y_pred, proba, image_ids, n_bootstrap=200, seed=simulation)
        low, high = by_patient["macro_auroc"]
        covered["auroc_patient"] += bool(low <= true_auroc <= high)
        low, high = by_patient["balanced_accuracy"]
        covered["balanced_patient"] += bool(low <= true_balanced_accuracy <= high)
        low, high = by_image["macro_auroc"]
        covered["auroc_image"] += bool(low <= true_auroc <= high)
    coverage = {name: hits / n_simulations for name, hits in covered.items()}
    assert 0.91 <= coverage["auroc_patient"] <= 0.99, coverage
    assert 0.91 <= coverage["balanced_patient"] <= 0.99, coverage
    assert coverage["auroc_image"] < 0.85, coverage


def test_patient_resample_weights_move_patients_together() -> None:
    patient_ids = np.array(["a", "a", "b", "c", "c", "c"])
    blocks = list(patient_resample_weights(patient_ids, 50, seed=7, max_cells=60))
    assert [len(block) for block in blocks] == [10] * 5
    weights = np.concatenate(blocks)
    assert np.all(weights[:, 0] == weights[:, 1])
    assert np.all((weights[:, 3] == weights[:, 4]) & (weights[:, 4] == weights[:, 5]))
    draws_per_resample = weights[:, 0] + weights[:, 2] + weights[:, 3]
    assert np.all(draws_per_resample == 3)  # as many patients drawn as there are
    again = np.concatenate(list(patient_resample_weights(patient_ids, 50, seed=7, max_cells=60)))
    np.testing.assert_array_equal(weights, again)
    # Row-major blocks: the rank metrics gather columns of every row, 8x slower from a column-major block.
    assert all(block.flags.c_contiguous for block in blocks)


# --------------------------------------------------------------------------- predictions table


def test_class_names_in_probability_column_order() -> None:
    frame = make_predictions(np.random.default_rng(0))
    assert class_names(frame) == list(CLASSES)
    reordered = frame[
        [c for c in frame.columns if not c.startswith("p_")] + [f"p_{c}" for c in reversed(CLASSES)]
    ]
    assert class_names(reordered) == list(reversed(CLASSES))


def test_compute_metrics_columns_order_and_values() -> None:
    frame = make_predictions(np.random.default_rng(1))
    table = compute_metrics(frame, n_bootstrap=100, seed=0)

    assert list(table.columns) == list(METRIC_TABLE_COLUMNS)
    assert table["outer_fold"].dtype == np.int64 and table["n_images"].dtype == np.int64
    rows_per_block = len(OVERALL_METRICS) + len(CLASS_METRICS) * (len(CLASSES) + 1)
    assert len(table) == 2 * (1 + 3) * rows_per_block  # 2 configurations x (pooled + 3 folds)

    # configurations sorted, pooled before folds, metrics and classes in a fixed order
    assert table["method"].tolist() == sorted(table["method"].tolist())
    block = table.iloc[:rows_per_block]
    assert (block["scope"] == "pooled").all() and (block["outer_fold"] == -1).all()
    assert list(dict.fromkeys(block["metric"])) == list(METRICS)
    assert block.loc[block["metric"] == "auroc", "class_name"].tolist() == ["macro", *CLASSES]
    assert table.loc[table["method"] == "baseline", "outer_fold"].tolist()[rows_per_block:] == sorted(
        table.loc[table["method"] == "baseline", "outer_fold"].tolist()[rows_per_block:]
    )

    # values equal point_metrics on the pooled and per-fold rows
    names = list(CLASSES)
    for (method, scope, fold), rows in table.groupby(["method", "scope", "outer_fold"]):
        source = frame[frame["method"] == method]
        if scope == "fold":
            source = source[source["outer_fold"] == fold]
        m = point_metrics(
            pd.Categorical(source["y_true"], categories=names).codes.astype(int),
            pd.Categorical(source["y_pred"], categories=names).codes.astype(int),
            source[[f"p_{c}" for c in names]].to_numpy(),
        )
        value = rows.set_index(["metric", "class_name"])["value"]
        assert value[("accuracy", "overall")] == pytest.approx(m.accuracy, abs=EXACT)
        assert value[("kappa", "overall")] == pytest.approx(m.kappa, abs=EXACT)
        assert value[("auroc", "macro")] == pytest.approx(m.macro("auroc"), abs=EXACT)
        assert value[("sensitivity", "scoliosis")] == pytest.approx(m.sensitivity[1], abs=EXACT)
        assert (rows["n_images"] == len(source)).all()
        assert (rows["n_patients"] == source["patient_id"].nunique()).all()

    methods = table.set_index(["method", "scope", "outer_fold", "metric", "class_name"])["ci_method"]
    assert methods[("sdc_dl", "pooled", -1, "accuracy", "overall")] == "wilson"
    assert methods[("sdc_dl", "pooled", -1, "sensitivity", "normal")] == "wilson"
    assert methods[("sdc_dl", "pooled", -1, "sensitivity", "macro")] == "bootstrap"
    assert methods[("sdc_dl", "pooled", -1, "auroc", "normal")] == "bootstrap"
    assert methods[("sdc_dl", "fold", 0, "auroc", "macro")] == "none"
    assert methods[("sdc_dl", "fold", 0, "specificity", "normal")] == "wilson"
    with_ci = table[table["ci_method"] != "none"]
    assert (with_ci["ci_low"] <= with_ci["ci_high"]).all()
    assert (
        (with_ci["ci_low"] <= with_ci["value"] + 1e-9) & (with_ci["value"] <= with_ci["ci_high"] + 1e-9)
    ).mean() > 0.97


def test_compute_metrics_is_deterministic_and_order_invariant() -> None:
    frame = make_predictions(np.random.default_rng(2), external_patients=12)
    first = compute_metrics(frame, n_bootstrap=100, seed=3).to_csv(index=False)
    again = compute_metrics(frame, n_bootstrap=100, seed=3).to_csv(index=False)
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    reordered = compute_metrics(shuffled, n_bootstrap=100, seed=3).to_csv(index=False)
    other_seed = compute_metrics(frame, n_bootstrap=100, seed=4).to_csv(index=False)
    assert first == again == reordered
    assert first != other_seed
    # one configuration's intervals do not depend on the other configurations present
    alone = compute_metrics(frame[frame["method"] == "sdc_dl"], n_bootstrap=100, seed=3)
    both = compute_metrics(frame, n_bootstrap=100, seed=3)
    pd.testing.assert_frame_equal(alone, both[both["method"] == "sdc_dl"].reset_index(drop=True))


def test_external_split_pools_the_fold_models_as_an_ensemble() -> None:
    frame = make_predictions(np.random.default_rng(4), methods={"sdc_dl": 1.5}, external_patients=30)
    table = compute_metrics(frame, n_bootstrap=50)
    assert list(dict.fromkeys(table["split"])) == ["test", "external:site_b"]
    pooled = table[(table["split"] == "external:site_b") & (table["scope"] == "pooled")]
    assert (pooled["n_images"] == 30).all()

    external = frame[frame["split"] == "external:site_b"]
    columns = [f"p_{c}" for c in CLASSES]
    mean = external.groupby("sample_id")[columns].mean()
    truth = external.groupby("sample_id")["y_true"].first()
    y_true = pd.Categorical(truth, categories=list(CLASSES)).codes.astype(int)
    m = point_metrics(y_true, mean.to_numpy().argmax(axis=1), mean.to_numpy())
    value = pooled.set_index(["metric", "class_name"])["value"]
    assert value[("accuracy", "overall")] == pytest.approx(m.accuracy, abs=EXACT)
    assert value[("brier", "overall")] == pytest.approx(m.brier, abs=EXACT)
    folds = table[(table["split"] == "external:site_b") & (table["scope"] == "fold")]
    assert sorted(folds["outer_fold"].unique()) == [0, 1, 2]


def test_patient_level_bootstrap_widens_intervals_for_clustered_images() -> None:
    """Nine identical images per patient: resampling patients must give intervals about
    three times wider than pretending each image is its own patient."""
    frame = make_predictions(
        np.random.default_rng(6), methods={"sdc_dl": 1.0}, n_patients=60, images_per_patient=1, n_folds=3
    )
    clustered = frame.loc[frame.index.repeat(9)].reset_index(drop=True)
    clustered["sample_id"] = (
        clustered["sample_id"] + "_" + clustered.groupby("sample_id").cumcount().astype(str)
    )
    independent = clustered.assign(patient_id=clustered["sample_id"])

    def widths(table: pd.DataFrame) -> pd.Series:
        pooled = table[(table["scope"] == "pooled") & (table["ci_method"] == "bootstrap")]
        return (pooled["ci_high"] - pooled["ci_low"]).set_axis(pooled["metric"] + "/" + pooled["class_name"])

    by_patient = widths(compute_metrics(clustered, n_bootstrap=300, seed=1))
    by_image = widths(compute_metrics(independent, n_bootstrap=300, seed=1))
    for key in ("auroc/macro", "balanced_accuracy/overall", "kappa/overall", "brier/overall"):
        assert by_patient[key] > 2.0 * by_image[key], key


def test_compute_metrics_without_bootstrap() -> None:
    table = compute_metrics(make_predictions(np.random.default_rng(7)), n_bootstrap=0)
    assert set(table["ci_method"]) == {"wilson", "none"}


def test_summarize_folds_mean_and_sd() -> None:
    table = compute_metrics(make_predictions(np.random.default_rng(8)), n_bootstrap=0)
    summary = summarize_folds(table)
    assert list(summary.columns) == [
        "method", "backbone", "augment", "imbalance", "split", "metric", "class_name", "mean", "sd", "n_folds",
    ]  # fmt: skip
    folds = table[
        (table["scope"] == "fold") & (table["method"] == "sdc_dl") & (table["metric"] == "accuracy")
    ]
    row = summary[(summary["method"] == "sdc_dl") & (summary["metric"] == "accuracy")].iloc[0]
    assert row["mean"] == pytest.approx(folds["value"].mean(), abs=EXACT)
    assert row["sd"] == pytest.approx(np.std(folds["value"].to_numpy(), ddof=1), abs=EXACT)
    assert row["n_folds"] == 3
    assert len(summary) == len(table[table["scope"] == "fold"]) // 3
    with pytest.raises(DataError, match="scope"):
        summarize_folds(table.drop(columns="scope"))


# --------------------------------------------------------------------------- bad input


def test_missing_probability_columns_raise() -> None:
    frame = make_predictions(np.random.default_rng(9))
    with pytest.raises(DataError, match="p_<class>"):
        compute_metrics(frame.drop(columns=[f"p_{c}" for c in CLASSES]))


def test_unknown_labels_raise_naming_the_column() -> None:
    frame = make_predictions(np.random.default_rng(9))
    bad_true = frame.copy()
    bad_true.loc[0, "y_true"] = "fracture"
    with pytest.raises(DataError, match=r"'y_true'.*'fracture'"):
        compute_metrics(bad_true)
    bad_pred = frame.copy()
    bad_pred.loc[3, "y_pred"] = "Normal"
    with pytest.raises(DataError, match=r"'y_pred'.*'Normal'"):
        class_names(bad_pred)


def test_probabilities_must_sum_to_one_and_be_finite() -> None:
    frame = make_predictions(np.random.default_rng(9))
    nudged = frame["p_normal"].to_numpy(copy=True)
    nudged[5] += 0.01
    off = frame.assign(p_normal=nudged)
    with pytest.raises(DataError, match=r"p_normal, p_scoliosis, p_spondylolisthesis do not sum to 1.*row 5"):
        compute_metrics(off)
    nudged = frame["p_normal"].to_numpy(copy=True)
    nudged[5] += 5e-5
    within = frame.assign(p_normal=nudged)
    assert class_names(within) == list(CLASSES)
    missing = frame.copy()
    missing.loc[2, "p_scoliosis"] = np.nan
    with pytest.raises(DataError, match="'p_scoliosis'"):
        compute_metrics(missing)
    text = frame.assign(p_normal=frame["p_normal"].astype(str))
    with pytest.raises(DataError, match="'p_normal' must be numeric"):
        class_names(text)


@pytest.mark.parametrize("column", ["patient_id", "outer_fold", "split", "method"])
def test_missing_required_column_raises(column: str) -> None:
    frame = make_predictions(np.random.default_rng(9))
    with pytest.raises(DataError, match=f"'{column}'"):
        compute_metrics(frame.drop(columns=column))


def test_malformed_folds_and_duplicates_raise() -> None:
    frame = make_predictions(np.random.default_rng(9))
    with pytest.raises(DataError, match="'outer_fold'"):
        compute_metrics(frame.assign(outer_fold=frame["outer_fold"] + 0.5))
    twice = pd.concat([frame, frame.iloc[[0]].assign(outer_fold=1)], ignore_index=True)
    with pytest.raises(DataError, match=r"'sample_id'.*several outer folds"):
        compute_metrics(twice)


def test_bad_parameters_raise_config_error() -> None:
    frame = make_predictions(np.random.default_rng(9))
    with pytest.raises(ConfigError, match="n_bootstrap"):
        compute_metrics(frame, n_bootstrap=-1)
    with pytest.raises(ConfigError, match="confidence"):
        compute_metrics(frame, confidence=95)
    with pytest.raises(ConfigError, match="seed"):
        compute_metrics(frame, seed=-2)


# --------------------------------------------------------------------------- protocol seeds


def _repeated(seeds: tuple[int, ...], external_patients: int = 0) -> pd.DataFrame:
    """One table per protocol seed (its own fold assignment and predictions), stacked."""
    frames = []
    for seed in seeds:
        frame = make_predictions(np.random.default_rng(seed), external_patients=external_patients)
        shift = seed % 3  # another seed, other folds
        frame["outer_fold"] = (frame["outer_fold"] + shift) % 3
        frames.append(frame.assign(seed=seed))
    return pd.concat(frames, ignore_index=True)


def test_single_seed_tables_are_unchanged_by_the_seed_column() -> None:
    """One protocol seed, whatever its value, or no seed column give the same numbers."""
    single = make_predictions(np.random.default_rng(5), external_patients=6)  # seed = 0
    columns = ["scope", "outer_fold", "metric", "class_name", "value", "ci_low", "ci_high", "ci_method"]
    reference = compute_metrics(single.drop(columns="seed"), n_bootstrap=80, seed=2)
    assert set(reference["scope"]) == {"pooled", "fold"} and set(reference["seed"]) == {-1}
    for variant in (single, single.assign(seed=7)):
        table = compute_metrics(variant, n_bootstrap=80, seed=2)
        pd.testing.assert_frame_equal(table[columns], reference[columns])
    assert set(compute_metrics(single.assign(seed=7), n_bootstrap=0).query("scope == 'fold'")["seed"]) == {7}


def test_several_seeds_pool_every_repetition_with_bootstrap_intervals() -> None:
    frame = _repeated((0, 1, 2), external_patients=5)
    table = compute_metrics(frame, n_bootstrap=80, seed=0)
    keys = ["method", "split", "metric", "class_name"]
    pooled = table[table["scope"] == "pooled"]
    assert not pooled.duplicated(keys).any() and (pooled["seed"] == -1).all()
    assert set(pooled.loc[pooled["ci_method"] != "none", "ci_method"]) == {"bootstrap"}
    seeds = table[table["scope"] == "seed"]
    assert sorted(seeds["seed"].unique()) == [0, 1, 2]
    folds = table[table["scope"] == "fold"]
    assert len(folds.drop_duplicates(["method", "split", "seed", "outer_fold"])) == 2 * 2 * 3 * 3
    accuracy = table[(table["metric"] == "accuracy") & (table["split"] == "test")]
    for _, rows in accuracy.groupby("method"):
        whole = rows[rows["scope"] == "pooled"].iloc[0]
        assert whole["value"] == pytest.approx(rows.loc[rows["scope"] == "seed", "value"].mean())
        assert whole["n_images"] == 3 * 90 and whole["n_patients"] == 45
    # each seed block is exactly the pooled block of that seed's table alone
    alone = compute_metrics(frame[frame["seed"] == 1], n_bootstrap=80, seed=0)
    columns = ["value", "ci_low", "ci_high", "ci_method", "n_images"]
    block = seeds[seeds["seed"] == 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        block[columns], alone[alone["scope"] == "pooled"].reset_index(drop=True)[columns]
    )
    summary = summarize_seeds(table)
    assert (summary.loc[summary["metric"] == "accuracy", "n_seeds"] == 3).all()
    assert summarize_seeds(alone).empty
