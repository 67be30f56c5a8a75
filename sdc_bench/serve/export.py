"""Writes a model package from a run's kept models: an out-of-fold ensemble, or one refit model.

The members are re-saved (never copied blind): each is rebuilt from its safetensors file and written again
with :func:`sdc_bench.zoo.model_files.save_kept_model`, so a damaged kept model fails the export, not a later
prediction. ``package.json`` is written once the members are (a folder without it is not a package) and
again with the ONNX check and the throughput; ``MODEL_CARD.md`` comes last.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from sdc_bench import __version__
from sdc_bench.core.errors import ConfigError
from sdc_bench.core.run_manifest import PluginRecord
from sdc_bench.core.store import RunStore, cpu_model, git_revision, write_json, write_text
from sdc_bench.serve.card import model_card
from sdc_bench.serve.package import PACKAGE_FORMAT, PACKAGE_VERSION, input_shape, load_package
from sdc_bench.serve.select import Selection
from sdc_bench.zoo.model_files import load_kept_model, save_kept_model

__all__ = ["Refit", "export_package", "training_seen"]


@dataclass(frozen=True)
class Refit:
    """One model refit on every patient of the run (``export --refit-all``) and how its parameters were chosen."""

    model: nn.Module
    meta: dict[str, Any]


def training_seen(run_dir: Path) -> dict[str, list[str]]:
    """What the training data held according to its audit: modalities, image sizes, bit depths."""
    path = run_dir / "audit.json"
    audit = json.loads(path.read_text()) if path.is_file() else {}
    return {
        "modalities": sorted(audit.get("images_per_modality", {})),
        "image_sizes": sorted(audit.get("image_sizes", {})),
        "bit_depths": sorted(str(bits) for bits in audit.get("bit_depths", {})),
    }


def _prepare_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out} exists and is not an empty folder; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)


def _write_members(selection: Selection, store: RunStore, refit: Refit | None) -> list[dict[str, Any]]:
    if refit is not None:
        save_kept_model(store, "refit", refit.model, refit.meta)
        return [{"name": "refit", "meta": "models/refit.json", "cell_id": None}]
    members = []
    for name, meta in zip(selection.names, selection.metas, strict=True):
        model, _ = load_kept_model(selection.store.model_meta_path(meta["cell_id"]))
        kept = {k: v for k, v in meta.items() if k not in ("format", "format_version", "weights_sha256")}
        kept["source_cell_id"] = meta["cell_id"]
        save_kept_model(store, name, model, kept)
        members.append(
            {
                "name": name,
                "meta": f"models/{name}.json",
                "cell_id": meta["cell_id"],
                "outer_fold": meta["cell"]["outer_fold"],
                "repeat_seed": meta["cell"]["repeat_seed"],
            }
        )
    return members


def _cpu_images_per_s(out: Path, shape: tuple[int, ...], n_images: int = 32) -> dict[str, Any]:
    """A quick speed of the whole package (every member) on this machine's CPU, after one warm-up batch."""
    package = load_package(out)
    images = np.random.default_rng(0).integers(0, 256, (n_images, *shape), dtype=np.uint8)
    package.predict_proba(images[:4])
    started = time.perf_counter()
    package.predict_proba(images, batch_size=n_images)
    seconds = time.perf_counter() - started
    return {
        "device": "cpu",
        "cpu_model": cpu_model(),
        "batch_size": n_images,
        "images_per_s": round(n_images / seconds, 1),
    }


def _package_plugins(out: Path, plugins: Sequence[PluginRecord]) -> list[dict[str, Any]]:
    """The run's plugins as ``package.json`` keeps them: a plugin file copied into ``plugins/`` (its source
    then relative to the package, its sha256 unchanged), a module or entry point by name and version."""
    records = []
    for plugin in plugins:
        record = asdict(plugin)
        if plugin.kind == "file":
            (out / "plugins").mkdir(exist_ok=True)
            target = out / "plugins" / Path(plugin.source).name
            shutil.copyfile(plugin.source, target)
            record["source"] = f"plugins/{target.name}"
        records.append(record)
    return records


def package_decision(metas: Sequence[dict[str, Any]], names: list[str], refit: bool) -> dict[str, Any]:
    """``package.json``'s decision rule: argmax, or the mean of the exported cells' inner thresholds.

    Each cell's threshold was chosen on its own inner data (``core/decision.py``); the ensemble's mean
    probabilities, and a refit model (which has no inner data of its own), take their mean.

    >>> metas = [{"decision": {"rule": "inner_threshold", "threshold": t, "positive_class": "b"}} for t in (0.2, 0.4)]
    >>> package_decision(metas, ["fold0", "fold1"], refit=False)["threshold"]
    0.3
    >>> package_decision([{}], ["fold0"], refit=False)
    {'rule': 'argmax', 'threshold': None}
    """
    points = [meta.get("decision") or {"rule": "argmax"} for meta in metas]
    if any(p.get("threshold") is None for p in points):
        return {"rule": "argmax", "threshold": None}
    thresholds = [float(p["threshold"]) for p in points]
    decision = {
        "rule": str(points[0]["rule"]),
        "threshold": round(sum(thresholds) / len(thresholds), 12),
        "positive_class": str(points[0]["positive_class"]),
        "how": "the mean of the exported cells' thresholds, each chosen on its cell's inner data",
    }
    if not refit:
        decision["member_thresholds"] = dict(zip(names, thresholds, strict=True))
    return decision


def export_package(
    selection: Selection,
    out: str | Path,
    *,
    refit: Refit | None = None,
    onnx: bool = False,
    plugins: Sequence[PluginRecord] = (),
) -> Path:
    """Write the package folder ``out`` (see :mod:`sdc_bench.serve.package`); returns its package.json.

    ``plugins``: the run's plugins (loaded by the caller); their files travel in ``plugins/`` and
    ``package.json`` lists them, so ``predict`` loads them before it rebuilds a plugin's network.
    """
    out = Path(out)
    _prepare_out(out)
    plugin_records = _package_plugins(out, plugins)
    store = RunStore(out)
    run_dir = selection.store.root
    members = _write_members(selection, store, refit)
    first = selection.metas[0]
    info: dict[str, Any] = {
        "format": PACKAGE_FORMAT,
        "format_version": PACKAGE_VERSION,
        "kind": "refit" if refit is not None else "ensemble",
        "combine": "the single refit model"
        if refit is not None
        else "mean of the members' class probabilities",
        "method": selection.method,
        "backbone": first["backbone"],
        "classes": first["classes"],
        "input": first["input"],
        "members": members,
        "refit": refit.meta.get("refit") if refit is not None else None,
        "decision": package_decision(selection.metas, [m["name"] for m in members], refit is not None),
        "training": {
            "run_id": selection.run.run_id,
            "run_dir": str(run_dir),
            "data_fingerprint": first["provenance"]["data_fingerprint"],
            "n_images": selection.run.data.n_images,
            "n_patients": selection.run.data.n_patients,
            "seen": training_seen(run_dir),
        },
        "exported_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sdc_bench_version": __version__,
        "git_revision": git_revision(),
    }
    if plugin_records:
        info["plugins"] = plugin_records
    if (run_dir / "audit.json").is_file():
        shutil.copyfile(run_dir / "audit.json", out / "audit.json")
    write_json(out / "package.json", info)
    if onnx:
        from sdc_bench.serve.onnx_export import export_onnx

        info["onnx"] = export_onnx(load_package(out), run_dir)
    info["throughput"] = _cpu_images_per_s(out, input_shape(first["input"]))
    write_text(out / "MODEL_CARD.md", model_card(info, selection.run, run_dir))
    write_json(out / "package.json", info)
    return out / "package.json"
