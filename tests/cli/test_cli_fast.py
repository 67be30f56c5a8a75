"""The command line answers fast: no torch for --help and listings, a dry run of the full suite that
estimates a GPU's cost from GFLOPs on a machine without one, and a run whose report sees its final status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from sdc_bench.cli import main


def test_importing_the_cli_imports_no_torch() -> None:
    code = (
        "import sys, sdc_bench.cli; "
        "print([m for m in ('torch', 'timm', 'optuna', 'pandas') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "registry", ["suites", "methods", "backbones", "augmentations", "imbalance", "features"]
)
def test_every_listing_imports_no_torch(registry: str) -> None:
    # the registries' metadata lives in torch-free modules; torch and timm load only to build
    heavy = "('torch', 'timm', 'imblearn')"
    code = (
        f"import sys; from sdc_bench.cli import main; main(['list', '{registry}', '--json']); "
        f"print([m for m in {heavy} if m in sys.modules], file=sys.stderr)"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}  # `list backbones` would otherwise ask the hub
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stderr.strip().endswith("[]")
    rows = json.loads(out.stdout)
    assert all(row["description"] for row in rows)
    if registry == "methods":
        assert {r["name"]: r["display_name"] for r in rows}["sdc_dl"] == "SDC-DL"


def test_list_suites_shows_descriptions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "suites", "--json"]) == 0
    rows = {row["name"]: row["description"] for row in json.loads(capsys.readouterr().out)}
    assert set(rows) >= {"smoke", "quick", "full"} and rows["full"].startswith("GPU benchmark")


def test_dry_run_of_full_estimates_from_gflops_without_cuda(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    # offline, the hub-only backbones have no weights: the plan is shown, then the run stops with the fix
    assert main(["run", "--suite", "full", "--dry-run"]) == 2
    elapsed = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert "tf_efficientnet_lite0=package" in out and "resnet50=none" in out
    assert "no pretrained weights offline" in err and "sdc-bench weights fetch --backbones" in err
    first = out.splitlines()[0]
    n_cells = int(first.split(": ", 1)[1].split(" cells", 1)[0])
    assert n_cells == sum(1 for line in out.splitlines() if line.startswith("  "))  # a consistent count
    assert n_cells == (7 * 8 + 1) * 5  # classical plans once per fold, not once per backbone
    assert "estimated from GFLOPs for cuda (no cuda device here; profile: generic GPU" in out
    assert "measured on cpu" not in out
    assert "counting GFLOPs of resnet50" in err  # a progress line per backbone
    assert elapsed < 60  # the budget (30 s on an idle machine) lives in benchmarks/bench_cli_latency.py


def test_a_cpu_suite_dry_run_measures_on_the_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--set", "data.size=32", "--set", "methods=['scratch']", "--set", "train.device='cpu'"]
    assert main(["run", "--suite", "smoke", "--dry-run", *args]) == 0
    assert "measured on cpu (tf_efficientnet_lite0" in capsys.readouterr().out


def test_a_run_is_finished_before_its_gallery_and_report(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sdc_bench.pipeline as pipeline
    import sdc_bench.reports.build as build
    from sdc_bench.benchmark.suite import load_suite

    calls: list[str] = []
    state = SimpleNamespace(store=SimpleNamespace(root=tmp_path), payload={})
    monkeypatch.setattr(pipeline, "run_cells", lambda suite, options: state)
    monkeypatch.setattr(pipeline, "_throughput_stage", lambda state: calls.append("throughput"))
    monkeypatch.setattr(pipeline, "finish_run", lambda state: calls.append("finish"))
    monkeypatch.setattr(pipeline, "write_gallery", lambda root: calls.append("gallery"))
    monkeypatch.setattr(build, "build_reports", lambda root, **kwargs: calls.append("reports"))
    assert pipeline.run_suite(load_suite("smoke")) == tmp_path
    assert calls == ["throughput", "finish", "gallery", "reports"]


def test_run_json_carries_display_names_from_the_methods() -> None:
    from sdc_bench.benchmark.run_folder import display_names

    assert display_names(["sdc_dl", "scratch"]) == {"sdc_dl": "SDC-DL", "scratch": "Scratch CNN"}


def test_reports_prefer_the_runs_display_names() -> None:
    from sdc_bench.reports.names import display_name, run_display_names

    with run_display_names({"sdc_dl": "SDC-DL (ours)", "my_method": "Mine"}):
        assert display_name("sdc_dl") == "SDC-DL (ours)" and display_name("my_method") == "Mine"
        assert display_name("scratch") == "Scratch CNN"  # not in run.json: the kept table
    assert display_name("sdc_dl") == "SDC-DL" and display_name("my_method") == "my_method"
