"""Bad run inputs, one line out: ``sdc-bench run`` (and its storage, resume and files) as a user runs it.

A user's mistake exits 2 with exactly one line on stderr naming the culprit and the fix; Ctrl-C exits 130
and keeps every finished cell; a bug exits 1 with a traceback. Most cases stop before training
(``--dry-run`` or an up-front check); the few that train use 40 images at 32 px and the classical method.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from sdc_bench.cli import main
from sdc_bench.core.store import RunStore

PASSWORD = "S3cretPW"

TINY = """
description = "robustness: tiny run"
seed = 3
methods = ["classical"]
backbones = ["tf_efficientnet_lite0"]

[data]
source = "synthspine"
n_images = 40
classes = ["normal", "scoliosis"]
prevalence = [0.5, 0.5]
modalities = ["xray"]
size = 32

[protocol]
outer_folds = 2
inner_val_fraction = 0.5

[train]
device = "cpu"

[throughput]
enabled = false
"""


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("suite") / "tiny.toml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def finished(suite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted run: the reference for resumed ones, and a run folder to resume."""
    out = tmp_path_factory.mktemp("runs") / "finished"
    assert main(["run", "--suite", str(suite), "--out", str(out), "--quiet"]) == 0
    return out


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if not line.startswith("sdc-bench: warning:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    return lines[0]


def _predictions(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "predictions.parquet").drop(columns="run_id")


# ----------------------------------------------------------------------------- settings checked up front
BAD_SETTINGS: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "batch size 0": (["--set", "train.batch_size=0"], ("train.batch_size", "got 0", ">= 1")),
    "unknown device": (["--set", "train.device=tpu9"], ("train.device", "tpu9", "cuda:N")),
    "negative outer folds": (["--set", "protocol.outer_folds=-2"], ("protocol.outer_folds", ">= 2")),
    "one outer fold": (["--set", "protocol.outer_folds=1"], ("protocol.outer_folds", ">= 2")),
    "negative seed": (["--seed", "-1"], ("seed", ">= 0")),
    "seeds not integers": (["--seeds", "0,x"], ("--seeds", "--seeds 0,1,2")),
    "duplicate seeds": (["--seeds", "1,1"], ("protocol.seeds", "once")),
    "negative trials": (["--set", "search.n_trials=-1"], ("search.n_trials", ">= 0")),
    "negative startup trials": (["--set", "search.n_startup_trials=-3"], ("search.n_startup_trials", ">= 0")),
    "misspelt pruner": (["--set", "search.pruner=medain"], ("search.pruner", "hyperband, median, none")),
    "unknown sampler": (["--set", "search.sampler=grid"], ("search.sampler", "tpe, random")),
    "unknown precision": (["--set", "train.precision=fp8"], ("train.precision", "fp32, bf16, fp16")),
    "inner fraction too large": (
        ["--set", "protocol.inner_val_fraction=0.9"],
        ("inner_val_fraction", "[0.05, 0.5]"),
    ),
    "image size too small": (["--set", "data.size=8"], ("data.size", ">= 16")),
    "no images": (["--set", "data.n_images=0"], ("data.n_images", ">= 1")),
    "negative threads": (["--set", "train.threads=-1"], ("train.threads", ">= 0")),
    "negative max epochs": (["--set", "train.max_epochs=-1"], ("train.max_epochs", ">= 0")),
    "throughput steps 0": (["--set", "throughput.timed_steps=0"], ("throughput.timed_steps", ">= 1")),
    "unknown throughput mode": (["--set", "throughput.modes=['fly']"], ("throughput.modes", "infer, train")),
    "unknown modality": (["--set", "data.modalities=['ct']"], ("data.modalities", "xray, mri")),
    "unknown method": (["--set", "methods=['nope']"], ("nope",)),
    "batch size as text": (["--set", "train.batch_size='big'"], ("train.batch_size", "number")),
    "unknown key": (["--set", "train.speed=3"], ("speed", "known keys")),
    "missing suite file": (["--suite", "no-such.toml"], ("no-such.toml", "built-in")),
    "zero workers": (["--workers", "0"], ("--workers", "at least 1")),
    "allow-changed-config alone": (["--allow-changed-config"], ("--allow-changed-config", "--resume")),
}


@pytest.mark.parametrize("case", sorted(BAD_SETTINGS))
def test_a_bad_setting_is_one_line_before_any_work(
    case: str, suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, expected = BAD_SETTINGS[case]
    suite_args = [] if "--suite" in args else ["--suite", str(suite)]
    assert main(["run", *suite_args, "--dry-run", *args]) == 2
    line = _one_line(capsys)
    assert line.startswith("sdc-bench: error: ")
    for text in expected:
        assert text in line, line


# ----------------------------------------------------------------------------- the run folder (--out)
def _out_is_a_file(tmp_path: Path) -> tuple[Path, str]:
    out = tmp_path / "taken"
    out.write_text("not a folder")
    return out, "is a file"


def _out_under_a_file(tmp_path: Path) -> tuple[Path, str]:
    parent = tmp_path / "file.txt"
    parent.write_text("x")
    return parent / "run", "which is a file"


def _out_not_empty(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    return tmp_path / "full", "--resume"


OUT_CASES = {"a file": _out_is_a_file, "under a file": _out_under_a_file, "not empty": _out_not_empty}


@pytest.mark.parametrize("case", sorted(OUT_CASES))
def test_an_unusable_out_folder_is_one_line(
    case: str, suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, expected = OUT_CASES[case](tmp_path)
    assert main(["run", "--suite", str(suite), "--out", str(out), "--quiet"]) == 2
    line = _one_line(capsys)
    assert "--out" in line and str(out) in line and expected in line, line


def test_an_out_folder_that_cannot_be_written_is_one_line(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    real_access = os.access

    def access(path: object, mode: int, **kwargs: object) -> bool:
        # root writes in a 0500 folder anyway: say what the kernel says to any other user
        if Path(str(path)) == locked and mode & os.W_OK:
            return False
        return real_access(path, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    assert main(["run", "--suite", str(suite), "--out", str(locked / "run"), "--quiet"]) == 2
    assert "permission denied" in _one_line(capsys)
    assert not (locked / "run").exists()


# ----------------------------------------------------------------------------- weights files
def test_a_corrupt_weights_file_is_one_line(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    args = ["run", "--suite", str(suite), "--dry-run", "--weights-file", f"tf_efficientnet_lite0={bad}"]
    assert main(args) == 2
    line = _one_line(capsys)
    assert str(bad) in line and "another file" in line


def test_a_checkpoint_with_another_head_is_accepted_without_its_head(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """timm's rule: a classifier of another size (10 classes here) is dropped; the backbone is used."""
    import timm
    from safetensors.torch import save_file

    model = timm.create_model("efficientnet_lite0", num_classes=10)
    path = tmp_path / "head10.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    args = ["run", "--suite", str(suite), "--dry-run", "--weights-file", f"tf_efficientnet_lite0={path}"]
    assert main(args) == 0


# ----------------------------------------------------------------------------- --resume
RESUME_REFUSALS: dict[str, tuple[list[str], str]] = {
    "--set a result setting": (["--set", "data.size=48"], "--set data.size=48"),
    "--set threads without the flag": (["--set", "train.threads=1"], "--set train.threads=1"),
    "--set a result setting with the flag": (
        ["--set", "train.batch_size=8", "--allow-changed-config"],
        "--set train.batch_size=8",
    ),
    "--seed": (["--seed", "9"], "--seed"),
    "--seeds": (["--seeds", "0,1"], "--seeds"),
    "--suite": (["--suite", "quick"], "--suite quick"),
    "--patient-regex": (["--patient-regex", "^(P\\d+)_"], "--patient-regex"),
    "--no-models": (["--no-models"], "--no-models"),
}


@pytest.mark.parametrize("case", sorted(RESUME_REFUSALS))
def test_resume_refuses_options_that_change_results(
    case: str, finished: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, culprit = RESUME_REFUSALS[case]
    before = (finished / "run.json").read_bytes()
    assert main(["run", "--resume", str(finished), "--quiet", *args]) == 2
    line = _one_line(capsys)
    assert culprit in line and "start a new run" in line and "--allow-changed-config" in line, line
    assert (finished / "run.json").read_bytes() == before


def test_resume_accepts_a_result_neutral_change_with_the_flag(finished: Path) -> None:
    args = [
        "run",
        "--resume",
        str(finished),
        "--dry-run",
        "--set",
        "train.threads=1",
        "--allow-changed-config",
    ]
    assert main(args) == 0


def test_resume_with_other_data_is_refused(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--resume", str(finished), "--data", str(tmp_path), "--quiet"]) == 2
    assert "--data" in _one_line(capsys)


def test_resume_refuses_data_whose_fingerprint_changed(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    run_json = copy / "run.json"
    RunStore(copy).update_manifest(lambda m: m.replace(data=replace(m.data, fingerprint="0123456789abcdef")))
    assert main(["run", "--resume", str(copy), "--quiet"]) == 2
    line = _one_line(capsys)
    assert "fingerprint" in line and "start a new run" in line
    assert json.loads(run_json.read_text())["data"]["fingerprint"] == "0123456789abcdef"  # not overwritten


@pytest.mark.parametrize("damage", ["truncated", "not a run"])
def test_a_damaged_run_json_is_one_line(
    damage: str, finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    text = (copy / "run.json").read_text()
    (copy / "run.json").write_text(text[: len(text) // 2] if damage == "truncated" else "[1, 2]")
    assert main(["run", "--resume", str(copy), "--quiet"]) == 2
    line = _one_line(capsys)
    assert str(copy / "run.json") in line and "damaged" in line


def test_resume_of_a_folder_without_run_json_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--resume", str(tmp_path), "--quiet"]) == 2
    assert "no run.json" in _one_line(capsys)


# ----------------------------------------------------------------------------- nothing computed is lost
def test_an_interrupt_keeps_finished_cells_and_resume_completes_them(
    suite: Path,
    finished: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sdc_bench.benchmark.runner as runner

    real = runner.run_cell
    calls = {"n": 0}

    def interrupt_second(cell, ctx):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(cell, ctx)

    monkeypatch.setattr(runner, "run_cell", interrupt_second)
    out = tmp_path / "interrupted"
    assert main(["run", "--suite", str(suite), "--out", str(out), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert (
        err.strip()
        == f"sdc-bench: interrupted; finished cells are kept, continue with sdc-bench run --resume {out}"
    )
    assert len(list((out / "cells").glob("*.parquet"))) == 1
    stopped = json.loads((out / "run.json").read_text())
    assert stopped["status"] == "interrupted" and len(stopped["segments"]) == 1
    monkeypatch.setattr(runner, "run_cell", real)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a resume from another working directory finds everything
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    pd.testing.assert_frame_equal(_predictions(out), _predictions(finished))
    payload = json.loads((out / "run.json").read_text())
    assert [s["status"] for s in payload["segments"]] == ["interrupted", "done"]
    assert payload["seconds"] == pytest.approx(sum(s["seconds"] for s in payload["segments"]), abs=0.11)


def test_a_corrupt_cell_file_is_recomputed_and_logged(finished: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    cell = sorted((copy / "cells").glob("*.parquet"))[0]
    cell.write_bytes(cell.read_bytes()[:50])
    assert main(["run", "--resume", str(copy), "--quiet"]) == 0
    pd.testing.assert_frame_equal(_predictions(copy), _predictions(finished))
    assert f"cell {cell.stem}" in (copy / "log.txt").read_text()
    assert (cell.parent / (cell.name + ".corrupt")).is_file()


# ----------------------------------------------------------------------------- secrets and storage
def test_an_unreachable_storage_is_one_line_and_its_password_is_never_written(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    url = f"postgresql://u:{PASSWORD}@127.0.0.1:1/db"
    assert main(["run", "--suite", str(suite), "--out", str(out), "--quiet", "--storage", url]) == 2
    err = capsys.readouterr().err
    assert PASSWORD not in err
    lines = [line for line in err.strip().splitlines() if "warning" not in line]
    assert len(lines) == 1 and "cannot reach the Optuna storage postgresql://u:***@127.0.0.1:1/db" in lines[0]
    assert "PGPASSWORD" in err  # the warning says where a password belongs
    for path in out.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    assert json.loads((out / "run.json").read_text())["storage"] == "postgresql://u@127.0.0.1:1/db"


def test_local_workers_get_the_password_in_their_environment_not_their_arguments(tmp_path: Path) -> None:
    from sdc_bench.benchmark.runner import RunOptions, worker_command
    from sdc_bench.core.optuna_storage import PASSWORD_ENV

    command, env = worker_command(tmp_path, f"postgresql://u:{PASSWORD}@host/db", RunOptions())
    assert PASSWORD not in " ".join(command)
    assert "postgresql://u@host/db" in command
    assert env[PASSWORD_ENV] == PASSWORD


def test_an_unknown_storage_is_one_line(
    suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["run", "--suite", str(suite), "--out", str(out), "--quiet", "--storage", "mongodb://x"]) == 2
    assert "--storage" in _one_line(capsys)
    assert not out.exists()  # refused before the run folder and its data


def test_an_unknown_storage_is_refused_before_the_suite_is_read(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sdc_bench.benchmark.suite as suite_module

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the suite was loaded before the storage was checked")

    monkeypatch.setattr(suite_module, "load_suite", never)
    assert main(["run", "--suite", "smoke", "--storage", "mongodb://x", "--dry-run"]) == 2
    line = _one_line(capsys)
    assert "--storage 'mongodb://x'" in line and "postgresql://" in line


# ----------------------------------------------------------------------------- errors inside Optuna trials
@pytest.mark.parametrize("raised", ["config error", "interrupt"])
def test_an_error_in_a_trial_reaches_the_caller_without_optuna_s_traceback(
    raised: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from sdc_bench.benchmark.suite import SearchSpec
    from sdc_bench.benchmark.sweep import search
    from sdc_bench.core.errors import ConfigError
    from sdc_bench.core.optuna_storage import open_storage

    error = ConfigError("inner split: one class only") if raised == "config error" else KeyboardInterrupt()

    def objective(trial, params):  # type: ignore[no-untyped-def]
        raise error

    storage = open_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
    with caplog.at_level(logging.WARNING), pytest.raises(type(error)):
        search("s", storage, SearchSpec(n_trials=2, pruner="none"), 0, 2, lambda t: {}, objective)
    assert "failed" not in caplog.text


# ----------------------------------------------------------------------------- the boundary itself
def test_a_full_disk_keeps_the_old_file_and_names_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sdc_bench.core import store
    from sdc_bench.core.errors import DiskFullError

    target = tmp_path / "run.json"
    store.write_json(target, {"old": True})

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.os, "replace", full)
    with pytest.raises(DiskFullError, match=f"disk full: writing run.json needs .* in {tmp_path}"):
        store.write_json(target, {"new": True})
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temporary file left behind


def test_run_files_follow_the_umask(tmp_path: Path) -> None:
    from sdc_bench.core.store import write_json

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "run.json", {})
    finally:
        os.umask(old)
    assert (tmp_path / "run.json").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("raised", "code", "expected"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/data/run/x"),
            2,
            "disk full while writing /data/run/x",
        ),
        (PermissionError(errno.EACCES, "Permission denied", "/data/x"), 2, "/data/x: Permission denied"),
        (RuntimeError("boom"), 1, "this is a bug"),
    ],
)
def test_the_boundary_sorts_user_errors_from_bugs(
    raised: BaseException,
    code: int,
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sdc_bench.cli import _commands

    def fail(args: object) -> int:
        raise raised

    monkeypatch.setattr(_commands, "cmd_list", fail)
    assert main(["list", "methods"]) == code
    err = capsys.readouterr().err
    assert expected in err
    assert ("Traceback" in err) == (code == 1)
