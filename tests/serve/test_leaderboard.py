"""``publish`` then ``board``: a leaderboard row per exported package and a static, sortable page."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.cli import main
from sdc_bench.core.store import RunStore
from sdc_bench.reports.metrics import compute_metrics
from tests.reports.fixtures import SyntheticRun, make_synthetic_run


def _package(root: Path, run_dir: Path, method: str) -> Path:
    """The files of an exported package that publish reads (package.json, MODEL_CARD.md), weights left out."""
    root.mkdir(parents=True)
    info = {
        "format": "sdc-bench-model-package", "kind": "ensemble", "method": method, "classes": ["normal", "scoliosis"],
        "backbone": {"name": "resnet18", "weights_license": "apache-2.0"},
        "training": {"run_id": "synthetic", "run_dir": str(run_dir), "data_fingerprint": "0123456789abcdef",
                     "n_images": 120, "n_patients": 60},
        "throughput": {"device": "cpu", "cpu_model": "synthetic CPU", "batch_size": 32, "images_per_s": 250.0},
    }  # fmt: skip
    (root / "package.json").write_text(json.dumps(info))
    (root / "MODEL_CARD.md").write_text(f"# Model card: {method}\n")
    (root / "members").mkdir()
    (root / "members" / "fold0.safetensors").write_bytes(b"weights")
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = SyntheticRun(methods=("sdc_dl", "scratch"), backbones=("resnet18",), n_patients=40, n_classes=2,
                        optuna=False, throughput=False, external=False)  # fmt: skip
    run = make_synthetic_run(tmp_path_factory.mktemp("lb") / "run", spec)
    metrics = compute_metrics(pd.read_parquet(RunStore(run).predictions), n_bootstrap=100)
    metrics.to_csv(RunStore(run).metrics, index=False)
    return run


def test_publish_then_board_gives_a_sortable_self_contained_page(run_dir: Path, tmp_path: Path) -> None:
    cards = tmp_path / "model-cards"
    for method in ("scratch", "sdc_dl"):
        package = _package(tmp_path / method, run_dir, method)
        assert main(["publish", str(package), "--to", str(cards)]) == 0
    assert main(["publish", str(tmp_path / "sdc_dl"), "--to", str(cards)]) == 0  # again: replaces its row
    board = json.loads((cards / "leaderboard.json").read_text())["models"]
    assert [row["name"].split("-")[0] for row in board] == ["sdc_dl", "scratch"]  # best first
    best = board[0]
    assert best["ci_low"] < best["value"] < best["ci_high"] and best["images_per_s"] == 250.0
    assert best["licence"] == "apache-2.0" and best["task"] == "classify normal / scoliosis"
    assert not list(cards.rglob("*.safetensors"))  # the card, never the weights
    assert (cards / best["card"]).is_file() and (cards / "LEADERBOARD.md").is_file()

    assert main(["board", str(cards), "--out", str(tmp_path / "site")]) == 0
    page = (tmp_path / "site" / "index.html").read_text()
    assert page.count("<tr>") == 3 and "aria-sort" in page and "addEventListener" in page
    assert "http://" not in page and "https://" not in page and "<script src" not in page  # no CDN, no server
    assert (tmp_path / "site" / best["card"]).is_file()
    markdown = (tmp_path / "site" / "leaderboard.md").read_text()
    assert "| model | task |" in markdown and "[card](" in markdown


def test_publish_refuses_a_folder_that_is_no_package(tmp_path: Path) -> None:
    assert main(["publish", str(tmp_path), "--to", str(tmp_path / "cards")]) == 2
    assert main(["board", str(tmp_path / "empty"), "--out", str(tmp_path / "site")]) == 2


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_the_board_opens_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    cards = tmp_path / "model-cards"
    assert main(["publish", str(_package(tmp_path / "pkg", run_dir, "sdc_dl")), "--to", str(cards)]) == 0
    assert main(["board", str(cards), "--out", str(tmp_path / "site")]) == 0
    shot = tmp_path / "board.png"
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
         (tmp_path / "site" / "index.html").as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert shot.is_file() and shot.stat().st_size > 1000
