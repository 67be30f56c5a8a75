"""A folder of pretrained weights made on a machine with internet, for runs on one without.

``fetch_weights`` downloads each backbone's ImageNet weights through timm's hub download and writes
``<backbone>.safetensors`` (timm's key names, the unmodified 3-channel/1000-class model) plus an index
``weights.json`` holding each file's sha256, source and licence. ``check_weights`` reads such a folder
offline: every file loads with safetensors, fits its backbone, and matches its digest. Such a folder is
what ``--weights-dir`` and ``$SDC_BENCH_WEIGHTS_DIR`` take.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from sdc_bench.core.errors import SdcBenchError, WeightsError
from sdc_bench.zoo.backbones import BACKBONES
from sdc_bench.zoo.weights import file_sha256, fit_state_dict, hub_reachable, load_state_dict_file

__all__ = ["WEIGHTS_INDEX", "FolderCheck", "check_weights", "fetch_weights"]

WEIGHTS_INDEX = "weights.json"
_SUFFIXES = (".safetensors", ".pth", ".pt")


@dataclass(frozen=True)
class FolderCheck:
    """One file of a weights folder as ``check_weights`` found it; ``problem`` is empty when it is good."""

    backbone: str
    file: str
    size_mb: float
    sha256: str
    source: str
    problem: str = ""


def _read_index(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / WEIGHTS_INDEX
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text())["files"]
        return {str(entry["file"]): dict(entry) for entry in entries}
    except (ValueError, KeyError, TypeError) as exc:
        raise WeightsError(
            f"{path} is not a weights index ({exc.__class__.__name__}); delete it and fetch again"
        ) from None


def _download(timm_name: str) -> torch.nn.Module:  # the hub download; tests replace timm.create_model
    timm = importlib.import_module("timm")
    model: torch.nn.Module = timm.create_model(timm_name, pretrained=True)
    return model


def fetch_weights(backbones: Sequence[str], out: str | Path) -> list[dict[str, Any]]:
    """Download ImageNet weights for ``backbones`` into ``out``; returns the index entries written.

    Entries already in ``out/weights.json`` for other backbones are kept. Needs the hub.
    """
    from safetensors.torch import save_file

    specs = [BACKBONES.get(name) for name in backbones]  # every name checked before any download
    if not hub_reachable():
        raise WeightsError(
            "weights fetch needs the Hugging Face hub, which is unreachable (or HF_HUB_OFFLINE is set); "
            "run it on a machine with internet and copy the folder"
        )
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    index = _read_index(folder)
    written = []
    for spec in specs:
        model = _download(spec.timm_name)
        path = folder / f"{spec.name}.safetensors"
        # clones: safetensors refuses tensors that share storage (tied weights)
        save_file({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, str(path))
        cfg = dict(getattr(model, "pretrained_cfg", {}) or {})
        entry = {
            "backbone": spec.name,
            "file": path.name,
            "sha256": file_sha256(path),
            "source": f"hf-hub:{cfg['hf_hub_id']}" if cfg.get("hf_hub_id") else f"timm:{spec.timm_name}",
            "license": str(cfg.get("license") or spec.weights_license),
            "timm_name": spec.timm_name,
        }
        index[path.name] = entry
        written.append(entry)
    text = json.dumps({"files": [index[name] for name in sorted(index)]}, indent=2) + "\n"
    (folder / WEIGHTS_INDEX).write_text(text)
    return written


def _check_file(path: Path, entry: dict[str, Any] | None) -> FolderCheck:
    digest = file_sha256(path)
    row = FolderCheck(
        path.stem,
        path.name,
        round(path.stat().st_size / 1e6, 1),
        digest[:12],
        str((entry or {}).get("source", "")),
    )

    def bad(problem: str) -> FolderCheck:
        return FolderCheck(**{**asdict(row), "problem": problem})

    if entry is None:
        return bad(f"not listed in {WEIGHTS_INDEX}")
    if str(entry.get("sha256", "")).lower() != digest:
        return bad(f"sha256 {digest} differs from {WEIGHTS_INDEX}'s {entry.get('sha256')}; fetch it again")
    try:
        spec = BACKBONES.get(path.stem)
        state = load_state_dict_file(path)
        timm = importlib.import_module("timm")
        with torch.device("meta"):  # shapes only
            model = timm.create_model(spec.timm_name, pretrained=False)
        names = dict(getattr(model, "pretrained_cfg", {})).get("classifier", ())
        head = (names,) if isinstance(names, str) else tuple(names)
        fit_state_dict(state, model.state_dict(), f"{path.name}", head)
    except SdcBenchError as exc:
        return bad(str(exc))
    return row


def check_weights(folder: str | Path) -> list[FolderCheck]:
    """Every weights file of ``folder`` (and every file its index names), checked offline."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsError(f"{folder}: no such folder; pass the folder `sdc-bench weights fetch --out` wrote")
    index = _read_index(folder)
    if not index:
        raise WeightsError(
            f"{folder}: no {WEIGHTS_INDEX}; it is written by `sdc-bench weights fetch --out {folder}`"
        )
    files = sorted({p.name for p in folder.iterdir() if p.suffix in _SUFFIXES} | set(index))
    rows = []
    for name in files:
        path = folder / name
        if path.is_file():
            rows.append(_check_file(path, index.get(name)))
        else:
            rows.append(
                FolderCheck(Path(name).stem, name, 0.0, "", "", f"listed in {WEIGHTS_INDEX} but missing")
            )
    return rows
