"""The report's Confidently wrong cases section (the error gallery): each method's most confidently wrong out-of-fold cases with their Grad-CAM
overlays, or why there are none.

The overlays and ``figures/gallery/gallery.json`` are made by ``sdc_bench/serve/gallery_overlays.py`` (it loads the
kept models; this floor may not); this section only reads them and lays each method's cases out as one
figure with a caption per image (true class, predicted class, probability).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from sdc_bench.reports.document import Section
from sdc_bench.reports.names import display_name
from sdc_bench.reports.sections._context import ReportContext
from sdc_bench.reports.sections._registry import report_section
from sdc_bench.reports.style import DOUBLE_COLUMN_IN, apply_style, save_figure

__all__ = ["GALLERY_JSON_PATH", "gallery_figure", "gallery_section"]

#: Where ``sdc_bench/serve/gallery_overlays.py`` writes the gallery, relative to the run folder (a test keeps them equal).
GALLERY_JSON_PATH = Path("figures") / "gallery" / "gallery.json"
_COLUMNS = 3


def _read_gallery(root: Path) -> dict[str, Any] | None:
    path = root / GALLERY_JSON_PATH
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) else None


def _caption(case: Mapping[str, Any]) -> str:
    true, predicted = (str(case[key]).replace("_", " ") for key in ("true", "predicted"))
    return f"true: {true}\npredicted: {predicted} (p = {float(case['probability']):.2f})"


def gallery_figure(cases: Sequence[Mapping[str, Any]], root: Path, stem: str | Path) -> list[Path]:
    """One method's cases side by side (three per row), each titled with its true and predicted class."""
    apply_style()
    rows = math.ceil(len(cases) / _COLUMNS)
    columns = min(_COLUMNS, len(cases))
    width = DOUBLE_COLUMN_IN * columns / _COLUMNS
    figure, axes = plt.subplots(
        rows, columns, figsize=(width, rows * width / columns * 1.15), squeeze=False, layout="constrained"
    )
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if index >= len(cases):
            ax.set_axis_off()
            continue
        case = cases[index]
        ax.imshow(plt.imread(root / str(case["png"])))
        ax.set_title(_caption(case), fontsize=6.5)
        ax.set_xlabel(str(case["sample_id"]), fontsize=5.5)
    return save_figure(figure, stem)


def _draw(cases: Sequence[Mapping[str, Any]], root: Path, stem: Path) -> list[Path]:
    return gallery_figure(cases, root, stem)


def _cases_table(methods: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    rows = [
        {
            "Method": display_name(case["method"]),
            "Sample": case["sample_id"],
            "Outer fold": case["outer_fold"],
            "True class": case["true"],
            "Predicted class": case["predicted"],
            "Probability": f"{float(case['probability']):.3f}",
        }
        for entry in methods
        for case in entry.get("cases", [])
    ]
    return pd.DataFrame(rows)


@report_section("error_gallery", title="Confidently wrong cases", order=140)
def gallery_section(ctx: ReportContext) -> Section:
    """Each method's most confidently wrong out-of-fold cases with Grad-CAM overlays, or why there are none."""
    section = Section("Confidently wrong cases")
    record = _read_gallery(ctx.root)
    if record is None:
        section.skipped = (
            f"no readable `{GALLERY_JSON_PATH.as_posix()}` in the run folder; `sdc-bench report RUN_DIR` makes "
            "it from the run's kept models."
        )
        ctx.skipped.append(f"gallery ({GALLERY_JSON_PATH.as_posix()})")
        return section
    if record.get("reason"):
        section.skipped = f"{record['reason']}."
        ctx.skipped.append("gallery (no models to explain the predictions)")
        return section
    section.paragraphs.append(
        f"For each method, the (up to) {record.get('per_method', 6)} out-of-fold test images it got wrong with "
        "the highest probability for its wrong class, each explained by the model of the outer fold that "
        "predicted it: Grad-CAM of the predicted class on the original image (bright = evidence for that class)."
    )
    methods = [entry for entry in record.get("methods", []) if isinstance(entry, dict)]
    shown = [entry for entry in methods if entry.get("cases")]
    if shown:
        caption = "The most confidently wrong out-of-fold cases of every method."
        section.items.append(ctx.writer.table("gallery_cases", _cases_table(shown), caption))
    for entry in methods:
        method = str(entry.get("method"))
        if not entry.get("cases"):
            section.paragraphs.append(
                f"{display_name(method)}: no gallery: {entry.get('reason') or 'no cases'}."
            )
            continue
        section.items += ctx.writer.figure(
            f"gallery_{method}",
            f"{display_name(method)}: its most confidently wrong out-of-fold cases, Grad-CAM of the predicted class "
            "(title: true class, predicted class and its probability; below: the sample id).",
            partial(_draw, entry["cases"], ctx.root),
        )
        if entry.get("left_out"):
            section.paragraphs.append(f"{display_name(method)}: left out: {'; '.join(entry['left_out'])}.")
    return section
