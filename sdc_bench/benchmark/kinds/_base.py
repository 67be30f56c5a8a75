"""What a kind of method does in the pipeline: the hooks :class:`MethodKind` declares, and their registry.

A method (:class:`sdc_bench.zoo.methods.Method`) names its kind (``method.kind``); the benchmark floor
asks the kind registered under that name how to plan, fit, refit, cost and measure the method. The zoo
cannot import the benchmark floor, so the kinds register here, and a new kind is one new module in this
package (it is imported by ``kinds/__init__.py`` without being named there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sdc_bench.benchmark.faults import Faults
from sdc_bench.benchmark.fit import ArraySet, EpochRecord
from sdc_bench.benchmark.suite import Suite
from sdc_bench.zoo.methods import Method
from sdc_bench.zoo.registry import Listed, Registry
from sdc_bench.zoo.weights import WeightsFile

__all__ = ["METHOD_KINDS", "REFIT_RULES", "FitRequest", "Fitted", "MethodKind", "kind_of", "refit_epochs"]

#: ``refit_epochs_rule`` values of a cell record: which rule gave the refit's fine-tuning epochs.
REFIT_RULES: dict[str, str] = {
    "best_epoch": "the best trial's best fine-tuning epoch on its inner split",
    "half_budget": "the floor ceil(0.5 x the fine-tuning budget): the best epoch was earlier",
    "min_epochs": "the floor of the method's (or train.min_epochs') minimum: the best epoch was earlier",
    "budget": "the whole fine-tuning budget: no best epoch was recorded",
    "not_epochs": "the method does not train by epochs",
}


def refit_epochs(best: int, budget: int, minimum: int, cap: int | None = None) -> tuple[int, str]:
    """Fine-tuning epochs of a refit without validation data, and the :data:`REFIT_RULES` key that gave them.

    The single best epoch of one inner split is a noisy number (on real radiographs it was 1 of a
    10-epoch budget on one fold, and that refit collapsed), so it is floored at half the budget and
    at ``minimum``; ``cap`` (``train.max_epochs``) bounds the result as it bounds every stage.

    >>> refit_epochs(7, 10, 3), refit_epochs(1, 10, 3), refit_epochs(1, 4, 3), refit_epochs(0, 8, 3)
    ((7, 'best_epoch'), (5, 'half_budget'), (3, 'min_epochs'), (8, 'budget'))
    """
    if best <= 0:
        epochs, rule = budget, "budget"
    else:
        half = math.ceil(0.5 * budget)
        epochs, rule = min(best, budget), "best_epoch"
        if half > epochs:
            epochs, rule = half, "half_budget"
        if minimum > epochs:
            epochs, rule = minimum, "min_epochs"
    return (min(epochs, cap) if cap else epochs), rule


@dataclass(frozen=True)
class FitRequest:
    """One parameter set of a method to fit on one training set (a search trial or the final refit)."""

    method: Method  # with the faults of :meth:`MethodKind.with_faults` applied
    backbone: str  # the cell's backbone, or what :meth:`MethodKind.plan_backbone` put in its place
    params: Mapping[str, Any]
    train: ArraySet
    val: ArraySet | None  # None: a refit on all outer-training data, no early stopping
    seed: int
    num_classes: int
    in_chans: int  # input channels: slices of a 2.5D sample (1 for a single image)
    img_size: Any  # the input geometry, an int (square) or (H, W)
    suite: Suite
    device: str
    progress: bool = False
    weights_dir: Path | None = None
    weights_files: tuple[WeightsFile, ...] = ()  # --weights-file entries, ahead of weights_dir
    on_epoch: Callable[[EpochRecord], None] | None = None  # a search trial reports (and prunes) here
    label: str = ""  # the progress bar's name of this fit: method, backbone, fold, trial or refit


@dataclass(frozen=True)
class Fitted:
    """A fitted model: what the cell predicts with and records."""

    predict: Callable[[np.ndarray], np.ndarray]  # uint8 images (N, H, W) -> probabilities (N, K)
    score: float  # inner-validation balanced accuracy (NaN without validation data)
    best_epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # one record per epoch
    weights: str = "none"  # where the starting weights came from, for the cell record and run.json
    built: Any = None  # the trained network (a BuiltBackbone) a kept-model file is made of; None: not kept


class MethodKind(Listed):
    """The base of every kind: override :meth:`fit`, and any other hook whose default does not fit.

    Attributes
    ----------
    name : the value of ``Method.kind`` this kind serves.
    description : one line for people.
    has_throughput_backbone : a suite with a method of this kind measures its backbones' throughput.
    """

    name: str = ""
    description: str = ""
    has_throughput_backbone: bool = False

    def plan_backbone(self, method: Method, backbone: str) -> str:
        """What stands in the cell's backbone column for ``method`` on a suite backbone (planning)."""
        return backbone

    def with_faults(self, method: Method, faults: Faults) -> Method:
        """``method`` as an injected fault breaks it (label noise is applied to every kind by the cell)."""
        return method

    def fit(self, request: FitRequest) -> Fitted:
        """Fit ``request.params`` on ``request.train``; score on ``request.val`` when given."""
        raise NotImplementedError(f"method kind {self.name!r} does not implement fit")

    def max_search_epochs(self, method: Method, suite: Suite) -> int:
        """The most epochs a search trial reports (the pruner's horizon).

        Trials report fine-tuning epochs only (a head warm-up is not judged), so the horizon is the
        fine-tuning budget: the suite's fixed ``epochs``, else the top of the search range.
        """
        fixed = suite.params.get(method.name, {}).get("epochs")
        epochs = int(fixed) if fixed else max(3, 2 * int(method.defaults.get("epochs", 1)))
        return min(epochs, suite.train.max_epochs) if suite.train.max_epochs else epochs

    def refit_params(
        self, method: Method, params: dict[str, Any], best_epoch: int, suite: Suite
    ) -> tuple[dict[str, Any], str]:
        """Parameters of the refit without validation data, given the best trial's best epoch, and the
        :data:`REFIT_RULES` key that chose its epochs."""
        return params, "not_epochs"

    def cost_epochs(self, method: Method, suite: Suite) -> float | None:
        """Full-training-step epochs one fit costs, for the dry-run estimate; None: no training cost."""
        return None


METHOD_KINDS = Registry[MethodKind]("method kind", "methods")


def kind_of(method: Method) -> MethodKind:
    """The registered kind of ``method`` (an unknown kind fails naming the known ones)."""
    return METHOD_KINDS.get(method.kind)
