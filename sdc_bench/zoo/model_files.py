"""Kept-model I/O: one trained model per cell as ``models/<cell_id>.safetensors`` plus a JSON that rebuilds it.

The JSON says everything a model needs outside the run that trained it: the backbone (registry name, timm
architecture and pretrained-config essentials, input channels, classes), the input geometry and
normalisation, the method and its selected hyperparameters, and where it came from (data fingerprint, git
revision, sdc-bench version). Loading never unpickles: weights are read with safetensors only.

Feature-kind methods (a scikit-learn classifier on hand-crafted features) are recorded with
``exportable: false`` and no weights file; export refuses them in one line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from sdc_bench.core.errors import ModelError, SdcBenchError
from sdc_bench.core.store import RunStore, read_format_json, write_bytes, write_json
from sdc_bench.zoo.backbones import BACKBONES, BuiltBackbone, create_backbone

__all__ = [
    "KEPT_MODEL_FORMAT",
    "KEPT_MODEL_VERSION",
    "backbone_record",
    "load_kept_model",
    "read_kept_meta",
    "save_kept_model",
]

KEPT_MODEL_FORMAT = "sdc-bench-kept-model"
KEPT_MODEL_VERSION = 1
# the parts of timm's pretrained_cfg that say which weights and geometry the architecture was built for
_CFG_KEYS = ("architecture", "tag", "hf_hub_id", "license", "input_size", "interpolation", "crop_pct")


def _plain(value: Any) -> Any:
    """JSON-ready: tuples become lists, everything else stays as it is."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _size(value: Any) -> int | tuple[int, int] | None:
    """A stored input size: JSON keeps (H, W) as a list."""
    return (int(value[0]), int(value[1])) if isinstance(value, list) else value


def backbone_record(built: BuiltBackbone, img_size: int | tuple[int, int] | None) -> dict[str, Any]:
    """The ``backbone`` block of a kept model's JSON, from the model that was trained."""
    cfg = dict(getattr(built.model, "pretrained_cfg", {}) or {})
    return {
        "name": built.spec.name,
        "timm_name": built.spec.timm_name,
        "family": built.spec.family,
        "in_chans": built.in_chans,
        "num_classes": built.num_classes,
        # only fixed-size architectures (ViTs) take the input size as a build argument
        "img_size": (list(img_size) if isinstance(img_size, tuple) else img_size)
        if built.spec.fixed_size
        else None,
        "weights_source": built.weights_source,
        "weights_location": built.weights_location,
        "weights_license": str(cfg.get("license") or built.spec.weights_license),
        "pretrained_cfg": {key: _plain(cfg[key]) for key in _CFG_KEYS if key in cfg},
    }


def save_kept_model(store: RunStore, cell_id: str, model: nn.Module | None, meta: Mapping[str, Any]) -> Path:
    """Write a cell's model (weights first, then the JSON that names their digest), each atomically.

    ``model=None`` records a model that cannot be exported (``meta`` says why). Returns the JSON's path.
    """
    from safetensors.torch import save

    record: dict[str, Any] = {"format": KEPT_MODEL_FORMAT, "format_version": KEPT_MODEL_VERSION}
    record.update(meta)
    record["cell_id"] = cell_id
    if model is not None:
        state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
        data = save(state, metadata={"format": KEPT_MODEL_FORMAT, "cell_id": cell_id})
        write_bytes(store.model_weights_path(cell_id), data)
        record.update(
            exportable=True,
            weights_file=store.model_weights_path(cell_id).name,
            weights_sha256=hashlib.sha256(data).hexdigest(),
        )
    else:
        record.setdefault("exportable", False)
        record["weights_file"] = None
    path = store.model_meta_path(cell_id)
    write_json(path, record)
    return path


def read_kept_meta(path: str | Path) -> dict[str, Any]:
    """Read and check a kept model's JSON; a missing, damaged or foreign file is a :class:`ModelError`."""
    return read_format_json(
        path,
        KEPT_MODEL_FORMAT,
        KEPT_MODEL_VERSION,
        "kept-model JSON",
        "export the run again or restore the file",
    )


def _read_weights(path: Path, sha256: str | None) -> dict[str, Any]:
    from safetensors.torch import load

    if not path.is_file():
        raise ModelError(f"{path}: kept-model weights are missing; export the run again or restore the file")
    data = path.read_bytes()
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        raise ModelError(f"{path}: weights do not match the sha256 in their JSON (damaged or replaced file)")
    try:
        return dict(load(data))
    except Exception as error:  # safetensors raises its own error types for damaged headers and data
        raise ModelError(f"{path}: unreadable safetensors file ({str(error).splitlines()[0]})") from None


def load_kept_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a kept model from its JSON and safetensors weights; returns (model in eval mode, meta)."""
    path = Path(path)
    meta = read_kept_meta(path)
    if not meta.get("exportable") or not meta.get("weights_file"):
        raise ModelError(
            f"{path}: method {meta.get('method', {}).get('name')!r} is not exportable "
            f"({meta.get('not_exportable_reason', 'no weights')})"
        )
    backbone = meta["backbone"]
    try:
        BACKBONES.get(backbone["name"])
        built = create_backbone(
            backbone["name"],
            num_classes=int(backbone["num_classes"]),
            in_chans=int(backbone["in_chans"]),
            pretrained=False,
            img_size=_size(backbone.get("img_size")),
        )
    except (KeyError, TypeError, ValueError, SdcBenchError) as error:
        raise ModelError(f"{path}: cannot rebuild the backbone ({str(error).splitlines()[0]})") from None
    state = _read_weights(path.parent / str(meta["weights_file"]), meta.get("weights_sha256"))
    try:
        built.model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelError(
            f"{path}: weights do not fit backbone {backbone['name']!r} ({str(error).splitlines()[0]})"
        ) from None
    built.model.eval()
    return built.model, meta
