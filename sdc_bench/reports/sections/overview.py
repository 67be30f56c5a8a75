"""The report's framing sections: summary, protocol and environment of the run."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from sdc_bench.core.contracts import CONFIGURATION_COLUMNS, OOF_SPLIT
from sdc_bench.core.run_manifest import RunManifest, SearchRecord
from sdc_bench.reports.loaders import load_cells
from sdc_bench.reports.names import display_name
from sdc_bench.reports.report import Section
from sdc_bench.reports.sections.caveats import flags_paragraph, weight_sources
from sdc_bench.reports.sections.context import ReportContext
from sdc_bench.reports.style import configuration_labels

__all__ = ["environment_section", "protocol_section", "summary_section"]

CONFIG = list(CONFIGURATION_COLUMNS)


def _fmt_seconds(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or not math.isfinite(seconds):
        return "n/a"
    minutes, rest = divmod(float(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min" if hours else f"{int(minutes)} min {rest:.0f} s"


def summary_section(ctx: ReportContext) -> Section:
    """Best configuration, how many are significantly worse than the reference, what was skipped, run facts.

    Call it last: it lists the optional parts the other sections skipped.
    """
    pooled = ctx.metrics[(ctx.metrics["scope"] == "pooled") & (ctx.metrics["split"] == OOF_SPLIT)]
    configurations = list(dict.fromkeys(pooled[CONFIG].astype(str).itertuples(index=False, name=None)))
    paragraphs = _summary_paragraphs(ctx, pooled, configurations)
    return Section("Summary", paragraphs=paragraphs, facts=_summary_facts(ctx.run, len(configurations)))


def _summary_paragraphs(
    ctx: ReportContext, pooled: pd.DataFrame, configurations: list[tuple[str, ...]]
) -> list[str]:
    comparisons, skipped, reference = ctx.comparisons, ctx.skipped, ctx.reference
    ba = pooled[(pooled["metric"] == "balanced_accuracy") & (pooled["class_name"] == "overall")].dropna(
        subset=["value"]
    )
    labels = configuration_labels(configurations) if configurations else {}
    flagged = flags_paragraph(ctx.flags)
    paragraphs = [flagged] if flagged else []
    if not ba.empty:
        best = ba.iloc[int(np.argmax(ba["value"].to_numpy(dtype=float)))]
        key = tuple(str(best[c]) for c in CONFIG)
        paragraphs.append(
            f"Highest out-of-fold balanced accuracy: {display_name(labels.get(key, key[0]))} with {best['value']:.3f} "
            f"(95% CI {best['ci_low']:.3f}–{best['ci_high']:.3f}), over {int(best['n_images'])} images of "
            f"{int(best['n_patients'])} patients."
        )
    if not comparisons.empty:
        tested = comparisons[
            (comparisons["test"] == "mcnemar_exact")
            | ((comparisons["test"] == "paired_bootstrap") & (comparisons["metric"] == "balanced_accuracy"))
        ]
        worse = tested[tested["significant"] & (tested["estimate"] > 0)]
        n_compared = len(comparisons[CONFIG].drop_duplicates())
        n_worse = len(worse[CONFIG].drop_duplicates())
        paragraphs.append(
            f"{n_worse} of {n_compared} configurations compared with {display_name(reference)} are significantly worse "
            "on at least "
            "one of the McNemar (accuracy) and paired patient-bootstrap (balanced accuracy) comparisons "
            "(Holm-adjusted p < 0.05)."
        )
    if skipped:
        paragraphs.append("Skipped optional parts: " + "; ".join(skipped) + ".")
    return paragraphs


def _summary_facts(run: RunManifest, n_configurations: int) -> list[tuple[str, str]]:
    suite = run.suite
    return [
        ("Run", run.run_id),
        (
            "Suite",
            f"{suite.name}" + (f" — {suite.description}" if suite.description else ""),
        ),
        ("Status", _status_text(run)),
        ("Started / finished (UTC)", f"{run.started_utc} / {run.finished_utc or 'n/a'}"),
        ("Duration", _fmt_seconds(run.seconds)),
        ("Configurations", str(n_configurations)),
        ("Git revision", run.git_revision),
    ]


def _status_text(run: RunManifest) -> str:
    status = run.status
    if status == "running":
        return "running (run.json was not marked done when this report was built)"
    return status


def _search_text(search: SearchRecord) -> str:
    if search.n_trials == 0:
        return "none: each method's default parameters (n_trials = 0)"
    return ", ".join(f"{k}={v}" for k, v in asdict(search).items()) + " per cell, on the inner split only"


def protocol_section(ctx: ReportContext, splits: Mapping[str, Any] | None) -> Section:
    """Outer folds, protocol seeds, search, seeds, and how intervals and comparisons were made."""
    run, n_bootstrap, seed, reference = ctx.run, ctx.n_bootstrap, ctx.seed, ctx.reference
    suite = run.suite
    search = run.search
    seeds = _protocol_seeds(run, splits)
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
        f"its patient out. {tuning} Multi-class decisions are argmax of the predicted probabilities.",
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


def _protocol_seeds(run: RunManifest, splits: Mapping[str, Any] | None) -> list[Any]:
    """The run's protocol seeds (``run.json`` ``seeds``)."""
    return list(run.seeds)


def _seeds_text(seeds: Sequence[Any]) -> str:
    if not seeds:
        return "n/a"
    if len(seeds) == 1:
        return f"{seeds[0]} (one cross-validation)"
    return f"{', '.join(map(str, seeds))} ({len(seeds)} repetitions of the cross-validation)"


def environment_section(run: RunManifest) -> Section:
    """Python, platform, host, device, packages and git revision of the run."""
    environment = run.environment
    facts = [
        ("Python", environment.python),
        ("Platform", environment.platform),
        ("Host", environment.host),
        ("Device", f"{run.device} ({environment.device})"),
    ]
    for key in ("cpu_count", "torch_threads", "cuda"):
        value = getattr(environment, key)  # cuda is None on a machine without it: say so, not "None"
        facts.append((key.replace("_", " ").capitalize(), "none" if value is None else str(value)))
    packages = environment.packages
    if packages:
        facts.append(("Packages", ", ".join(f"{k} {v}" for k, v in packages.items() if v)))
    facts.append(("Git revision", run.git_revision))
    return Section("Environment", facts=facts)
