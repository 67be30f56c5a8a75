"""Keeps the final model of a cell in the run folder (``models/<cell_id>.*``), with what rebuilds it.

Called by :func:`sdc_bench.benchmark.cell.run_cell` before the cell's result files are written, so a cell
that counts as done on ``--resume`` always has its model beside it. The I/O itself is
:mod:`sdc_bench.zoo.model_files`; this module only gathers the cell's facts (method, parameters, data, inputs).
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

from sdc_bench import __version__
from sdc_bench.core.store import RunStore, git_revision
from sdc_bench.zoo.methods import METHODS
from sdc_bench.zoo.model_files import backbone_record, save_kept_model

if TYPE_CHECKING:
    from sdc_bench.benchmark.cell import CellContext
    from sdc_bench.benchmark.kinds import Fitted
    from sdc_bench.benchmark.plan import Cell

__all__ = ["keep_cell_model"]


@functools.cache
def _revision() -> str:
    return git_revision()


def keep_cell_model(
    store: RunStore | None, ctx: CellContext, cell: Cell, fitted: Fitted, info: dict[str, Any]
) -> None:
    """Save the model behind ``fitted`` (a CNN fit carries ``built``; feature models do not).

    ``store`` None (``run --no-models``) keeps nothing.
    """
    if store is None:
        return
    method = METHODS.get(cell.method)
    data = ctx.data
    built = fitted.built
    meta: dict[str, Any] = {
        "kind": method.kind,
        "classes": list(data.classes),
        "input": {
            # (rows, columns) as a list for a rectangle; slices = input channels of a 2.5D input
            "size": list(data.preprocess.size)
            if isinstance(data.preprocess.size, tuple)
            else data.preprocess.size,
            "size_hw": list(data.preprocess.hw),
            "slices": data.preprocess.slices,
            "resize": data.preprocess.resize,
            "frame": data.preprocess.frame,
            "nifti_slices": data.preprocess.nifti_slices,
            "scale": "uint8 / 255",
            "mean": list(built.mean) if built is not None else None,
            "std": list(built.std) if built is not None else None,
        },
        "method": {
            "name": method.name,
            "augment": cell.augment,
            "imbalance": cell.imbalance,
            "params": info["params"],
            "best_epoch": info["best_epoch"],
            "epochs_trained": info["epochs_trained"],
            "searched_params": info["search"].get("best_params") if info["search"] else None,
        },
        "cell": {"outer_fold": cell.outer_fold, "repeat_seed": cell.repeat_seed, "seed": cell.seed},
        # how the model's probabilities become a label (a threshold chosen on this cell's inner data)
        "decision": {k: v for k, v in info["decision"].items() if k != "inner_sample_ids"},
        "provenance": {
            "run_id": ctx.run_id,
            "data_fingerprint": data.fingerprint,
            "git_revision": _revision(),
            "sdc_bench_version": __version__,
            "saved_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }
    if built is None:
        meta["exportable"] = False
        meta["not_exportable_reason"] = (
            f"{method.kind}-kind methods (a scikit-learn classifier on hand-crafted features) are not kept "
            "as weights; export a CNN method"
        )
        meta["backbone"] = {"name": cell.backbone}
        save_kept_model(store, cell.cell_id, None, meta)
        return
    meta["backbone"] = backbone_record(built, ctx.data.preprocess.size)
    save_kept_model(store, cell.cell_id, built.model, meta)
