"""An sdc-bench plugin: a small MobileNetV3 trained from scratch, a recipe a reviewer would ask SDC-DL to beat.

SDC-DL fine-tunes an ImageNet-pretrained network. Is the pretraining what helps, or would any small
network trained long enough on the spine images do as well? This plugin adds the answer's contender:

- the backbone ``mobilenetv3_small_050`` (timm, 0.57M parameters at 2 classes), which the zoo lacks;
- the method ``small_scratch``: that network from random weights (no download), basic augmentation,
  class-weighted loss, one stage with a cosine schedule over 12 epochs;
- the method kind ``own_backbone``: a CNN trained by the package's fit loop on the backbone its method
  names (``defaults["backbone"]``), whatever the suite's backbones, so the suite compares it with SDC-DL
  on SDC-DL's backbone, once per fold.

Every name is registered with the calls the package itself uses; ``sdc-bench list methods --plugin
my_methods.py`` shows them with their origin, and ``sdc_bench.testing.check_method("small_scratch")``
runs the package's conformance checks on them.
"""

from __future__ import annotations

from sdc_bench.benchmark.kinds import METHOD_KINDS, CnnKind
from sdc_bench.zoo.backbones import BACKBONES, BackboneSpec
from sdc_bench.zoo.methods import METHODS, Method


class OwnBackboneKind(CnnKind):
    """A CNN method that brings its own backbone (``defaults["backbone"]``) instead of the suite's."""

    name = "own_backbone"
    description = "a CNN trained on the backbone its method names, once per fold (an example plugin)"

    def plan_backbone(self, method: Method, backbone: str) -> str:
        return str(method.defaults["backbone"])


METHOD_KINDS.add(OwnBackboneKind())

BACKBONES.add(
    BackboneSpec(
        "mobilenetv3_small_050",
        "mobilenetv3_small_050",
        "mobilenetv3",
        224,
        cam_layer="blocks.-1",
        description="MobileNetV3-Small 0.5x (0.6M params), for training from scratch (an example plugin)",
    )
)

METHODS.add(
    Method(
        "small_scratch",
        "MobileNetV3-Small 0.5x from random weights, basic augmentation, weighted CE, 12 cosine epochs",
        kind="own_backbone",
        pretrained=False,
        augment="basic",
        imbalance="weighted_ce",
        staged=False,
        display_name="Small CNN (scratch)",
        defaults={
            "backbone": "mobilenetv3_small_050",
            "lr": 3e-3,
            "weight_decay": 1e-4,
            "epochs": 12,
            "aug_strength": 0.5,
            "label_smoothing": 0.0,
        },
    )
)
