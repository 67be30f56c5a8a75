"""The report's Summary: the best configuration, how many are significantly worse than the reference, what was
skipped, and the run's facts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from sdc_bench.core.contracts import OOF_SPLIT
from sdc_bench.core.run_manifest import RunManifest
from sdc_bench.reports.document import Section
from sdc_bench.reports.names import display_name
from sdc_bench.reports.sections._context import ReportContext
from sdc_bench.reports.sections._registry import report_section
from sdc_bench.reports.sections.caveats import flags_paragraph
from sdc_bench.reports.style import configuration_labels
from sdc_bench.reports.table_format import CONFIG

__all__ = ["summary_section"]


def _fmt_seconds(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or not math.isfinite(seconds):
        return "n/a"
    minutes, rest = divmod(float(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min" if hours else f"{int(minutes)} min {rest:.0f} s"


@report_section("summary", title="Summary", order=10, built_last=True)
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
