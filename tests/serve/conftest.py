"""A tiny finished run (one CNN method and the classical baseline, 2 folds, 1 epoch, 32 px) to export."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdc_bench.cli import main

TINY_SUITE = """
description = "test: a tiny run whose kept models are exported"
seed = 3
methods = ["scratch", "classical"]
backbones = ["resnet10t"]

[data]
source = "synthspine"
n_images = 48
classes = ["normal", "scoliosis"]
prevalence = [0.5, 0.5]
modalities = ["xray"]
size = 32

[protocol]
outer_folds = 2
inner_val_fraction = 0.25

[train]
batch_size = 16
patience = 1
max_epochs = 1
device = "cpu"

[params.scratch]
epochs = 1

[throughput]
enabled = false
"""


@pytest.fixture(scope="session")
def tiny_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("suite") / "tiny_export.toml"
    path.write_text(TINY_SUITE)
    return path


@pytest.fixture(scope="session")
def run_dir(tiny_suite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "kept"
    assert main(["run", "--suite", str(tiny_suite), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="session")
def package(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny run's ``scratch`` models exported as an out-of-fold ensemble."""
    out = tmp_path_factory.mktemp("packages") / "ensemble"
    assert main(["export", str(run_dir), "--method", "scratch", "--out", str(out)]) == 0
    return out
