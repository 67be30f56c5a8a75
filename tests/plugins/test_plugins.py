"""Plugins end to end: listed with their origin, run, recorded in run.json, resumed, exported and predicted;
a broken plugin (syntax error, duplicate name, wrong output shape, ignored generator) and a plugin edited
after its run began each stop the command with one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.cli import main
from sdc_bench.plugins import restored_registries
from sdc_bench.zoo.methods import METHODS
from tests.plugins.plugin_files import BROKEN, GOOD, SUITE


@pytest.fixture(autouse=True)
def _clean_registries() -> Iterator[None]:
    with restored_registries():
        yield


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if not line.startswith("sdc-bench: warning:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's project folder: the plugin and the suite that names it (relative to the suite)."""
    folder = tmp_path_factory.mktemp("project")
    (folder / "good_plugin.py").write_text(GOOD)
    (folder / "suite.toml").write_text(SUITE)
    return folder


@pytest.fixture(scope="module")
def run_dir(project: Path) -> Path:
    out = project / "run"
    with restored_registries():
        assert main(["run", "--suite", str(project / "suite.toml"), "--out", str(out), "--quiet"]) == 0
    return out


def test_list_shows_a_plugins_entries_with_their_origin(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = str(project / "good_plugin.py")
    assert main(["list", "methods", "--plugin", plugin, "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["tiny_scratch"]["origin"] == plugin
    assert rows["sdc_dl"]["origin"] == "sdc_bench"
    assert list(rows["sdc_dl"])[-2:] == ["origin", "description"]


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_plugin_stops_list_and_run_with_one_line(
    name: str, tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = BROKEN[name]
    plugin = tmp_path / f"{name}.py"
    plugin.write_text(text)
    assert main(["list", "methods", "--plugin", str(plugin)]) == 2
    line = _one_line(capsys)
    assert line.startswith(f"sdc-bench: error: plugin {plugin}: ") and expected in line, line
    suite = str(project / "suite.toml")
    assert main(["run", "--suite", suite, "--plugin", str(plugin), "--dry-run"]) == 2
    assert expected in _one_line(capsys)
    assert METHODS.origin("scratch") == "sdc_bench"  # what the broken plugin added was taken back out
    assert "no_pooling" not in str(METHODS.names())


def test_a_missing_plugin_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "methods", "--plugin", str(tmp_path / "absent.py")]) == 2
    assert "no such file" in _one_line(capsys)
    assert main(["list", "methods", "--plugin", "no_such_module_here.plugins"]) == 2
    assert "no such file or module" in _one_line(capsys)


def test_run_json_records_the_plugin(run_dir: Path, project: Path) -> None:
    manifest = json.loads((run_dir / "run.json").read_text())
    (plugin,) = manifest["plugins"]
    assert plugin["kind"] == "file" and plugin["source"] == str(project / "good_plugin.py")
    assert len(plugin["sha256"]) == 64
    assert plugin["registered"] == {"backbones": ["tiny_net"], "methods": ["tiny_scratch"]}
    assert manifest["suite"]["plugins"] == [str(project / "good_plugin.py")]
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    assert set(predictions["method"]) == {"tiny_scratch"} and set(predictions["backbone"]) == {"tiny_net"}


def test_resume_and_worker_refuse_an_edited_plugin(
    run_dir: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = project / "good_plugin.py"
    original = plugin.read_text()
    try:
        plugin.write_text(original + "\n# edited after the run began\n")
        assert main(["run", "--resume", str(run_dir), "--quiet"]) == 2
        line = _one_line(capsys)
        assert f"plugin {plugin} changed since the run began" in line and "start a new run" in line
        assert main(["worker", str(run_dir), "--quiet"]) == 2
        assert "changed since the run began" in _one_line(capsys)
        assert main(["export", str(run_dir), "--method", "tiny_scratch", "--out", str(project / "p0")]) == 2
        assert "changed since the run began" in _one_line(capsys)
    finally:
        plugin.write_text(original)


def test_resume_with_an_unchanged_plugin_recomputes_nothing(run_dir: Path) -> None:
    before = pd.read_parquet(run_dir / "predictions.parquet")
    assert main(["run", "--resume", str(run_dir), "--quiet"]) == 0
    after = pd.read_parquet(run_dir / "predictions.parquet")
    pd.testing.assert_frame_equal(before, after)


def test_export_and_predict_rebuild_the_plugins_network(run_dir: Path, project: Path, tmp_path: Path) -> None:
    package = tmp_path / "package"
    with restored_registries():
        argv = ["export", str(run_dir), "--method", "tiny_scratch", "--out", str(package), "--quiet"]
        assert main(argv) == 0
    info = json.loads((package / "package.json").read_text())
    assert [p["source"] for p in info["plugins"]] == ["plugins/good_plugin.py"]
    assert (package / "plugins" / "good_plugin.py").read_text() == (project / "good_plugin.py").read_text()
    assert "tiny_scratch" not in METHODS  # as in a new process: predict loads the plugin from the package
    images = tmp_path / "images"
    synth = ["--n", "6", "--size", "32", "--classes", "normal,scoliosis", "--modalities", "xray"]
    assert main(["data", "synth", "--out", str(images), *synth]) == 0
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(package), "--data", str(images / "manifest.csv"), "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert len(frame) == 6 and {"p_normal", "p_scoliosis"} <= set(frame.columns)
