"""The one figure style: colour-blind-safe palette, fixed method colours, journal column widths, PDF + PNG."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # reports are files; never open a window
import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.figure import Figure

__all__ = ["DOUBLE_COLUMN_IN", "SINGLE_COLUMN_IN", "apply_style", "method_palette", "save_figure"]

SINGLE_COLUMN_IN = 3.5
DOUBLE_COLUMN_IN = 7.2
# Okabe-Ito: distinguishable under the common colour-vision deficiencies
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
# fixed colours so a method looks the same in every figure of every run
_FIXED = {
    "sdc_dl": "#0072B2",
    "scratch": "#E69F00",
    "linear_probe": "#009E73",
    "finetune_noaug": "#CC79A7",
    "classical": "#56B4E9",
    "sdc_dl_no_staging": "#D55E00",
    "sdc_dl_no_aug": "#F0E442",
    "sdc_dl_no_imbalance": "#000000",
}


def apply_style() -> None:
    sns.set_theme(context="paper", style="whitegrid", font_scale=0.9)
    plt.rcParams.update(
        {
            "pdf.fonttype": 42,  # embed TrueType fonts (journals reject Type 3)
            "ps.fonttype": 42,
            "savefig.bbox": "tight",
            "savefig.pad_inches": 0.03,
            "axes.titlesize": 9,
            "axes.labelsize": 8,
            "legend.fontsize": 7,
            "xtick.labelsize": 7,
            "ytick.labelsize": 7,
        }
    )


def method_palette(methods: Iterable[str]) -> dict[str, str]:
    palette: dict[str, str] = {}
    spare = iter(c for c in OKABE_ITO if c not in _FIXED.values())
    for method in methods:
        palette[method] = _FIXED.get(method) or next(spare, "#777777")
    return palette


def save_figure(figure: Figure, path_stem: str | Path) -> list[Path]:
    """Write ``<stem>.pdf`` and ``<stem>.png`` (300 dpi) and close the figure."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, dpi in ((".pdf", "figure"), (".png", 300)):
        target = stem.with_suffix(suffix)
        figure.savefig(target, dpi=dpi)
        written.append(target)
    plt.close(figure)
    return written
