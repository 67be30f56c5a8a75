"""Planning: a suite becomes a list of cells (method x backbone x protocol seed x outer fold), each with its own seed.

A protocol seed (``protocol.seeds``; by default just ``suite.seed``) is one repetition of the whole
patient-grouped cross-validation: its own outer folds and its own derived cell seeds. A cell's seed is
``derive_seed(repeat_seed, method, backbone, fold)``, so a single-seed run keeps the seeds it always had.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdc_bench.benchmark.suite import Suite, protocol_seeds
from sdc_bench.core.contracts import format_cell_id

__all__ = ["Cell", "plan_cells"]


@dataclass(frozen=True)
class Cell:
    """The unit of work and of resume: one method on one backbone for one outer fold of one protocol seed."""

    method: str
    backbone: str
    outer_fold: int
    seed: int  # the cell's derived seed (initialisation, inner split, search)
    augment: str
    imbalance: str
    repeat_seed: int = 0  # the protocol seed: which repetition of the cross-validation

    @property
    def cell_id(self) -> str:
        return format_cell_id(self.method, self.backbone, self.repeat_seed, self.outer_fold)


def plan_cells(suite: Suite, n_folds: int) -> list[Cell]:
    """Each method's kind says what stands in the backbone column (a feature extractor, once, for ``features``)."""
    # imported here so that planning a dry run does not import torch before it must
    from sdc_bench.benchmark.kinds import kind_of
    from sdc_bench.core.determinism import derive_seed
    from sdc_bench.zoo.methods import METHODS

    pairs: list[tuple[str, str]] = []
    for backbone in suite.backbones:
        for method_name in suite.methods:
            method = METHODS.get(method_name)
            pair = (method_name, kind_of(method).plan_backbone(method, backbone))
            if pair not in pairs:
                pairs.append(pair)
    cells: list[Cell] = []
    for repeat_seed in protocol_seeds(suite):
        for method_name, backbone in pairs:
            method = METHODS.get(method_name)
            for fold in range(n_folds):
                seed = derive_seed(repeat_seed, method_name, backbone, fold)
                cells.append(
                    Cell(method_name, backbone, fold, seed, method.augment, method.imbalance, repeat_seed)
                )
    return cells
