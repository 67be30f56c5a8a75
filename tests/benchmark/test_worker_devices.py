"""One worker per device: ``run --devices`` pins each local worker (its ``CUDA_VISIBLE_DEVICES`` and
``--device``), refuses a device list that does not fit in one line, and ``run.json`` records which worker
ran which cell on which device. Tested on CPU: the environment each worker is given, and a tiny run with
``--devices cpu,cpu`` whose cells are spread over the two pinned workers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sdc_bench.benchmark.runner import RunOptions, worker_command
from sdc_bench.cli import main
from sdc_bench.core.device import VISIBLE_DEVICES_ENV, parse_worker_devices, pinned_worker
from sdc_bench.core.errors import ConfigError
from sdc_bench.core.run_manifest import RunManifest, WorkerRecord, example_payload

TINY = """
description = "test: two pinned workers"
seed = 5
methods = ["sdc_dl", "classical"]
backbones = ["tf_efficientnet_lite0"]

[data]
source = "synthspine"
n_images = 48
classes = ["normal", "scoliosis"]
prevalence = [0.5, 0.5]
modalities = ["xray"]
size = 32

[protocol]
outer_folds = 2
inner_val_fraction = 0.5

[train]
batch_size = 16
max_epochs = 1
device = "cpu"

[params.sdc_dl]
head_epochs = 1
epochs = 1

[throughput]
enabled = false
"""


@pytest.mark.parametrize(
    ("devices", "parent", "expected"),
    [
        ("cuda:0,cuda:1", {}, [("cuda:0", "0"), ("cuda:0", "1")]),
        # under Slurm the parent already sees a subset: cuda:N is its N-th visible GPU
        ("cuda:0,cuda:1", {VISIBLE_DEVICES_ENV: "4,6"}, [("cuda:0", "4"), ("cuda:0", "6")]),
        ("cpu,cpu", {VISIBLE_DEVICES_ENV: "0"}, [("cpu", ""), ("cpu", "")]),
    ],
)
def test_each_local_worker_gets_its_own_device(
    devices: str,
    parent: dict[str, str],
    expected: list[tuple[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(VISIBLE_DEVICES_ENV, raising=False)
    for key, value in parent.items():
        monkeypatch.setenv(key, value)
    options = RunOptions(workers=2, devices=parse_worker_devices(devices, 2))
    seen = []
    for device in options.devices:
        command, env = worker_command(tmp_path, "sqlite:///x.db", options, device)
        assert command[command.index("worker") + 1] == str(tmp_path)
        seen.append((command[command.index("--device") + 1], env[VISIBLE_DEVICES_ENV]))
    assert seen == expected


def test_a_worker_without_a_device_keeps_the_parent_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VISIBLE_DEVICES_ENV, "2")
    command, env = worker_command(tmp_path, "sqlite:///x.db", RunOptions(workers=2))
    assert "--device" not in command and env[VISIBLE_DEVICES_ENV] == "2"


def test_a_gpu_the_parent_cannot_see_is_refused() -> None:
    with pytest.raises(ConfigError, match="shows only 1 GPU"):
        pinned_worker("cuda:1", {VISIBLE_DEVICES_ENV: "3"})


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--workers", "3", "--devices", "cpu,cpu"], ("--workers 3", "2 device(s)")),
        (["--devices", "gpu0,cpu"], ("'gpu0'", "cuda:N")),
        (["--devices", "cuda"], ("'cuda'", "cuda:N")),
    ],
)
def test_a_device_list_that_does_not_fit_is_one_line(
    args: list[str], expected: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "tiny.toml"
    suite.write_text(TINY)
    assert main(["run", "--suite", str(suite), "--dry-run", *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and all(part in lines[0] for part in expected), lines


def test_a_gpu_this_machine_lacks_is_one_line_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    if torch.cuda.device_count() >= 8:
        pytest.skip("this machine has 8 GPUs")
    suite = tmp_path / "tiny.toml"
    suite.write_text(TINY)
    out = tmp_path / "run"
    argv = ["run", "--suite", str(suite), "--out", str(out), "--devices", "cuda:0,cuda:7", "--quiet"]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--devices" in lines[0], lines
    assert not out.exists()


def test_run_json_workers_round_trip() -> None:
    payload: dict[str, Any] = {
        **example_payload(),
        "workers": [
            {"worker": "node1:11", "device": "cuda:0", "cuda_visible_devices": "1", "cells": ["a", "b"]},
            {"worker": "node1:12", "device": "cpu", "cuda_visible_devices": None, "cells": ["c"]},
        ],
    }
    manifest = RunManifest.from_json(payload)
    assert manifest.workers[0] == WorkerRecord("node1:11", "cuda:0", "1", ("a", "b"))
    assert manifest.to_json() == payload
    assert "workers" not in RunManifest.from_json(example_payload()).to_json()


@pytest.mark.slow
def test_two_pinned_cpu_workers_share_the_cells(tmp_path: Path) -> None:
    suite = tmp_path / "tiny.toml"
    suite.write_text(TINY)
    out = tmp_path / "run"
    argv = ["run", "--suite", str(suite), "--out", str(out), "--devices", "cpu,cpu", "--quiet"]
    assert main(argv) == 0
    records = [json.loads(p.read_text()) for p in sorted((out / "cells").glob("*.json"))]
    assert len(records) == 4
    # the environment each worker was given, as the worker itself saw it
    assert {(r["device"], r["cuda_visible_devices"]) for r in records} == {("cpu", "")}
    manifest = json.loads((out / "run.json").read_text())
    workers = manifest["workers"]
    assert len(workers) == 2, workers  # both pinned workers ran cells; this process ran none
    assert sorted(c for w in workers for c in w["cells"]) == sorted(
        p.stem for p in (out / "cells").glob("*.json")
    )
    assert all(w["device"] == "cpu" and w["cuda_visible_devices"] == "" for w in workers)
