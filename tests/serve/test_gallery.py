"""The report gallery: a run's most confidently wrong out-of-fold cases, explained by their own fold's model."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sdc_bench.cli import main
from sdc_bench.core.contracts import OOF_SPLIT
from sdc_bench.core.store import RunStore
from sdc_bench.reports.sections import ReportContext, ReportWriter
from sdc_bench.reports.sections.error_gallery import GALLERY_JSON_PATH, gallery_section
from sdc_bench.serve.gallery_overlays import GALLERY_JSON, gallery_dir, write_gallery

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pytorch_grad_cam") is None,
    reason="grad-cam (extra 'saliency') is not installed",
)


def _gallery(root: Path) -> dict:
    return json.loads((root / GALLERY_JSON_PATH).read_text())


def _context(root: Path) -> ReportContext:
    return ReportContext(
        root=root, run={}, predictions=pd.DataFrame(), metrics=pd.DataFrame(), comparisons=pd.DataFrame(),
        reference="scratch", writer=ReportWriter(RunStore(root), draw=True), palette={}, markers={},
        skipped=[], n_bootstrap=0, seed=0, rules=pd.DataFrame(), flags=[], small_n=[],
    )  # fmt: skip


def test_the_section_and_the_module_agree_on_the_path(tmp_path: Path) -> None:
    assert gallery_dir(tmp_path) / GALLERY_JSON == tmp_path / GALLERY_JSON_PATH


def test_run_writes_the_most_confidently_wrong_cases_with_their_folds_overlays(run_dir: Path) -> None:
    record = _gallery(run_dir)
    assert record["reason"] is None
    entries = {entry["method"]: entry for entry in record["methods"]}
    assert "features-kind" in entries["classical"]["reason"] and not entries["classical"]["cases"]
    cases = entries["scratch"]["cases"]
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    oof = predictions[(predictions["method"] == "scratch") & (predictions["split"] == OOF_SPLIT)]
    wrong = oof[oof["y_true"] != oof["y_pred"]]
    assert 0 < len(cases) == min(6, wrong["sample_id"].nunique())
    probabilities = [case["probability"] for case in cases]
    assert probabilities == sorted(probabilities, reverse=True)
    top = max(float(row[f"p_{row['y_pred']}"]) for _, row in wrong.iterrows())
    assert probabilities[0] == pytest.approx(top, abs=1e-4)
    origin = json.loads((run_dir / "run.json").read_text())["data"]["origin"]
    source = pd.read_csv(Path(origin.removeprefix("synthspine:")) / "manifest.csv").set_index("sample_id")
    for case in cases:
        row = oof[oof["sample_id"] == case["sample_id"]].iloc[0]
        assert case["true"] == row["y_true"] != case["predicted"] == row["y_pred"]
        assert case["outer_fold"] == row["outer_fold"]  # its own fold's model explained it
        png = run_dir / case["png"]
        assert png.parent == gallery_dir(run_dir) / "scratch"
        original = Image.open(
            Path(origin.removeprefix("synthspine:")) / source.loc[case["sample_id"], "path"]
        )
        with Image.open(png) as overlay:
            assert overlay.size == original.size and overlay.mode == "RGB"
    report = (run_dir / "report.md").read_text()
    assert "## Confidently wrong cases" in report and "figures/gallery_scratch.png" in report
    assert "Classical HOG+LR: no gallery: a features-kind method" in report


def test_section_without_gallery_json_says_how_to_make_it(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    section = gallery_section(ctx)
    assert section.skipped and "sdc-bench report" in section.skipped and not section.items
    assert ctx.skipped == ["gallery (figures/gallery/gallery.json)"]


def test_section_shows_each_methods_cases(run_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "run"
    shutil.copytree(gallery_dir(run_dir), gallery_dir(root))
    section = gallery_section(_context(root))
    assert section.skipped is None
    names = [item.name for item in section.items]
    assert names == ["gallery_cases", "gallery_scratch"]
    table = section.items[0].table  # type: ignore[union-attr]
    assert list(table.columns[-3:]) == ["True class", "Predicted class", "Probability"]
    with Image.open(root / "figures" / "gallery_scratch.png") as figure:
        assert figure.size[0] > 300


def test_without_models_the_gallery_says_why(run_dir: Path, tmp_path: Path, capsys) -> None:
    root = tmp_path / "run"
    shutil.copytree(run_dir, root)
    shutil.rmtree(root / "models")
    write_gallery(root)
    assert "no kept models" in _gallery(root)["reason"]
    assert not list(gallery_dir(root).rglob("*.png"))
    RunStore(root).update_manifest(lambda m: m.replace(keep_models=False))
    assert main(["report", str(root)]) == 0  # the report command remakes the gallery first
    assert "--no-models" in _gallery(root)["reason"]
    assert "_Skipped: the run was made with --no-models" in (root / "report.md").read_text()


def test_a_missing_image_leaves_its_case_out(run_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "run"
    shutil.copytree(run_dir, root, ignore=shutil.ignore_patterns("figures", "report.*"))
    first = _gallery(run_dir)["methods"][1]["cases"][0]["sample_id"]
    manifest = pd.read_parquet(root / "manifest.parquet")
    origin = json.loads((root / "run.json").read_text())["data"]["origin"].removeprefix("synthspine:")
    paths = pd.read_csv(Path(origin) / "manifest.csv").set_index("sample_id")["path"]
    manifest["path"] = [
        str(tmp_path / "gone.png") if s == first else str(Path(origin) / paths[s])
        for s in manifest["sample_id"]
    ]
    manifest.to_parquet(root / "manifest.parquet")  # a manifest with paths is used as it is
    write_gallery(root)
    entry = _gallery(root)["methods"][1]
    assert first not in [case["sample_id"] for case in entry["cases"]]
    assert entry["left_out"] and entry["left_out"][0].startswith(f"{first}: ")
    assert np.all([(root / case["png"]).is_file() for case in entry["cases"]])
