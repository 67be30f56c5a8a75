"""Backbone factory: builds a registered timm architecture, loads its weights and adapts it.

The registry and its metadata (:data:`BACKBONES`, :class:`BackboneSpec`) live in the torch-free
:mod:`sdc_bench.zoo.backbones.specs`; adding a backbone is one line there. Other packages import both
modules' names from the face, :mod:`sdc_bench.zoo.backbones`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import timm
import torch
from timm.models import adapt_input_conv
from torch import nn

from sdc_bench.core.errors import ConfigError, WeightsError
from sdc_bench.zoo.backbones.specs import BACKBONES, BackboneSpec
from sdc_bench.zoo.weights import (
    ResolvedWeights,
    WeightsFile,
    available_sources,
    fit_state_dict,
    hub_reachable,
    load_state_dict_file,
    resolve_weights,
    weights_dir_path,
)

__all__ = [
    "NO_WEIGHTS",
    "BuiltBackbone",
    "check_weight_sources",
    "count_gflops",
    "count_params",
    "create_backbone",
    "missing_weights_error",
    "plan_weight_sources",
]

NO_WEIGHTS = "none"  # a pretrained backbone with no source now: the run would fail mid-way


@dataclass
class BuiltBackbone:
    """A ready model plus how it was made (recorded in the run manifest)."""

    model: nn.Module
    spec: BackboneSpec
    in_chans: int
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    weights_source: str  # 'random' | 'file' | 'dir' | 'package' | 'hub'
    weights_location: str = ""


def create_backbone(
    name: str,
    *,
    num_classes: int,
    in_chans: int = 1,
    pretrained: bool = False,
    img_size: int | tuple[int, int] | None = None,
    weights_file: str | Path | None = None,
    weights_sha256: str | None = None,
    weights_dir: str | Path | None = None,
    weights_files: Sequence[WeightsFile] = (),
    allow_hub: bool = True,
    drop_rate: float = 0.0,
    grey_channels: bool = False,
) -> BuiltBackbone:
    """Build a classifier from a registered backbone.

    With ``pretrained=True`` the ImageNet weights are resolved (see :mod:`sdc_bench.zoo.weights` for the
    order), loaded into the unmodified 3-channel/1000-class model, then the first convolution is adapted
    to ``in_chans`` (summed over RGB for 1 channel) and the classifier is re-initialised for
    ``num_classes``. ``weights_files`` are the run's ``--weights-file`` entries; the one naming this
    backbone (if any) comes first, as ``weights_file`` does.

    ``in_chans`` may be any count: K slices stacked as channels (2.5D) get a first convolution adapted
    the timm way (RGB weights summed for 1, repeated and rescaled for K) and, with ``grey_channels``,
    the grey mean/std repeated per channel. ``img_size`` is one side or ``(rows, columns)``; CNNs take
    any size, ViT-style backbones (``fixed_size``) are built for it (timm ``img_size``).
    """
    if num_classes < 2:
        raise ConfigError(f"num_classes must be at least 2, got {num_classes}")
    if isinstance(in_chans, bool) or not isinstance(in_chans, int) or in_chans < 1:
        raise ConfigError(f"in_chans must be a positive integer (1 grey, 3 RGB, K slices), got {in_chans!r}")
    spec = BACKBONES.get(name)
    if spec.factory is not None:
        return _from_factory(spec, num_classes, in_chans, pretrained, img_size, grey_channels)
    kwargs: dict[str, Any] = {"drop_rate": drop_rate}
    if spec.fixed_size and img_size is not None:
        kwargs["img_size"] = img_size if isinstance(img_size, int) else tuple(img_size)
    mean, std = spec.channel_stats(in_chans, grey_channels=grey_channels)
    if not pretrained:
        model = timm.create_model(
            spec.timm_name, pretrained=False, num_classes=num_classes, in_chans=in_chans, **kwargs
        )
        return BuiltBackbone(model, spec, in_chans, num_classes, mean, std, "random")

    model = timm.create_model(spec.timm_name, pretrained=False, **kwargs)
    chosen = next((f for f in weights_files if f.backbone == spec.name), None)
    if chosen is not None and weights_file is None:
        weights_file, weights_sha256 = chosen.path, chosen.sha256
    resolved: ResolvedWeights = resolve_weights(
        spec.name,
        spec.timm_name,
        model.state_dict(),
        spec.packages,
        weights_file=weights_file,
        sha256=weights_sha256,
        weights_dir=weights_dir,
        allow_hub=allow_hub,
        classifier=_classifier_names(model),
    )
    model.load_state_dict(resolved.state_dict, strict=True)
    if in_chans != 3:
        _adapt_stem(model, in_chans)
    if num_classes != model.num_classes:  # type: ignore[attr-defined]
        model.reset_classifier(num_classes)  # type: ignore[operator]
    return BuiltBackbone(model, spec, in_chans, num_classes, mean, std, resolved.source, resolved.location)


def _from_factory(
    spec: BackboneSpec,
    num_classes: int,
    in_chans: int,
    pretrained: bool,
    img_size: int | tuple[int, int] | None,
    grey_channels: bool,
) -> BuiltBackbone:
    """A plugin backbone: its factory's network (contract: :class:`BackboneSpec`), never pretrained."""
    if pretrained:
        raise missing_weights_error(spec.name)
    assert spec.factory is not None
    size = spec.default_size if img_size is None else img_size
    model = spec.factory(num_classes=num_classes, in_chans=in_chans, img_size=size)
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"backbone {spec.name!r}: its factory returned {type(model).__name__}, not a torch.nn.Module; "
            "return the network"
        )
    mean, std = spec.channel_stats(in_chans, grey_channels=grey_channels)
    return BuiltBackbone(model, spec, in_chans, num_classes, mean, std, "random")


def _classifier_names(model: nn.Module) -> tuple[str, ...]:
    names = dict(getattr(model, "pretrained_cfg", {})).get("classifier", ())
    return (names,) if isinstance(names, str) else tuple(names)


def check_weight_sources(
    weights_files: Sequence[WeightsFile], weights_dir: str | Path | None = None
) -> tuple[WeightsFile, ...]:
    """Check a run's weight options before any work: the folder exists, and each file names a registered
    backbone (once), exists, passes its sha256 check and fits the backbone (its classifier may differ)."""
    weights_dir_path(weights_dir)
    seen: set[str] = set()
    for entry in weights_files:
        spec = BACKBONES.get(entry.backbone)
        if spec.name in seen:
            raise ConfigError(
                f"--weights-file names backbone {spec.name!r} twice; give one file per backbone"
            )
        seen.add(spec.name)
        state = load_state_dict_file(entry.path, sha256=entry.sha256)
        model = timm.create_model(spec.timm_name, pretrained=False)
        where = f"weights file {entry.path} for backbone {spec.name!r}"
        fit_state_dict(state, model.state_dict(), where, _classifier_names(model))
    return tuple(weights_files)


def plan_weight_sources(
    pretrained: Mapping[str, bool],
    weights_files: Sequence[WeightsFile] = (),
    weights_dir: str | Path | None = None,
    *,
    hub: Callable[[], bool] | None = None,
) -> dict[str, str]:
    """Where each backbone's weights would come from now: file, dir, package, hub, random or ``none``.

    ``pretrained`` maps a backbone to whether any method of the run starts it from ImageNet weights; the
    order is :func:`~sdc_bench.zoo.weights.resolve_weights`'s. ``hub`` (default
    :func:`~sdc_bench.zoo.weights.hub_reachable`) is asked at most once, and only for a backbone no
    local source serves (it may wait on the network).
    """
    named = {entry.backbone for entry in weights_files}
    reachable: bool | None = None
    plan: dict[str, str] = {}
    for name, wants in pretrained.items():
        spec = BACKBONES.get(name)
        if spec.factory is not None:
            plan[spec.name] = NO_WEIGHTS if wants else "random"
            continue
        local = ["file"] if spec.name in named else []
        local += available_sources(spec.name, spec.packages, weights_dir=weights_dir)
        if not wants:
            plan[spec.name] = "random"
        elif local:
            plan[spec.name] = local[0]
        else:
            reachable = (hub or hub_reachable)() if reachable is None else reachable
            plan[spec.name] = "hub" if reachable else NO_WEIGHTS
    return plan


def missing_weights_error(backbone: str) -> WeightsError:
    """The one line a run stops with, before any training, when a pretrained backbone has no weights."""
    spec = BACKBONES.get(backbone)
    if spec.factory is not None:
        return WeightsError(
            f"{spec.name}: a plugin backbone built by its factory has no ImageNet weights; run it with a "
            "method that trains from scratch (pretrained = false, e.g. scratch)"
        )
    package = f", no installed {spec.packages[0].distribution}" if spec.packages else ", no installed package"
    return WeightsError(
        f"{spec.name}: no pretrained weights offline (no --weights-file, no file in --weights-dir{package}); "
        f"fetch them with `sdc-bench weights fetch --backbones {spec.name} --out DIR` on a machine with "
        "internet and pass --weights-dir DIR"
    )


def _adapt_stem(model: nn.Module, in_chans: int) -> None:
    cfg: dict[str, Any] = dict(getattr(model, "pretrained_cfg", {}))
    first_conv = cfg.get("first_conv", "")
    name = str(first_conv[0] if isinstance(first_conv, (list, tuple)) else first_conv)
    conv = model.get_submodule(name)
    if not isinstance(conv, nn.Conv2d):
        raise ConfigError(f"cannot adapt the stem {name!r} of {type(model).__name__} to {in_chans} channels")
    with torch.no_grad():
        weight = adapt_input_conv(in_chans, conv.weight)
    conv.weight = nn.Parameter(weight)
    conv.in_channels = in_chans
    if "input_size" in cfg:
        cfg["input_size"] = (in_chans, *cfg["input_size"][1:])
        model.pretrained_cfg = cfg  # type: ignore[assignment]


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_gflops(model: nn.Module, in_chans: int, size: int | tuple[int, int]) -> float:
    """Forward GFLOPs for one image (multiply-add counted as 2 FLOPs), measured by torch's flop counter.

    ``size`` is one side (a square) or ``(rows, columns)``.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        rows, columns = (size, size) if isinstance(size, int) else size
        model(torch.zeros(1, in_chans, rows, columns, device=next(model.parameters()).device))
    model.train(was_training)
    return counter.get_total_flops() / 1e9
