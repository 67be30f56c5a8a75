"""Tests of sdc_bench.reports.build and .report: a full build writes every artifact, the HTML
report is self-contained, a run without optional artifacts still builds, and builds are
deterministic."""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.core.errors import DataError, RunManifestError
from sdc_bench.core.run_manifest import RunManifest, example_payload
from sdc_bench.core.store import RunStore
from sdc_bench.reports import style
from sdc_bench.reports.build import build_reports
from tests.reports.fixtures import SyntheticRun, make_synthetic_run

FULL = SyntheticRun(
    methods=("sdc_dl", "scratch", "classical", "sdc_dl_no_aug"),
    backbones=("resnet18",),
    n_folds=3,
    n_patients=60,
    n_trials=5,
)
MINIMAL = SyntheticRun(
    methods=("sdc_dl", "scratch", "linear_probe"),
    backbones=("resnet18",),
    n_folds=2,
    n_patients=40,
    external=False,
    throughput=False,
    optuna=False,
)
SECTIONS = (
    "Summary",
    "Caveats",
    "Data",
    "Protocol",
    "Results",
    "Per class",
    "Backbones",
    "Ablations",
    "Imbalance strategies",
    "External validation",
    "Throughput",
    "Hyperparameter search",
    "Training cells",
    "Confidently wrong cases",
    "Environment",
)
FIGURES = (
    "sample_grid",
    "method_comparison",
    "fold_scores",
    "per_class_sensitivity_specificity",
    "roc_curves",
    "confusion_counts",
    "confusion_normalised",
    "reliability",
    "external_validation",
    "optuna_history",
    "learning_curves",
)  # no pareto_front (one backbone), no param_importances (5 trials) and no critical_difference (3 folds):
# below their declared minimums
TABLES = (
    "dataset_flow",
    "main_comparison",
    "fold_summary",
    "comparisons",
    "per_class",
    "per_backbone",
    "ablations",
    "imbalance",
    "external",
    "throughput",
    "search",
    "selected_params",
)


@pytest.fixture(scope="module", autouse=True)
def fast_png() -> object:
    """Files, not resolution, are under test: a lower PNG resolution keeps the suite quick."""
    original = style.PNG_DPI
    style.PNG_DPI = 60
    yield
    style.PNG_DPI = original


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = make_synthetic_run(tmp_path_factory.mktemp("full"), FULL)
    # the gallery is made from kept models (serve/gallery_overlays.py); a stored one without cases is enough here
    gallery = {
        "reason": None,
        "methods": [{"method": "sdc_dl", "reason": "no wrong predictions", "cases": []}],
    }
    (root / "figures" / "gallery").mkdir(parents=True)
    (root / "figures" / "gallery" / "gallery.json").write_text(json.dumps(gallery))
    started = time.perf_counter()
    written = build_reports(root, n_bootstrap=100, seed=0)
    return {"root": root, "written": written, "seconds": time.perf_counter() - started}


def snapshot(root: Path) -> dict[str, bytes]:
    files = [root / "metrics.csv", root / "comparisons.csv", *sorted((root / "tables").iterdir())]
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def test_full_build_writes_every_table_and_figure(full: dict) -> None:
    root = full["root"]
    written = set(full["written"])
    for name in TABLES:
        for suffix in (".csv", ".md", ".tex"):
            path = root / "tables" / f"{name}{suffix}"
            assert path in written and path.stat().st_size > 0, path
    for name in FIGURES:
        for suffix in (".pdf", ".png"):
            path = root / "figures" / f"{name}{suffix}"
            assert path in written and path.stat().st_size > 1000, path
    for name in ("metrics.csv", "comparisons.csv", "report.md", "report.html"):
        assert root / name in written
    metrics = pd.read_csv(root / "metrics.csv")
    assert {"method", "metric", "value", "ci_low", "ci_high"} <= set(metrics.columns)


def test_report_html_is_self_contained(full: dict) -> None:
    page = (full["root"] / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert len(sources) == len(FIGURES)
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))
    assert "<link" not in page and "<script" not in page
    assert "<table>" in page and "<strong>" in page and "<sup>*</sup>" in page
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in page


def test_report_md_has_every_section_in_order(full: dict) -> None:
    text = (full["root"] / "report.md").read_text()
    positions = [text.index(f"\n## {title}\n") for title in SECTIONS]
    assert positions == sorted(positions)
    assert "Skipped" not in text  # every optional artifact is present
    for name in FIGURES:
        assert f"(figures/{name}.png)" in text
    for phrase in (
        "Inner validation fraction",
        "Hyperparameter search",
        "n_trials=5",
        "Audit warnings",
        "optuna 5.0.0",
    ):
        assert phrase in text, phrase
    assert "Pareto front not drawn: an accuracy/throughput Pareto front needs at least 2" in text
    assert "Friedman test over 3 outer folds" not in text  # below its declared 5 blocks
    assert (
        "No Friedman test or critical-difference diagram: a Friedman test with its critical-difference "
        in text
    )


def test_build_is_deterministic(full: dict) -> None:
    root = full["root"]
    first = snapshot(root)
    build_reports(root, n_bootstrap=100, seed=0, draw_figures=False)
    assert snapshot(root) == first


def test_build_without_optional_artifacts(tmp_path: Path) -> None:
    root = make_synthetic_run(tmp_path / "minimal", MINIMAL)
    for name in ("audit.json", "samples.npz", "manifest.parquet", "splits.json"):
        (root / name).unlink()
    shutil.rmtree(root / "cells")
    written = build_reports(root, n_bootstrap=50, seed=0)
    text = (root / "report.md").read_text()
    for title in SECTIONS:
        assert f"\n## {title}\n" in text
    for phrase in (
        "Dataset flow skipped",
        "Split audit skipped",
        "_Skipped: no ablation",
        "_Skipped: no `external:<name>` split",
        "_Skipped: no `throughput.csv`",
        "_Skipped: no `optuna.db`",
        "_Skipped: no `cells/*.json`",
    ):
        assert phrase in text, phrase
    names = {p.name for p in written}
    assert "main_comparison.tex" in names and "roc_curves.png" in names
    assert (
        not {"pareto_front.png", "optuna_history.png", "external_validation.png", "sample_grid.png"} & names
    )
    assert 'src="data:image/png;base64,' in (root / "report.html").read_text()


def test_missing_predictions_is_a_clear_error(tmp_path: Path) -> None:
    RunStore(tmp_path).write_manifest(RunManifest.from_json(example_payload()))
    with pytest.raises(DataError, match=r"predictions\.parquet does not exist"):
        build_reports(tmp_path)


def test_a_folder_without_run_json_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RunManifestError, match=r"no run\.json there"):
        build_reports(tmp_path)


@pytest.mark.parametrize("named", ["scratch", "sdc_dl"])
def test_reference_is_the_proposed_method_run_json_names(tmp_path: Path, named: str) -> None:
    """The report compares against run.json's ``proposed_method``."""
    root = make_synthetic_run(tmp_path / "run", MINIMAL)
    RunStore(root).update_manifest(lambda m: m.replace(proposed_method=named))
    build_reports(root, n_bootstrap=20, seed=0, draw_figures=False)
    comparisons = pd.read_csv(root / "comparisons.csv")
    assert not comparisons.empty
    assert comparisons["reference"].str.startswith(named).all()
    assert named not in set(comparisons["method"])


def test_prose_names_methods_by_display_name(full: dict) -> None:
    """A reader sees 'SDC-DL' in sentences and captions, not the registry id 'sdc_dl'."""
    page = (full["root"] / "report.html").read_text()
    assert "configurations compared with SDC-DL are" in page and "Comparisons with SDC-DL:" in page
    assert "every configuration with SDC-DL (" in page
    assert "SDC-DL: no gallery: no wrong predictions." in page
    assert not re.search(r"(compared with|Comparisons with|configuration with) sdc_dl\b", page)


def test_figures_share_one_type_size_in_the_html(full: dict) -> None:
    """A one-column figure was stretched to the page width, its text twice the size of a two-column one's."""
    page = (full["root"] / "report.html").read_text()
    for width, data in re.findall(
        r'<img alt="[^"]*" width="(\d+)" src="data:image/png;base64,([^"]+)"', page
    ):
        png = base64.b64decode(data)
        assert int(width) == int.from_bytes(png[16:20], "big") // 2
    assert len(re.findall(r"<img ", page)) == len(re.findall(r'<img alt="[^"]*" width="\d+"', page))
