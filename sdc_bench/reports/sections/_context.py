"""What every report section reads (:class:`ReportContext`) and the one place it writes (:class:`ReportWriter`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sdc_bench.core.run_manifest import RunManifest
from sdc_bench.core.store import RunStore
from sdc_bench.reports.document import FigureItem, TableItem
from sdc_bench.reports.flags import Flag
from sdc_bench.reports.table_render import write_table

__all__ = ["ReportContext", "ReportWriter"]


class ReportWriter:
    """Collects written paths and the report's items, so each part is one short call."""

    def __init__(self, store: RunStore, *, draw: bool) -> None:
        self.store = store
        self.draw = draw
        self.written: list[Path] = []

    def table(self, name: str, table: pd.DataFrame, caption: str) -> TableItem:
        self.written += write_table(table, self.store.tables_dir / name, caption=caption)
        return TableItem(name, caption, table)

    def figure(self, name: str, caption: str, draw: Callable[[Path], list[Path]]) -> list[FigureItem]:
        if not self.draw:
            return []
        paths = draw(self.store.figures_dir / name)
        self.written += paths
        pngs = [p for p in paths if p.suffix == ".png"]
        return [FigureItem(name, caption, pngs[0])] if pngs else []


@dataclass(frozen=True, eq=False)
class ReportContext:
    """The run's artifacts and derived tables, shared by the section functions.

    ``skipped`` collects the optional parts a section left out (and why), for the summary;
    ``small_n`` the parts drawn in their small-n form or skipped below their declared minimum
    (:func:`~sdc_bench.reports.min_n.shortfall`), for the caveats. ``rules`` holds the reference rules
    (:mod:`~sdc_bench.reports.rules`) and ``flags`` the flagged configurations (:mod:`~sdc_bench.reports.flags`).
    """

    root: Path
    run: RunManifest
    predictions: pd.DataFrame
    metrics: pd.DataFrame
    comparisons: pd.DataFrame
    reference: str
    writer: ReportWriter
    palette: Mapping[str, str]
    markers: Mapping[str, str]
    skipped: list[str]
    n_bootstrap: int
    seed: int
    rules: pd.DataFrame
    flags: list[Flag]
    small_n: list[str]
