"""The rehearsal suite: the full suite's shape (every method x every backbone, its sampler and pruner, at
least 5 fold blocks for the critical-difference diagram) at a CPU's size, with random weights where none
are offline, stated as such. The plan is checked fast; a slow test runs it end to end on 2 backbones and
3 methods (``--set``), the whole 64-combination run is ``tox -e rehearsal`` (nightly, not ``.ci/run``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdc_bench.benchmark.plan import plan_cells
from sdc_bench.benchmark.suite import load_suite, protocol_seeds
from sdc_bench.cli import main
from sdc_bench.reports.min_n import MIN_N
from sdc_bench.zoo.methods import METHODS


def test_the_rehearsal_keeps_the_full_plan_shape() -> None:
    full, rehearsal = load_suite("full"), load_suite("rehearsal")
    assert rehearsal.methods == full.methods and rehearsal.backbones == full.backbones
    assert len(rehearsal.methods) * len(rehearsal.backbones) == 64
    assert (rehearsal.search.sampler, rehearsal.search.pruner) == (full.search.sampler, full.search.pruner)
    assert 2 <= rehearsal.search.n_trials < full.search.n_trials
    assert rehearsal.search.n_startup_trials < rehearsal.search.n_trials  # the sampler models some trials
    assert rehearsal.protocol.outer_folds >= 2
    blocks = rehearsal.protocol.outer_folds * len(protocol_seeds(rehearsal))
    assert blocks >= MIN_N["friedman"].minimum  # the critical-difference diagram is drawn
    assert rehearsal.data.size == 32 and rehearsal.train.random_weights_if_missing
    assert not full.train.random_weights_if_missing


def test_the_rehearsal_plans_every_method_on_every_backbone() -> None:
    from sdc_bench.benchmark.kinds import kind_of

    suite = load_suite("rehearsal")
    cells = plan_cells(suite, suite.protocol.outer_folds)
    planned = {(cell.method, cell.backbone) for cell in cells}
    for method in suite.methods:
        for backbone in suite.backbones:
            # a method whose kind does not use the backbone (classical: its own features) is planned once
            stands_in = kind_of(METHODS.get(method)).plan_backbone(METHODS.get(method), backbone)
            assert (method, stands_in) in planned, (method, backbone)
    cnn_methods = [m for m in suite.methods if kind_of(METHODS.get(m)).name == "cnn"]
    assert len(cnn_methods) == 7  # all but the classical baseline train each of the 8 backbones
    for method, backbone in planned:
        folds = {c.outer_fold for c in cells if (c.method, c.backbone) == (method, backbone)}
        assert folds == set(range(suite.protocol.outer_folds))


def test_the_rehearsal_dry_run_says_where_weights_are_random(capsys: pytest.CaptureFixture[str]) -> None:
    # two backbones keep the dry run's throughput probe short; the weights line covers each of them
    argv = [
        "run",
        "--suite",
        "rehearsal",
        "--dry-run",
        "--set",
        'backbones=["tf_efficientnet_lite0","resnet18"]',
    ]
    assert main(argv) == 0
    weights = [line for line in capsys.readouterr().out.splitlines() if line.startswith("weights:")]
    assert weights and "resnet18=random stand-in" in weights[0]


@pytest.mark.slow
def test_the_rehearsal_runs_end_to_end_on_two_backbones(tmp_path: Path) -> None:
    out = tmp_path / "rehearsal"
    argv = [
        "run", "--suite", "rehearsal", "--out", str(out), "--quiet",
        "--set", 'methods=["sdc_dl","scratch","classical"]',
        "--set", 'backbones=["tf_efficientnet_lite0","convnext_atto"]',
    ]  # fmt: skip
    assert main(argv) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "done"
    weights = run["weights"]
    assert weights["sdc_dl__convnext_atto__seed0__fold0"] == "random (no pretrained weights here)"
    assert weights["sdc_dl__tf_efficientnet_lite0__seed0__fold0"].startswith("package")
    assert run["search"]["pruner"] == "hyperband"
    report = (out / "report.html").read_text()
    assert "random (no pretrained weights here)" in report
    figures = {p.stem for p in (out / "figures").glob("*")}
    assert {"critical_difference", "pareto_front"} <= figures, sorted(figures)
    assert (out / "tables" / "per_backbone.md").is_file()
