"""The one figure style: colour-blind-safe palette, fixed method colours, journal column widths, PDF + PNG.

Every figure of the report sections (:mod:`sdc_bench.reports.sections`) draws through these helpers, so a
method has the same colour (and a backbone the same marker) in every figure of every run, text sizes match a
journal page at 100 % scale, and files are written the same way (fonts embedded as TrueType, PNG at 300 dpi,
no time stamps so two builds give the same bytes).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # reports are files; never open a window
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine
from matplotlib.transforms import Bbox

from sdc_bench.reports.names import display_name

__all__ = [
    "DOUBLE_COLUMN_IN",
    "LINESTYLES",
    "MARKERS",
    "OKABE_ITO",
    "PNG_DPI",
    "SINGLE_COLUMN_IN",
    "apply_style",
    "backbone_markers",
    "configuration_labels",
    "method_palette",
    "panel_grid",
    "save_figure",
    "wrap_label",
]

#: Width of a single journal column, inches.
SINGLE_COLUMN_IN = 3.5
#: Width of a full page (two columns), inches.
DOUBLE_COLUMN_IN = 7.2
#: Resolution of the PNG copies.
PNG_DPI = 300
#: Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies. The yellow
#: (#F0E442) is left out: it disappears on a white background.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
# Paul Tol's "muted" scheme, also colour-blind safe, for methods beyond the fixed ones.
_SPARE = ("#332288", "#44AA99", "#999933", "#AA4499", "#117733", "#CC6677", "#88CCEE", "#DDCC77")
_FALLBACK = "#777777"
# Fixed colours, so a method looks the same in every figure of every run.
_FIXED = {
    "sdc_dl": "#0072B2",
    "scratch": "#E69F00",
    "linear_probe": "#009E73",
    "finetune_noaug": "#CC79A7",
    "classical": "#56B4E9",
    "sdc_dl_no_staging": "#D55E00",
    "sdc_dl_no_aug": "#000000",
    "sdc_dl_no_imbalance": "#882255",
}
#: Markers for backbones, in first-seen order.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")
#: Line styles for backbones (or folds), in first-seen order: six, so the five outer folds of a full suite
#: never share one (long dashes, then dash-dot-dot after the four named styles).
LINESTYLES: tuple[str | tuple[int, tuple[int, ...]], ...] = (
    "-",
    "--",
    ":",
    "-.",
    (0, (6, 2)),
    (0, (3, 1, 1, 1, 1, 1)),
)


def apply_style() -> None:
    """Set the house style (seaborn ``paper`` context, embedded TrueType fonts, small text)."""
    sns.set_theme(context="paper", style="whitegrid", font_scale=0.9)
    plt.rcParams.update(
        {
            "pdf.fonttype": 42,  # embed TrueType fonts (journals reject Type 3)
            "ps.fonttype": 42,
            "svg.hashsalt": "sdc-bench",
            "savefig.bbox": "tight",
            "savefig.pad_inches": 0.03,
            "font.size": 7,
            "axes.titlesize": 8,
            "axes.labelsize": 7.5,
            "legend.fontsize": 7,
            "legend.title_fontsize": 7,
            "xtick.labelsize": 6.5,
            "ytick.labelsize": 6.5,
            "figure.titlesize": 9,
            "axes.titlepad": 4,
            "grid.linewidth": 0.5,
            "lines.linewidth": 1.2,
            "lines.markersize": 4,
            "image.cmap": "viridis",
        }
    )


def method_palette(methods: Iterable[str]) -> dict[str, str]:
    """One colour per method: fixed colours for the built-in methods, then the spare colours
    in sorted order of the remaining names (pass every method of a run, so the assignment is
    the same in all of its figures).

    Parameters
    ----------
    methods : iterable of str
        Method names.

    Returns
    -------
    dict
        Method name to hex colour.

    Examples
    --------
    >>> method_palette(["scratch", "sdc_dl"])["sdc_dl"]
    '#0072B2'
    """
    names = sorted(set(methods))
    palette = {name: _FIXED[name] for name in names if name in _FIXED}
    spare = iter([c for c in (*OKABE_ITO, *_SPARE) if c not in _FIXED.values()])
    for name in names:
        if name not in palette:
            palette[name] = next(spare, _FALLBACK)
    return palette


def backbone_markers(backbones: Iterable[str]) -> dict[str, str]:
    """One marker per backbone, in sorted order of the names."""
    names = sorted(set(backbones))
    return {name: MARKERS[index % len(MARKERS)] for index, name in enumerate(names)}


def configuration_labels(configurations: Sequence[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    """Shortest readable label of each configuration (method, backbone, augment, imbalance).

    The method's display name (:func:`~sdc_bench.reports.names.display_name`) alone when it is unique; otherwise the backbone, then the imbalance
    strategy, then the augmentation policy are appended (``" / "``-separated) until every
    label is distinct.

    Examples
    --------
    >>> configuration_labels([("a", "r18", "x", "y"), ("a", "r50", "x", "y"), ("b", "r18", "x", "y")])
    {('a', 'r18', 'x', 'y'): 'a / r18', ('a', 'r50', 'x', 'y'): 'a / r50', ('b', 'r18', 'x', 'y'): 'b / r18'}
    """
    configurations = [tuple(str(part) for part in c) for c in configurations]
    distinct = len(set(configurations))
    parts: tuple[int, ...]
    for parts in ((0,), (0, 1), (0, 3), (0, 2), (0, 1, 3), (0, 1, 2), (0, 2, 3)):
        if len({tuple(c[i] for i in parts) for c in configurations}) == distinct:
            break
    else:
        parts = tuple(range(len(configurations[0]))) if configurations else (0,)
    return {c: " / ".join(display_name(c[i]) if i == 0 else c[i] for i in parts) for c in configurations}


def wrap_label(text: str, width: int = 18) -> str:
    r"""Wrap a label at ``" / "`` first, then at ``_`` or spaces, to ``width`` characters a line.

    Examples
    --------
    >>> wrap_label("sdc_dl_no_imbalance / tf_efficientnet_lite0", 20)
    'sdc_dl_no_imbalance\n/ tf_efficientnet_\nlite0'
    """
    lines: list[str] = []
    for index, segment in enumerate(str(text).split(" / ")):
        segment = segment if index == 0 else "/ " + segment
        if lines and index > 0 and len(lines[-1]) + 1 + len(segment) <= width:
            lines[-1] = f"{lines[-1]} {segment}"
            continue
        line = ""
        for token in re.findall(r"[^_ ]+[_ ]*", segment) or [segment]:
            if line and len(line + token.rstrip()) > width:
                lines.append(line.rstrip())
                line = ""
            line += token
        lines.append(line.rstrip())
    return "\n".join(lines)


def panel_grid(
    n_panels: int,
    *,
    ncols: int = 4,
    panel_height: float = 1.75,
    width: float = DOUBLE_COLUMN_IN,
    sharex: bool = True,
    sharey: bool = True,
) -> tuple[Figure, list[Axes]]:
    """A grid of small multiples, ``ncols`` wide, unused cells removed; the used axes in order."""
    ncols = max(1, min(ncols, n_panels))
    nrows = int(np.ceil(max(n_panels, 1) / ncols))
    figure, grid = plt.subplots(
        nrows,
        ncols,
        figsize=(width, panel_height * nrows + 0.3),
        sharex=sharex,
        sharey=sharey,
        squeeze=False,
        layout="constrained",
    )
    axes = list(grid.ravel())
    for ax in axes[n_panels:]:
        ax.remove()
    used = axes[:n_panels]
    for index, ax in enumerate(used):
        below = index + ncols
        # shared axes hide inner tick labels; show them where the panel below is missing
        if sharex and below >= n_panels:
            ax.xaxis.set_tick_params(labelbottom=True)
    return figure, used


def ordered(values: Iterable[Hashable]) -> list[Hashable]:
    """Unique values in first-seen order."""
    return list(dict.fromkeys(values))


def _tight_bbox(figure: Figure) -> Bbox:
    """The figure's tight bounding box (inches) at its own dpi and at the PNG's, joined.

    Hinted text is wider at 300 dpi than at the figure's 100 (about 4% at 6 pt): a box measured at 100 dpi
    alone cut the ends of long labels that reach the figure's edge (the critical-difference diagram's)."""
    boxes = []
    own_dpi = figure.dpi
    try:
        for dpi in (own_dpi, PNG_DPI):
            figure.set_dpi(dpi)
            boxes.append(figure.get_tightbbox(figure.canvas.get_renderer()))  # type: ignore[attr-defined]
    finally:
        figure.set_dpi(own_dpi)
    return Bbox.union(boxes)


def save_figure(figure: Figure, path_stem: str | Path) -> list[Path]:
    """Write ``<stem>.pdf`` and ``<stem>.png`` (300 dpi) and close the figure.

    The layout is computed once and frozen, and both files share one tight bounding box,
    so PDF and PNG show the same thing; time stamps are left out, so the same figure gives
    the same bytes.
    """
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    engine = figure.get_layout_engine()
    if engine is not None:  # constrained layout is the slow part of a save: run it once, then freeze it
        engine.execute(figure)
        figure.set_layout_engine(PlaceHolderLayoutEngine(engine.adjust_compatible, engine.colorbar_gridspec))
    bbox = _tight_bbox(figure).padded(float(plt.rcParams["savefig.pad_inches"]))
    written = []
    for suffix, dpi, metadata in (
        (".pdf", "figure", {"CreationDate": None, "Creator": "sdc-bench", "Producer": "sdc-bench"}),
        (".png", PNG_DPI, {"Software": "sdc-bench"}),
    ):
        target = stem.with_suffix(suffix)
        figure.savefig(target, dpi=dpi, metadata=metadata, bbox_inches=bbox)
        written.append(target)
    plt.close(figure)
    return written
