"""Does pruning pay? The quick suite's search for SDC-DL on one outer fold, with and without Hyperband.

Run: ``pytest benchmarks/bench_pruning.py --benchmark-only -s`` on an otherwise idle machine. Reports the
total epochs trained by all trials and the best inner-validation balanced accuracy for each pruner; the
ratio of epochs is the saving. (8 trials instead of the suite's 3 give the pruner something to prune.)
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sdc_bench.benchmark.cell import CellContext, run_cell
from sdc_bench.benchmark.plan import plan_cells
from sdc_bench.benchmark.suite import apply_overrides, load_suite
from sdc_bench.core.determinism import deterministic
from sdc_bench.core.optuna_storage import storage_url
from sdc_bench.data.prepare import prepare_data
from sdc_bench.data.splits import outer_folds

N_TRIALS = 8
_results: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="module")
def prepared() -> tuple[Any, Any, list[Any]]:
    suite = apply_overrides(
        load_suite("quick"),
        ["methods=['sdc_dl']", f"search.n_trials={N_TRIALS}", "search.n_startup_trials=3"],
    )
    data = prepare_data(suite.data, seed=suite.seed, progress=False)
    folds = outer_folds(data.manifest, suite.protocol.outer_folds, suite.seed)
    return suite, data, folds


@pytest.mark.parametrize("pruner", ["none", "hyperband"])
def test_search_with_and_without_pruning(
    benchmark: Any, prepared: tuple[Any, Any, list[Any]], pruner: str, tmp_path: Path
) -> None:
    suite, data, folds = prepared
    suite = replace(suite, search=replace(suite.search, pruner=pruner))
    cell = plan_cells(suite, len(folds))[0]
    ctx = CellContext(
        suite=suite,
        data=data,
        folds=folds,
        run_id=f"prune-{pruner}",
        device="cpu",
        storage_url=storage_url(None, tmp_path),
    )

    def search_cell() -> dict[str, Any]:
        with deterministic(True):
            return run_cell(cell, ctx)[1]["search"]

    info = benchmark.pedantic(search_cell, rounds=1, iterations=1)
    _results[pruner] = {**info, "seconds": benchmark.stats.stats.median}
    benchmark.extra_info.update(
        epochs_trained=info["epochs_trained"],
        best_inner_balanced_accuracy=info["best_value"],
        pruned=info["n_pruned"],
    )
    print(
        f"\n{pruner}: {info['epochs_trained']} epochs over {info['n_trials']} trials ({info['n_pruned']} pruned), best inner balanced accuracy {info['best_value']:.3f}, {benchmark.stats.stats.median:.0f}s"
    )
    if len(_results) == 2:
        ratio = _results["none"]["epochs_trained"] / _results["hyperband"]["epochs_trained"]
        print(
            f"pruning trains {ratio:.2f}x fewer epochs; best score {_results['hyperband']['best_value']:.3f} vs {_results['none']['best_value']:.3f} without pruning"
        )
