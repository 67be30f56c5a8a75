"""Honest at every n, the benchmark half: robust refit epochs, warm-up outside the budget, an early-stopping
floor, suite-fixed parameters left out of the search, and progress that shows what is training."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from sdc_bench.benchmark.cell import _FixedTrial, _pruning_reporter, _searched_defaults
from sdc_bench.benchmark.fit import (
    ArraySet,
    EpochRecord,
    FitSettings,
    _EarlyStopper,
    fit_cnn,
    plan_stages,
    progress_postfix,
)
from sdc_bench.benchmark.kinds import kind_of
from sdc_bench.benchmark.kinds._base import REFIT_RULES, refit_epochs
from sdc_bench.benchmark.suite import TrainSpec, load_suite
from sdc_bench.zoo.backbones import create_backbone
from sdc_bench.zoo.methods import METHODS


@pytest.mark.parametrize(
    ("best", "budget", "minimum", "cap", "expected"),
    [
        (7, 10, 3, None, (7, "best_epoch")),
        (1, 10, 3, None, (5, "half_budget")),  # one early best epoch of one inner split is not trusted
        (1, 4, 3, None, (3, "min_epochs")),
        (12, 10, 3, None, (10, "best_epoch")),  # never beyond the budget
        (0, 8, 3, None, (8, "budget")),
        (1, 10, 3, 4, (4, "half_budget")),  # train.max_epochs caps every stage, the refit too
    ],
)
def test_refit_epochs_rule(best: int, budget: int, minimum: int, cap: int | None, expected: tuple) -> None:
    assert refit_epochs(best, budget, minimum, cap) == expected
    assert expected[1] in REFIT_RULES


def test_refit_gives_the_whole_warmup_and_floors_the_fine_tuning() -> None:
    """On real radiographs a refit ran 1 epoch (the best epoch of one inner split) and collapsed."""
    suite = replace(load_suite("quick"), train=TrainSpec(min_epochs=3))
    method = METHODS.get("sdc_dl")
    params = method.params({"epochs": 8, "head_epochs": 2})
    # the best trial peaked at its first fine-tuning epoch (epoch 3 = 2 warm-up + 1)
    refit, rule = kind_of(method).refit_params(method, params, 3, suite)
    assert (refit["head_epochs"], refit["epochs"], rule) == (2, 4, "half_budget")
    refit, rule = kind_of(method).refit_params(method, params, 9, suite)
    assert (refit["head_epochs"], refit["epochs"], rule) == (2, 7, "best_epoch")
    probe = METHODS.get("linear_probe")  # one stage: no warm-up to subtract
    refit, rule = kind_of(probe).refit_params(probe, probe.params({"epochs": 10}), 8, suite)
    assert (refit["epochs"], rule) == (8, "best_epoch")
    classical = METHODS.get("classical")
    assert kind_of(classical).refit_params(classical, {"C": 1.0}, 0, suite)[1] == "not_epochs"


def test_an_epoch_cap_counts_fine_tuning_epochs_the_warmup_is_extra() -> None:
    method = METHODS.get("sdc_dl")
    stages = plan_stages(method, {**method.defaults, "epochs": 8, "head_epochs": 2}, max_epochs=5)
    assert [(s.name, s.epochs) for s in stages] == [("head", 2), ("finetune", 5)]
    suite = replace(load_suite("quick"), train=TrainSpec(max_epochs=5))
    assert kind_of(method).max_search_epochs(method, suite) == 5  # the pruner's horizon: fine-tuning only


def test_the_fixed_recipe_plan_of_smoke_is_unchanged() -> None:
    """Smoke (no search, no early stopping) trains exactly the epochs it always did."""
    smoke = load_suite("smoke")
    assert smoke.search.n_trials == 0 and not smoke.train.early_stopping and smoke.train.min_epochs == 0
    sdc, scratch = METHODS.get("sdc_dl"), METHODS.get("scratch")
    stages = plan_stages(sdc, sdc.params(smoke.params["sdc_dl"]), smoke.train.max_epochs or None)
    assert [(s.name, s.epochs) for s in stages] == [("head", 2), ("finetune", 14)]
    stages = plan_stages(scratch, scratch.params(smoke.params["scratch"]), smoke.train.max_epochs or None)
    assert [(s.name, s.epochs) for s in stages] == [("full", 8)]


def _record(epoch: int, stage: str = "finetune", val_loss: float = 1.0) -> EpochRecord:
    return EpochRecord(stage, epoch, 0.5, val_loss, 0.4)


def test_early_stopping_has_a_floor() -> None:
    model = torch.nn.Linear(2, 2)
    stopper = _EarlyStopper(patience=1, min_epochs=3)
    stopper.start_stage(forget_best=True)
    stopper.update(model, _record(1, val_loss=1.0), validated=True)
    stopper.update(model, _record(2, val_loss=2.0), validated=True)  # patience spent at epoch 2...
    assert not stopper.should_stop  # ...but the floor holds until epoch 3
    stopper.update(model, _record(3, val_loss=2.0), validated=True)
    assert stopper.should_stop and stopper.best_epoch == 1
    unfloored = _EarlyStopper(patience=1)
    unfloored.start_stage(forget_best=True)
    unfloored.update(model, _record(1, val_loss=1.0), validated=True)
    unfloored.update(model, _record(2, val_loss=2.0), validated=True)
    assert unfloored.should_stop  # train.min_epochs = 0: the old behaviour


def test_a_refit_without_validation_trains_every_planned_epoch() -> None:
    torch.manual_seed(0)
    built = create_backbone("resnet10t", num_classes=2, in_chans=1, img_size=16)
    rng = np.random.default_rng(0)
    train = ArraySet(rng.integers(0, 255, (8, 16, 16), dtype=np.uint8), np.array([0, 1] * 4))
    method = METHODS.get("sdc_dl")
    params = {**method.defaults, "epochs": 2, "head_epochs": 1}
    settings = FitSettings(batch_size=4, min_epochs=5, label="sdc_dl/resnet10t fold 0 refit")
    result = fit_cnn(built, method, params, train, None, seed=0, settings=settings)
    assert [r.stage for r in result.history] == ["head", "finetune", "finetune"]
    assert not result.stopped_early and result.best_epoch == 3


def test_a_refit_progress_postfix_shows_the_training_loss() -> None:
    refit = EpochRecord("finetune", 4, 0.1234, math.nan, math.nan)
    assert progress_postfix(refit, validated=False) == {"stage": "finetune", "train_loss": "0.123"}
    trial = EpochRecord("head", 1, 0.5, 0.7, 0.45)
    shown = progress_postfix(trial, validated=True)
    assert shown["stage"] == "head" and shown["val_bacc"] == "0.450" and shown["train_loss"] == "0.500"


class _FakeTrial:
    def __init__(self) -> None:
        self.reported: list[tuple[float, int]] = []
        self.suggested: list[str] = []

    def report(self, value: float, step: int) -> None:
        self.reported.append((value, step))

    def should_prune(self) -> bool:
        return False

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        self.suggested.append(name)
        return low

    def suggest_int(self, name: str, low: int, high: int) -> int:
        self.suggested.append(name)
        return low


def test_trials_report_fine_tuning_epochs_not_the_warmup() -> None:
    trial = _FakeTrial()
    report = _pruning_reporter(trial, warmup=True)  # type: ignore[arg-type]
    for record in (_record(1, "head"), _record(2, "head"), _record(3), _record(4)):
        report(record)
    assert [step for _, step in trial.reported] == [1, 2]
    probe = _FakeTrial()
    report = _pruning_reporter(probe, warmup=False)  # type: ignore[arg-type]
    report(_record(1, "head"))  # a linear probe's only stage is 'head': it is judged
    assert [step for _, step in probe.reported] == [1]


def test_parameters_the_suite_fixes_are_not_searched() -> None:
    method = METHODS.get("sdc_dl")
    fixed: dict[str, Any] = {"epochs": 8, "head_epochs": 2, "aug_strength": 0.5}
    trial = _FakeTrial()
    params = method.search_space(_FixedTrial(trial, fixed), method)
    assert not set(trial.suggested) & set(fixed) and {"lr", "weight_decay"} <= set(trial.suggested)
    assert params["epochs"] == 8 and params["aug_strength"] == 0.5
    first = _searched_defaults(method, method.params(fixed), fixed)
    assert "epochs" not in first and "lr" in first


def test_the_quick_suite_races_every_method_and_ablation_on_one_kind_of_budget() -> None:
    """The old quick suite ranked SDC-DL last: its warm-up ate a 5-epoch cap, and 3 trials searched 6
    parameters. Now every CNN trains a fixed recipe with the same fine-tuning budget after any warm-up,
    and the three ablations run beside it."""
    quick = load_suite("quick")
    assert quick.search.n_trials == 0 and not quick.train.early_stopping and not quick.train.max_epochs
    ablations = {n for n in quick.methods if METHODS.get(n).role == "ablation"}
    assert ablations == {"sdc_dl_no_aug", "sdc_dl_no_staging", "sdc_dl_no_imbalance"}
    fine_tuning = set()
    for name in quick.methods:
        method = METHODS.get(name)
        if kind_of(method).name != "cnn":
            continue
        stages = plan_stages(method, method.params(quick.params[name]), None)
        assert stages[-1].epochs >= 15, name  # enough fine-tuning epochs after any warm-up
        if method.pretrained and not method.freeze_backbone:
            fine_tuning.add(stages[-1].epochs)
    assert len(fine_tuning) == 1  # SDC-DL, its ablations and plain fine-tuning: one budget


def test_a_frozen_backbone_epoch_costs_a_third_in_the_dry_run_estimate() -> None:
    """Counting every epoch in full, the quick suite's dry run said 22 min for an 11 min 48 s run."""
    quick = load_suite("quick")
    sdc, probe, scratch = (METHODS.get(n) for n in ("sdc_dl", "linear_probe", "scratch"))
    assert kind_of(sdc).cost_epochs(sdc, quick) == pytest.approx(15 + 2 / 3)  # 2 warm-up epochs at 1/3
    assert kind_of(probe).cost_epochs(probe, quick) == pytest.approx(20 / 3)
    assert kind_of(scratch).cost_epochs(scratch, quick) == pytest.approx(20)
    assert kind_of(METHODS.get("classical")).cost_epochs(METHODS.get("classical"), quick) is None
