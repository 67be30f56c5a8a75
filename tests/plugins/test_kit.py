"""The conformance kit (sdc_bench.testing) catches what it promises to, with a message that says what to fix.

Each broken entry is registered for one test only (the registries are restored afterwards), as a plugin
author's own test would register theirs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sdc_bench.plugins import restored_registries
from sdc_bench.testing import (
    ConformanceError,
    check_augmentation,
    check_backbone,
    check_feature_extractor,
    check_method,
    check_method_kind,
)
from sdc_bench.zoo.methods import METHODS, Method
from tests.plugins.plugin_files import GOOD, IGNORES_GENERATOR, WRONG_SHAPE


@pytest.fixture(autouse=True)
def _clean_registries() -> Iterator[None]:
    with restored_registries():
        yield


def test_a_good_plugin_passes_every_check() -> None:
    exec(compile(GOOD, "good_plugin.py", "exec"), {})
    check_backbone("tiny_net")
    check_method("tiny_scratch", backbone="tiny_net")


def test_a_backbone_of_the_wrong_shape_fails_saying_what_to_return() -> None:
    exec(compile(WRONG_SHAPE, "wrong_shape.py", "exec"), {})
    with pytest.raises(
        ConformanceError, match=r"backbone 'no_pooling': .* not logits \(2, 3\); end the network"
    ):
        check_backbone("no_pooling")


def test_an_augmentation_that_ignores_its_generator_fails() -> None:
    exec(compile(IGNORES_GENERATOR, "ignores_generator.py", "exec"), {})
    with pytest.raises(ConformanceError, match="draw every random number from the `generator` argument"):
        check_augmentation("global_noise")


def test_a_method_naming_an_unknown_augmentation_fails() -> None:
    METHODS.add(Method("typo_method", "augment misspelt", augment="sdc_dl_advance"))
    with pytest.raises(ConformanceError, match="its augment 'sdc_dl_advance' is not registered"):
        check_method("typo_method", fit=False)


def test_a_method_kind_without_fit_and_a_bad_extractor_fail() -> None:
    import numpy as np

    from sdc_bench.benchmark.kinds import METHOD_KINDS, MethodKind
    from sdc_bench.zoo.features import FEATURES, FeatureSpec

    class Lazy(MethodKind):
        name = "lazy"
        description = "forgets fit"

    METHOD_KINDS.add(Lazy())
    with pytest.raises(ConformanceError, match="fit\\(\\) is not implemented"):
        check_method_kind("lazy")
    FEATURES.add(FeatureSpec("flat_nan", "NaN features", lambda images: np.full((len(images), 4), np.nan)))
    with pytest.raises(ConformanceError, match="not finite"):
        check_feature_extractor("flat_nan")
