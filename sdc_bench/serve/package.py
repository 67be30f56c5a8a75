"""An exported model package: ``package.json`` + member models + model card, and its loaded form.

Layout of a package folder (``sdc-bench export`` writes it, ``sdc-bench predict`` reads it)::

    package.json             format, kind (ensemble | refit), classes, preprocessing, members, decision rule,
                             training audit
    members/<name>.json      each member's kept-model JSON (see sdc_bench.zoo.model_files)
    members/<name>.safetensors
    members/<name>.onnx      with --onnx only
    audit.json               the training data's audit (copied from the run)
    plugins/<file>.py        the run's plugin files, when it used any (``package.json`` ``plugins``)
    MODEL_CARD.md

An ensemble averages its members' class probabilities; a refit package has one member. ``decision`` (format
version 2) says how probabilities become the predicted class: ``argmax``, or ``inner_threshold`` with the
threshold on the positive class's probability (the mean of the members' thresholds, each chosen on its
cell's inner data; ``member_thresholds`` keeps each, used by ``predict --member``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sdc_bench.core.decision import OperatingPoint, apply_decision
from sdc_bench.core.errors import ModelError
from sdc_bench.core.run_manifest import PluginRecord
from sdc_bench.core.store import read_format_json
from sdc_bench.data.decode import Preprocess
from sdc_bench.zoo.augment import normalize, to_float
from sdc_bench.zoo.model_files import load_kept_model

__all__ = [
    "PACKAGE_FORMAT",
    "PACKAGE_VERSION",
    "Member",
    "ModelPackage",
    "as_batch",
    "input_preprocess",
    "input_shape",
    "load_package",
    "member_proba",
    "package_plugins",
]

PACKAGE_FORMAT = "sdc-bench-model-package"
PACKAGE_VERSION = 2  # 2: package.json has 'decision'


@dataclass(frozen=True)
class Member:
    """One model of a package: its name (``fold0``, ``seed1-fold0``, ``refit``) and the rebuilt network."""

    name: str
    model: nn.Module
    meta: dict[str, Any]


@dataclass(frozen=True)
class ModelPackage:
    """A loaded package: members, classes, and the preprocessing every input must go through."""

    root: Path
    info: dict[str, Any]
    members: tuple[Member, ...]

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.info["classes"])

    @property
    def preprocess(self) -> Preprocess:
        return input_preprocess(self.info["input"])

    def decision(self, member: str | None = None) -> OperatingPoint:
        """The rule that labels this package's probabilities (``member``: that member's own threshold)."""
        record = dict(self.info["decision"])
        thresholds = record.pop("member_thresholds", None) or {}
        if member is not None and member in thresholds:
            record["threshold"] = thresholds[member]
        known = {f.name for f in fields(OperatingPoint)}
        return OperatingPoint(**{k: v for k, v in record.items() if k in known})

    def predicted(self, proba: np.ndarray, member: str | None = None) -> np.ndarray:
        """Class names of probabilities ``proba`` under the package's stored decision rule."""
        return apply_decision(proba, self.classes, self.decision(member))

    def member(self, name: str) -> Member:
        for member in self.members:
            if member.name == name:
                return member
        names = ", ".join(m.name for m in self.members)
        raise ModelError(f"{self.root}: no member {name!r} in this package; members: {names}")

    def predict_proba(
        self, images: np.ndarray, *, member: str | None = None, batch_size: int = 128, device: str = "cpu"
    ) -> np.ndarray:
        """Class probabilities (N, classes) of uint8 inputs (:func:`input_shape` each): one member's, or the mean."""
        chosen = [self.member(member)] if member is not None else list(self.members)
        mean, std = self.info["input"]["mean"], self.info["input"]["std"]
        total = sum(member_proba(m.model, images, mean, std, batch_size, device) for m in chosen)
        proba = np.asarray(total) / len(chosen)
        return proba / proba.sum(axis=1, keepdims=True) if len(proba) else proba


def input_preprocess(spec: dict[str, Any]) -> Preprocess:
    """The :class:`Preprocess` of a kept model's ``input`` block (a list size is (rows, columns))."""
    size = spec["size"]
    return Preprocess(
        size=(int(size[0]), int(size[1])) if isinstance(size, list) else int(size),
        resize=str(spec["resize"]),
        frame=str(spec["frame"]),
        nifti_slices=str(spec["nifti_slices"]),
        slices=int(spec.get("slices", 1)),
    )


def input_shape(spec: dict[str, Any]) -> tuple[int, ...]:
    """The shape of one model input as the package takes it: (H, W) for one image, (K, H, W) for K slices."""
    size = input_preprocess(spec).size
    rows, columns = (size, size) if isinstance(size, int) else size
    slices = int(spec.get("slices", 1))
    return (rows, columns) if slices == 1 else (slices, rows, columns)


def as_batch(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) or (N, K, H, W) -> a (N, K, H, W) tensor (one image is one channel)."""
    batch = torch.from_numpy(np.ascontiguousarray(images))
    return batch.unsqueeze(1) if batch.ndim == 3 else batch


def member_proba(
    model: nn.Module, images: np.ndarray, mean: Any, std: Any, batch_size: int = 128, device: str = "cpu"
) -> np.ndarray:
    """One model's probabilities, computed exactly as the fit loop's ``predict_proba`` (fp32, softmax, float64)."""
    dev = torch.device(device)
    model.to(dev).eval()
    out: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = as_batch(images[start : start + batch_size])
            x = normalize(to_float(batch.to(dev)), mean, std)
            out.append(torch.softmax(model(x).float(), dim=1).double().cpu().numpy())
    if not out:
        return np.zeros((0, 0))
    proba = np.concatenate(out)
    return proba / proba.sum(axis=1, keepdims=True)


def _read_info(root: Path) -> dict[str, Any]:
    if not root.is_dir():
        raise ModelError(f"{root}: model folder does not exist; give a folder written by `sdc-bench export`")
    info = read_format_json(
        root / "package.json",
        PACKAGE_FORMAT,
        PACKAGE_VERSION,
        "model package",
        "give a folder written by `sdc-bench export`, or export the model again",
    )
    if not isinstance(info.get("decision"), dict) or "rule" not in info["decision"]:
        raise ModelError(f"{root / 'package.json'}: no decision rule; export the model again")
    if not info.get("members"):
        raise ModelError(f"{root / 'package.json'}: the package lists no members; export the model again")
    return info


def _check_input(root: Path, member: str, package_input: Any, model_input: Any) -> None:
    """The package's ``input`` block must be the one its model was trained with: an edit is refused."""
    if json.dumps(package_input, sort_keys=True) == json.dumps(model_input, sort_keys=True):
        return
    package_input, model_input = package_input or {}, model_input or {}
    keys = sorted(set(package_input) | set(model_input))
    key = next(k for k in keys if package_input.get(k) != model_input.get(k))
    raise ModelError(
        f"{root / 'package.json'}: input.{key} is {package_input.get(key)!r}, but the model {member} was "
        f"trained with {model_input.get(key)!r}; package.json was edited: restore it, or export the model again"
    )


def load_package(root: str | Path) -> ModelPackage:
    """Load a package folder; a missing, damaged or foreign file is a one-line :class:`ModelError`."""
    root = Path(root)
    info = _read_info(root)
    members = []
    for entry in info["members"]:
        model, meta = load_kept_model(root / str(entry["meta"]))
        if list(meta.get("classes", [])) != list(info["classes"]):
            raise ModelError(f"{root / entry['meta']}: its classes differ from package.json's; export again")
        _check_input(root, str(entry["meta"]), info.get("input"), meta.get("input"))
        members.append(Member(str(entry["name"]), model, meta))
    return ModelPackage(root, info, tuple(members))


def package_plugins(root: str | Path) -> tuple[PluginRecord, ...]:
    """The plugins a package needs before its networks can be rebuilt (``package.json`` ``plugins``), a
    plugin file's source made absolute inside the package; the caller loads them."""
    root = Path(root)
    records = []
    for item in _read_info(root).get("plugins", []):
        source = str(root / item["source"]) if item["kind"] == "file" else item["source"]
        registered = {key: tuple(names) for key, names in item["registered"].items()}
        records.append(PluginRecord(item["kind"], source, item["sha256"], item["version"], registered))
    return tuple(records)
