"""Re-derives every report of a run folder from its stored artifacts (no training)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sdc_bench.benchmark.store import RunStore, write_text
from sdc_bench.errors import DataError
from sdc_bench.reports.figures import per_class_sensitivity_specificity
from sdc_bench.reports.metrics import compute_metrics
from sdc_bench.reports.tables import main_table, per_class_table, write_table

__all__ = ["build_reports", "load_predictions"]


def load_predictions(run_dir: str | Path) -> pd.DataFrame:
    path = RunStore(Path(run_dir)).predictions
    if not path.is_file():
        raise DataError(f"{path} does not exist; is {run_dir} a finished sdc-bench run folder? (resume it with --resume)")
    return pd.read_parquet(path)


def build_reports(run_dir: str | Path, *, n_bootstrap: int = 1000, seed: int = 0) -> list[Path]:
    """metrics.csv, tables/ (CSV, Markdown, LaTeX) and figures/ (PDF, PNG) of one run."""
    store = RunStore(Path(run_dir))
    predictions = load_predictions(run_dir)
    metrics = compute_metrics(predictions, n_bootstrap=n_bootstrap, seed=seed)
    write_text(store.metrics, metrics.to_csv(index=False, float_format="%.6g"))
    written = [store.metrics]
    written += write_table(
        main_table(metrics),
        store.tables_dir / "main_comparison",
        caption="Pooled out-of-fold results (95% CI: Wilson for accuracy, sensitivity and specificity; patient-level bootstrap for balanced accuracy and macro figures).",
    )
    written += write_table(per_class_table(metrics), store.tables_dir / "per_class", caption="Per-class sensitivity and specificity (Wilson 95% CI).")
    written += per_class_sensitivity_specificity(metrics, store.figures_dir / "per_class_sensitivity_specificity")
    return written
