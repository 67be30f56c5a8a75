"""The report's Protocol section: outer folds, protocol seeds, search, seeds, and how intervals and comparisons
were made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from sdc_bench.core.run_manifest import SearchRecord
from sdc_bench.reports.document import Section
from sdc_bench.reports.loaders import load_cells, read_json
from sdc_bench.reports.names import display_name
from sdc_bench.reports.sections._context import ReportContext
from sdc_bench.reports.sections._registry import report_section
from sdc_bench.reports.sections.caveats import weight_sources

__all__ = ["protocol_section"]


def _search_text(search: SearchRecord) -> str:
    if search.n_trials == 0:
        return "none: each method's default parameters (n_trials = 0)"
    return ", ".join(f"{k}={v}" for k, v in asdict(search).items()) + " per cell, on the inner split only"


@report_section("protocol", title="Protocol", order=40)
def protocol_section(ctx: ReportContext) -> Section:
    """Outer folds, protocol seeds, search, seeds, and how intervals and comparisons were made."""
    run, n_bootstrap, seed, reference = ctx.run, ctx.n_bootstrap, ctx.seed, ctx.reference
    suite = run.suite
    search = run.search
    seeds = list(run.seeds)
    splits = read_json(ctx.writer.store.splits_json)
    facts = [
        (
            "Outer folds",
            f"{suite.outer_folds} (patient-grouped, stratified by class)",
        ),
        ("Protocol seeds", _seeds_text(seeds)),
        ("Inner validation fraction", str(suite.inner_val_fraction)),
        ("Hyperparameter search", _search_text(search)),
        (
            "Run seed / split seed",
            f"{run.seed} / {(splits or {}).get('seed', '?')}",
        ),
        ("Methods", ", ".join(f"{display_name(m)} ({m})" for m in suite.methods) or "n/a"),
        ("Backbones", ", ".join(suite.backbones) or "n/a"),
        ("Weights", weight_sources(run, load_cells(ctx.root))),
        ("Training", _training_text(suite.train)),
        ("Report bootstrap", f"{n_bootstrap} patient-level resamples, seed {seed}"),
    ]
    tuning = (
        "Hyperparameters were chosen on an inner split of that fold's training patients only."
        if search.n_trials
        else "No hyperparameter was tuned: each method trained its fixed recipe on that fold's training patients."
    )
    paragraphs = [
        "Reported numbers are out-of-fold: each image is predicted by the model of the one outer fold that held "
        f"its patient out. {tuning} {_decision_text(suite.tree)}",
        f"Intervals: Wilson for accuracy and per-class sensitivity/specificity, patient-level percentile bootstrap "
        f"otherwise. Comparisons with {display_name(reference)}: exact McNemar (accuracy), corrected resampled t-test "
        "(per-fold balanced accuracy) and a paired patient-level bootstrap (balanced accuracy, accuracy, macro "
        "AUROC), with Holm's correction within each test family; Friedman test with Nemenyi post-hoc over "
        "outer folds for the ranking of all configurations. The corrected t-test and the Friedman test run "
        "only with at least 5 outer folds (x seeds); the caveats say when they did not.",
    ]
    if len(seeds) > 1:
        paragraphs.append(
            f"Repeated cross-validation: the whole patient-grouped cross-validation ran once per protocol seed "
            f"({', '.join(map(str, seeds))}), each with its own outer folds and cell seeds, on the same data. "
            "Pooled estimates stack the repetitions (each image once per seed) with patient-level bootstrap "
            "intervals only; per-seed estimates are in `metrics.csv` (scope `seed`) and the tables give their "
            "mean ± SD. Comparisons pair images by seed: McNemar over (seed, image) pairs, the corrected "
            "t-test over the seeds x folds scores, the paired bootstrap over the stacked repetitions."
        )
    return Section("Protocol", paragraphs=paragraphs, facts=facts)


#: Training settings whose 0 means "not set": shown as what 0 does instead of a bare 0.
_ZERO_MEANS = {"max_epochs": "each method's own", "threads": "torch default"}


def _training_text(train: Mapping[str, Any]) -> str:
    """``key=value`` pairs of the suite's training settings; a 0 that means "not set" says what it does.

    >>> _training_text({"batch_size": 32, "max_epochs": 0, "threads": 4})
    "batch_size=32, max_epochs=each method's own, threads=4"
    """
    shown = (f"{k}={_ZERO_MEANS[k] if k in _ZERO_MEANS and v == 0 else v}" for k, v in train.items())
    return ", ".join(shown) or "n/a"


def _seeds_text(seeds: Sequence[Any]) -> str:
    if not seeds:
        return "n/a"
    if len(seeds) == 1:
        return f"{seeds[0]} (one cross-validation)"
    return f"{', '.join(map(str, seeds))} ({len(seeds)} repetitions of the cross-validation)"


def _decision_text(tree: Any) -> str:
    """How probabilities became labels (``protocol.decision``; argmax in a run.json written before it existed)."""
    decision = (tree.get("protocol") or {}).get("decision", "argmax")
    if decision == "argmax":
        return "Multi-class decisions are argmax of the predicted probabilities."
    return (
        "Decisions use an operating point chosen on inner data (protocol.decision = 'inner_threshold'): the "
        "threshold on the second class's probability that maximised balanced accuracy on predictions of the "
        "cell's inner validation patients, made by a model fitted on the inner fit patients only; each cell's "
        "threshold is in its cell record and labels only that cell's predictions."
    )
