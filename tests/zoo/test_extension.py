"""Extending the benchmark as CONTRIBUTING.md says: a method kind and a registry entry, each in one place.

Each test registers a throw-away entry the way a new module would (``METHOD_KINDS.add(...)``,
``IMBALANCE.add(...)``), through ``monkeypatch.setitem`` on the registry's table so that the entry is gone
after the test, and then runs the unchanged pipeline over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from torch import nn

from sdc_bench.benchmark.fit import balanced_accuracy
from sdc_bench.benchmark.kinds import METHOD_KINDS, FitRequest, Fitted, MethodKind
from sdc_bench.benchmark.plan import plan_cells
from sdc_bench.benchmark.runner import RunOptions, run_cells
from sdc_bench.benchmark.suite import load_suite
from sdc_bench.zoo.catalog import catalog
from sdc_bench.zoo.imbalance import IMBALANCE, ImbalanceSpec, ImbalanceStrategy, build_imbalance
from sdc_bench.zoo.methods import METHODS, Method
from tests.zoo.test_registries import check_registry_conforms

SUITE = """
description = "test: a throw-away method kind through the pipeline"
seed = 3
methods = ["toy_majority"]
backbones = ["resnet10t", "tf_efficientnet_lite0"]

[data]
source = "synthspine"
n_images = 96
classes = ["normal", "scoliosis", "spondylolisthesis"]
prevalence = [0.5, 0.25, 0.25]
modalities = ["xray"]
size = 32

[protocol]
outer_folds = 2
inner_val_fraction = 0.25

[train]
device = "cpu"

[throughput]
enabled = false
"""


class MajorityKind(MethodKind):
    """Predicts the training class frequencies for every image: the whole of a new kind, in one class."""

    name = "toy_majority"
    description = "class priors of the training labels (a test's throw-away kind)"

    def plan_backbone(self, method: Method, backbone: str) -> str:
        return "priors"  # no backbone: one cell per fold, whatever the suite's backbone list

    def fit(self, request: FitRequest) -> Fitted:
        priors = np.bincount(request.train.labels, minlength=request.num_classes) / len(request.train.labels)

        def predict(images: np.ndarray) -> np.ndarray:
            return np.tile(priors, (len(images), 1))

        val = request.val
        score = float("nan")
        if val is not None:
            score = balanced_accuracy(val.labels, predict(val.images).argmax(1), request.num_classes)
        return Fitted(predict, score)


@pytest.fixture
def toy_kind(monkeypatch: pytest.MonkeyPatch) -> Method:
    """The kind and one method of that kind, registered for this test only."""
    method = Method(
        "toy_majority", "always the training priors", kind="toy_majority", augment="none", imbalance="none"
    )
    monkeypatch.setitem(METHOD_KINDS._specs, MajorityKind.name, MajorityKind())
    monkeypatch.setitem(METHODS._specs, method.name, method)
    return method


def test_a_new_method_kind_runs_through_plan_and_cells(toy_kind: Method, tmp_path: Path) -> None:
    path = tmp_path / "toy.toml"
    path.write_text(SUITE)
    suite = load_suite(str(path))
    cells = plan_cells(suite, 2)
    assert [(c.method, c.backbone, c.outer_fold) for c in cells] == [
        ("toy_majority", "priors", 0),
        ("toy_majority", "priors", 1),
    ]
    state = run_cells(suite, RunOptions(out=tmp_path / "run", progress=False))
    predictions = pd.read_parquet(state.store.predictions)
    assert len(predictions) == 96 and set(predictions["backbone"]) == {"priors"}
    assert (predictions["y_pred"] == "normal").all()  # the majority class of every training fold


def test_an_unregistered_kind_fails_when_the_suite_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sdc_bench.core.errors import UnknownNameError

    method = Method("toy_orphan", "a method whose kind nobody registered", kind="toy_nothing")
    monkeypatch.setitem(METHODS._specs, method.name, method)
    path = tmp_path / "orphan.toml"
    path.write_text(SUITE.replace('"toy_majority"', '"toy_orphan"'))
    with pytest.raises(UnknownNameError, match="method kind 'toy_nothing'"):
        load_suite(str(path))


@dataclass(frozen=True)
class HalfWeights(ImbalanceStrategy):
    """Cross-entropy with the smallest class weighted twice (a throw-away strategy)."""

    name: ClassVar[str] = "toy_half_weights"
    hooks: ClassVar[tuple[str, ...]] = ("loss",)

    def loss(self, class_counts: np.ndarray) -> nn.Module:
        import torch

        from sdc_bench.zoo.imbalance import SoftTargetCrossEntropy

        weights = np.ones(len(class_counts))
        weights[int(np.argmin(class_counts))] = 2.0
        return SoftTargetCrossEntropy(class_weights=torch.as_tensor(weights, dtype=torch.float32))


def test_a_new_registry_entry_is_listed_and_conforms(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ImbalanceSpec("toy_half_weights", "minority class weighted twice", HalfWeights, ("loss",))
    monkeypatch.setitem(IMBALANCE._specs, spec.name, spec)
    assert "toy_half_weights" in IMBALANCE.names()
    assert {"name": "toy_half_weights", "hooks": ("loss",), "params": {}} | {
        "description": "minority class weighted twice"
    } in catalog("imbalance")
    check_registry_conforms("imbalance")
    criterion = build_imbalance("toy_half_weights").loss(np.array([10, 3, 5]))
    assert float(criterion.class_weights[1]) == 2.0
