"""Planning: a suite becomes a list of cells (method x backbone x outer fold), each with its own seed."""

from __future__ import annotations

from dataclasses import dataclass

from sdc_bench.benchmark.determinism import derive_seed
from sdc_bench.benchmark.suite import Suite
from sdc_bench.zoo.methods import METHODS

__all__ = ["Cell", "plan_cells"]


@dataclass(frozen=True)
class Cell:
    """The unit of work and of resume: one method on one backbone for one outer fold."""

    method: str
    backbone: str
    outer_fold: int
    seed: int
    augment: str
    imbalance: str

    @property
    def cell_id(self) -> str:
        return f"{self.method}__{self.backbone}__fold{self.outer_fold}"


def plan_cells(suite: Suite, n_folds: int) -> list[Cell]:
    """Feature-based methods ignore the backbone list: their extractor takes the backbone's place once."""
    cells: list[Cell] = []
    pairs: list[tuple[str, str]] = []
    for backbone in suite.backbones:
        for method_name in suite.methods:
            method = METHODS.get(method_name)
            pair = (method_name, method.feature_extractor if method.kind == "features" else backbone)
            if pair not in pairs:
                pairs.append(pair)
    for method_name, backbone in pairs:
        method = METHODS.get(method_name)
        for fold in range(n_folds):
            seed = derive_seed(suite.seed, method_name, backbone, fold)
            cells.append(Cell(method_name, backbone, fold, seed, method.augment, method.imbalance))
    return cells
