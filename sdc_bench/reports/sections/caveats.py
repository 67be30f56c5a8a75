"""The report's Caveats section: what a reader must know before trusting the numbers; also the flags sentence
and the weight sources, which the summary and the protocol sections show.

The caveats come from the protocol itself (synthetic data, few outer folds, few search trials, a
single protocol seed, throughput measured under load) and from the parts the report drew in a
small-n form or skipped (:mod:`sdc_bench.reports.min_n`); the flags from :mod:`sdc_bench.reports.flags`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sdc_bench.core.contracts import parse_cell_id
from sdc_bench.core.run_manifest import RunManifest
from sdc_bench.reports.document import Section
from sdc_bench.reports.flags import FLAG_MARKS, Flag
from sdc_bench.reports.loaders import load_throughput
from sdc_bench.reports.min_n import shortfall
from sdc_bench.reports.names import display_name
from sdc_bench.reports.sections._context import ReportContext
from sdc_bench.reports.sections._registry import report_section
from sdc_bench.reports.throughput_view import LOAD_RATIO, under_load

__all__ = ["caveats_section", "flags_paragraph", "weight_sources"]


def _synthetic(run: RunManifest) -> bool:
    source = run.suite.data_source
    origin = run.data.origin
    return source == "synthspine" or origin.startswith("synthspine")


@report_section("caveats", title="Caveats", order=20, built_last=True)
def caveats_section(ctx: ReportContext) -> Section:
    """The caveats box: one sentence per protocol limit, then the parts drawn or skipped for small n.

    Built last: it lists the parts the other sections drew in a small-n form or skipped (``ctx.small_n``).
    """
    run, throughput = ctx.run, load_throughput(ctx.root)
    caveats = []
    if _synthetic(run):
        caveats.append(
            "Synthetic data (SynthSpine): the numbers test the pipeline, not clinical performance."
        )
    folds = shortfall("cross_validation", run.suite.outer_folds)
    if folds:
        caveats.append(f"Few outer folds: {folds}; fold-level spreads and tests are not reported as such.")
    n_trials = run.search.n_trials
    trials = shortfall("search", n_trials)
    if trials:
        caveats.append(
            f"Hyperparameter search: {trials} (each method ran with its default parameters)."
            if n_trials == 0
            else f"Hyperparameter search: {trials}."
        )
    seeds = run.seeds
    if len(seeds) <= 1:
        caveats.append(
            "A single protocol seed: the spread over repetitions of the cross-validation is unknown."
        )
    loaded = under_load(throughput)
    if len(loaded):
        caveats.append(
            f"Throughput measured under load ({len(loaded)} of {len(throughput)} measurements with latency "  # type: ignore[arg-type]
            f"p95 > {LOAD_RATIO:g} x p50): images/s understate an idle device."
        )
    caveats += [f"{reason[0].upper()}{reason[1:]}." for reason in ctx.small_n]
    return Section(
        "Caveats", paragraphs=caveats or ["None: the protocol meets every declared minimum."], box=True
    )


def flags_paragraph(flags: Sequence[Flag]) -> str | None:
    """The report's first sentence when a configuration is flagged (did not learn, short, unconverged)."""
    if not flags:
        return None
    parts = []
    for kind, (mark, words) in FLAG_MARKS.items():
        names = sorted(
            {display_name(f.configuration[0]) + f" / {f.configuration[1]}" for f in flags if f.kind == kind}
        )
        if names:
            parts.append(f"{mark} {words}: {', '.join(names)}")
    return "Flagged: " + "; ".join(parts) + ". Details under Training cells."


def weight_sources(run: RunManifest, cells: Sequence[Mapping[str, Any]]) -> str:
    """Weight source of each backbone and the methods that used it, from ``run.json`` (else the cell records)."""
    pairs: list[tuple[str, str, str]] = []
    for cell_id, source in (run.weights or {}).items():
        key = parse_cell_id(str(cell_id))
        if key is not None:
            pairs.append((key.backbone, str(source), key.method))
    if not pairs:
        pairs = [
            (
                str(c.get("cell", {}).get("backbone", "?")),
                str(c["weights"]),
                str(c.get("cell", {}).get("method", "?")),
            )
            for c in cells
            if c.get("weights")
        ]
    by_backbone: dict[str, dict[str, set[str]]] = {}
    for backbone, source, method in pairs:
        by_backbone.setdefault(backbone, {}).setdefault(source, set()).add(display_name(method))
    return (
        "; ".join(
            f"{backbone}: "
            + ", ".join(f"{source} ({', '.join(sorted(methods))})" for source, methods in sources.items())
            for backbone, sources in sorted(by_backbone.items())
        )
        or "not recorded"
    )
