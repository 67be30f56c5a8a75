"""Paired comparisons of a run's configurations with its reference method, one family per reference.

Each backbone with a configuration of the reference method gets its own reference; the other
configurations are compared with the reference on their backbone, or with the primary one.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import pandas as pd

from sdc_bench.core.contracts import CONFIGURATION_COLUMNS, OOF_SPLIT
from sdc_bench.reports.stats import COMPARISON_COLUMNS, compare_to_reference

__all__ = ["compare_methods"]

CONFIG = list(CONFIGURATION_COLUMNS)


def _reference_plan(
    predictions: pd.DataFrame, reference: str, backbone_order: Sequence[str]
) -> list[tuple[tuple[str, ...], list[tuple[str, ...]]]]:
    """(reference configuration, configurations compared with it) pairs.

    Each backbone with a ``reference`` configuration gets its own reference (the first of
    its configurations in the predictions table); every other configuration is compared
    with the reference on its backbone, or, when its backbone has none (e.g. the classical
    baseline), with the primary reference (first backbone in ``backbone_order``).
    """
    oof = predictions[predictions["split"].astype(str) == OOF_SPLIT]
    configurations = list(dict.fromkeys(oof[CONFIG].astype(str).itertuples(index=False, name=None)))
    candidates = [c for c in configurations if c[0] == reference]
    if not candidates:
        return []
    rank = {b: i for i, b in enumerate(backbone_order)}
    candidates.sort(key=lambda c: (rank.get(c[1], len(rank)), configurations.index(c)))
    per_backbone: dict[str, tuple[str, ...]] = {}
    for candidate in candidates:
        per_backbone.setdefault(candidate[1], candidate)
    primary = candidates[0]
    plan: dict[tuple[str, ...], list[tuple[str, ...]]] = {r: [] for r in per_backbone.values()}
    for configuration in configurations:
        if configuration in plan:
            continue
        plan[per_backbone.get(configuration[1], primary)].append(configuration)
    return [(r, others) for r, others in plan.items() if others]


def compare_methods(
    predictions: pd.DataFrame,
    *,
    reference: str,
    backbone_order: Sequence[str] = (),
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired comparisons with the reference method (:func:`~sdc_bench.reports.stats.compare_to_reference`).

    A configuration is compared with the ``reference`` configuration on the same backbone
    where there is one, else with the reference on the first backbone of
    ``backbone_order``; Holm's correction runs within each reference's family. Returns an
    empty table (same columns) when there is no reference or nothing to compare.
    """
    frames = []
    # each row's configuration, once for every reference (a row-wise apply: seconds at full size)
    keys = pd.Series(list(zip(*(predictions[c].astype(str) for c in CONFIG))), index=predictions.index)
    for ref, others in _reference_plan(predictions, reference, backbone_order):
        wanted = {ref, *others}
        subset = predictions[keys.isin(wanted).to_numpy()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # configurations on other images are skipped
            frames.append(
                compare_to_reference(
                    subset,
                    reference,
                    reference_config=dict(zip(CONFIG[1:], ref[1:])),
                    n_bootstrap=n_bootstrap,
                    seed=seed,
                )
            )
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=list(COMPARISON_COLUMNS))
    return pd.concat(frames, ignore_index=True)
