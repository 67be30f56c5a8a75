"""The examples run as their READMEs say: examples/my_method/ (a plugin method against SDC-DL, then export and
predict of the plugin's model) and examples/my_data/ (the same suite on a folder of class sub-folders)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.cli import main
from sdc_bench.plugins import restored_registries
from sdc_bench.testing import check_backbone, check_method

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SUITE = str(EXAMPLES / "my_method" / "suite.toml")
PLUGIN = str(EXAMPLES / "my_method" / "my_methods.py")


@pytest.fixture(autouse=True)
def _clean_registries() -> Iterator[None]:
    with restored_registries():
        yield


def test_the_example_plugin_passes_the_kit_and_lists_with_its_origin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["list", "methods", "--plugin", PLUGIN, "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["small_scratch"]["origin"] == PLUGIN
    check_method("small_scratch")
    check_backbone("mobilenetv3_small_050")


def _make_images(out: Path) -> Path:
    spec = importlib.util.spec_from_file_location("make_images", EXAMPLES / "my_data" / "make_images.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_images(out)  # type: ignore[no-any-return]


@pytest.mark.slow
def test_my_method_runs_against_sdc_dl_then_exports_and_predicts(tmp_path: Path) -> None:
    run = tmp_path / "my_method"
    assert main(["run", "--suite", SUITE, "--out", str(run), "--quiet"]) == 0
    table = pd.read_csv(run / "tables" / "main_comparison.csv", keep_default_na=False)
    assert {"SDC-DL", "Small CNN (scratch)"} <= set(table.iloc[:, 0].str.rstrip("†§*"))
    package = tmp_path / "package"
    assert main(["export", str(run), "--method", "small_scratch", "--out", str(package), "--quiet"]) == 0
    images = _make_images(tmp_path / "images")
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(package), "--data", str(images), "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == 160


@pytest.mark.slow
def test_my_data_runs_the_suite_on_a_folder_of_class_folders(tmp_path: Path) -> None:
    images = _make_images(tmp_path / "my_images")
    run = tmp_path / "my_data"
    argv = ["run", "--suite", SUITE, "--data", str(images), "--patient-regex", r"(.+)_\d+\.png"]
    assert main([*argv, "--out", str(run), "--quiet"]) == 0
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["data"]["n_images"] == 160 and manifest["data"]["n_patients"] < 160
    assert {p["source"] for p in manifest["plugins"]} == {PLUGIN}
