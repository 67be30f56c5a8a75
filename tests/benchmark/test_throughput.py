from __future__ import annotations

import argparse
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sdc_bench.benchmark.throughput import (
    COLUMNS,
    ThroughputConfig,
    measure,
    peak_tflops,
    reference_images_per_s,
    timing,
)
from sdc_bench.benchmark.throughput import table as throughput_table
from sdc_bench.cli._throughput_args import add_throughput_cli as add_cli
from sdc_bench.core.errors import ConfigError, UnknownNameError
from sdc_bench.pipeline import throughput_command as cli_main
from sdc_bench.reports.throughput_view import markdown_table, write_throughput
from sdc_bench.zoo.backbones import count_gflops, count_params, create_backbone

TINY = {"img_size": 32, "device": "cpu", "warmup_steps": 1, "timed_steps": 2}
SCHEMA = (
    "backbone", "device", "device_name", "precision", "channels_last", "compiled", "batch_size", "img_size",
    "mode", "images_per_s", "latency_ms_p50", "latency_ms_p95", "peak_mem_mb", "params_m", "gflops",
)  # fmt: skip
EXTRA = (
    "threads", "load", "omp_wait", "contention", "requested_batch_size", "in_chans", "achieved_tflops", "peak_tflops", "fraction_of_peak", "status", "error",
    "torch_version", "timestamp",
)  # fmt: skip
GRID = ThroughputConfig(
    ("resnet10t",), batch_sizes=(2, 3), precisions=("fp32", "bf16"), channels_last=(False, True), **TINY
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    # tiny models gain nothing from a second thread, and one thread does not stall when the cores are shared
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def table(_one_thread: None) -> pd.DataFrame:
    return measure(GRID, progress=False)


def test_schema_is_design_columns_plus_extras(table: pd.DataFrame) -> None:
    assert list(table.columns) == list(COLUMNS)
    assert set(COLUMNS) == set(SCHEMA) | set(EXTRA)
    assert len(COLUMNS) == len(SCHEMA) + len(EXTRA)


def test_one_row_per_configuration(table: pd.DataFrame) -> None:
    keys = ["backbone", "batch_size", "precision", "channels_last", "compiled", "mode"]
    expected = set(
        itertools.product(
            GRID.backbones, GRID.batch_sizes, GRID.precisions, GRID.channels_last, GRID.compile, GRID.modes
        )
    )
    assert len(table) == len(expected) == 16
    assert set(map(tuple, table[keys].to_numpy().tolist())) == expected
    assert (table["status"] == "ok").all() and (table["error"] == "").all()
    assert (table["device"] == "cpu").all() and (table["img_size"] == 32).all()
    assert (table["threads"] == torch.get_num_threads()).all()
    assert (table["requested_batch_size"] == table["batch_size"]).all()
    assert (table["torch_version"] == torch.__version__).all()


def test_rates_are_consistent(table: pd.DataFrame) -> None:
    assert (table["images_per_s"] > 0).all()
    np.testing.assert_allclose(table["images_per_s"], table["batch_size"] / (table["latency_ms_p50"] / 1000))
    assert (table["latency_ms_p95"] >= table["latency_ms_p50"]).all()
    factor = table["mode"].map({"infer": 1, "train": 3})
    np.testing.assert_allclose(
        table["achieved_tflops"], table["gflops"] * table["images_per_s"] * factor / 1000
    )
    # a CPU has no datasheet peak
    assert table["peak_tflops"].isna().all() and table["fraction_of_peak"].isna().all()
    assert table["peak_mem_mb"].isna().all() or (table["peak_mem_mb"].dropna() >= 0).all()


def test_cpu_rows_have_no_peak_memory_and_a_load(table: pd.DataFrame) -> None:
    # RSS growth on a CPU is no peak memory (the allocator reuses what it kept): NaN, not 0.19 MB
    assert table["peak_mem_mb"].isna().all()
    loads = table["load"].astype(float)
    assert loads.isna().all() or (loads.dropna() >= 0).all()


def test_under_load_reads_the_load_per_core() -> None:
    from sdc_bench.reports.throughput_view import LOAD_LIMIT, under_load

    rows = pd.DataFrame(
        {
            "latency_ms_p50": [1.0, 1.0, 1.0],
            "latency_ms_p95": [1.1, 1.1, 1.1],
            "load": [0.9, LOAD_LIMIT + 0.5, np.nan],
        }
    )
    assert under_load(rows).index.tolist() == [1]  # its own threads (~1 per core) are not a load


def test_gflops_and_params_match_a_recount(table: pd.DataFrame) -> None:
    model = create_backbone("resnet10t", num_classes=GRID.num_classes, in_chans=GRID.in_chans).model
    assert table["params_m"].iloc[0] == pytest.approx(count_params(model) / 1e6)
    assert table["gflops"].iloc[0] == pytest.approx(count_gflops(model, GRID.in_chans, 32))
    assert table["gflops"].nunique() == 1 and table["params_m"].nunique() == 1


def test_bf16_rows_run_on_cpu(table: pd.DataFrame) -> None:
    bf16 = table[table["precision"] == "bf16"]
    assert len(bf16) == 8 and (bf16["status"] == "ok").all() and (bf16["images_per_s"] > 0).all()


def test_fp16_on_cpu_is_a_skipped_row_with_a_reason(caplog: pytest.LogCaptureFixture) -> None:
    config = ThroughputConfig(
        ("resnet10t",), batch_sizes=(2,), precisions=("fp16",), modes=("infer",), **TINY
    )
    row = measure(config, progress=False).iloc[0]
    assert row["status"] == "skipped" and "fp16" in row["error"] and "bf16" in row["error"]
    assert math.isnan(row["images_per_s"]) and math.isnan(row["latency_ms_p50"])
    assert row["gflops"] > 0  # the static columns are still filled
    assert "fp16" in caplog.text


def _fake_clock(durations: list[float]) -> Callable[[], float]:
    """perf_counter stand-in: call 2k starts step k, call 2k+1 ends it ``durations[k]`` later."""

    def ticks() -> Iterator[float]:
        now = 100.0
        for duration in durations:
            yield now
            now += duration
            yield now
            now += 1.0  # time between steps is not counted

    source = ticks()
    return lambda: next(source)


@pytest.mark.parametrize(
    ("durations", "repeats", "p50"),
    [([0.1, 0.3, 0.2], 1, 0.2), ([0.1, 0.3, 0.2, 0.4, 0.5, 0.4], 2, 0.3)],
)
def test_images_per_s_is_batch_over_median_step(
    monkeypatch: pytest.MonkeyPatch, durations: list[float], repeats: int, p50: float
) -> None:
    monkeypatch.setattr(timing, "_clock", _fake_clock(durations))
    config = ThroughputConfig(
        ("resnet10t",), batch_sizes=(4,), modes=("infer",), **{**TINY, "timed_steps": 3}, repeats=repeats
    )
    row = measure(config, progress=False).iloc[0]
    assert row["latency_ms_p50"] == pytest.approx(p50 * 1000)
    assert row["images_per_s"] == pytest.approx(4 / p50)
    assert row["latency_ms_p95"] == pytest.approx(np.percentile(durations, 95) * 1000)


def _oom_above(limit: int | None, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    tried: list[int] = []
    real = timing._timed_run

    def fake(case, batch_size, config, device):  # type: ignore[no-untyped-def]
        tried.append(batch_size)
        if limit is None or batch_size > limit:
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {batch_size} GiB")
        return real(case, batch_size, config, device)

    monkeypatch.setattr(timing, "_timed_run", fake)
    return tried


def test_out_of_memory_halves_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    tried = _oom_above(2, monkeypatch)
    config = ThroughputConfig(("resnet10t",), batch_sizes=(8,), modes=("infer",), **TINY)
    row = measure(config, progress=False).iloc[0]
    assert tried == [8, 4, 2]
    assert row["batch_size"] == 2 and row["requested_batch_size"] == 8 and row["status"] == "ok"
    assert row["images_per_s"] == pytest.approx(2 / (row["latency_ms_p50"] / 1000))


def test_out_of_memory_at_batch_one_is_a_failed_row(monkeypatch: pytest.MonkeyPatch) -> None:
    tried = _oom_above(None, monkeypatch)
    config = ThroughputConfig(("resnet10t",), batch_sizes=(4,), modes=("train",), **TINY)
    row = measure(config, progress=False).iloc[0]
    assert tried == [4, 2, 1]
    assert row["status"] == "failed" and row["batch_size"] == 1 and "out of memory" in row["error"]
    assert math.isnan(row["images_per_s"])


def test_compile_failure_is_recorded_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_compile(model: torch.nn.Module, **kwargs: object) -> torch.nn.Module:
        raise RuntimeError("no working C++ compiler\nlong traceback ...")

    monkeypatch.setattr(torch, "compile", broken_compile)
    config = ThroughputConfig(
        ("resnet10t",), batch_sizes=(2,), modes=("infer",), compile=(False, True), **TINY
    )
    table = measure(config, progress=False).set_index("compiled")
    assert table.loc[False, "status"] == "ok" and table.loc[False, "images_per_s"] > 0
    assert table.loc[True, "status"] == "failed" and math.isnan(table.loc[True, "images_per_s"])
    assert table.loc[True, "error"] == "torch.compile failed: RuntimeError: no working C++ compiler"


def test_errors_of_uncompiled_runs_propagate(monkeypatch: pytest.MonkeyPatch) -> None:
    def bug(*args: object) -> None:
        raise ValueError("a programming error")

    monkeypatch.setattr(timing, "_timed_run", bug)
    with pytest.raises(ValueError, match="programming error"):
        measure(ThroughputConfig(("resnet10t",), batch_sizes=(2,), modes=("infer",), **TINY), progress=False)


def test_peak_table() -> None:
    assert peak_tflops("NVIDIA H200", "bf16") == 989.5
    assert peak_tflops("NVIDIA H200", "fp16") == 989.5
    assert peak_tflops("NVIDIA H200", "tf32") == pytest.approx(494.7)
    assert peak_tflops("NVIDIA H200", "fp32") == 67.0
    assert peak_tflops("NVIDIA H200 NVL", "bf16") == 835.5
    assert peak_tflops("NVIDIA GH200 480GB", "bf16") == 989.5
    assert peak_tflops("NVIDIA H100 80GB HBM3", "bf16") == 989.5
    assert peak_tflops("NVIDIA H100 PCIe", "bf16") == 756.0
    assert peak_tflops("NVIDIA A100-SXM4-80GB", "bf16") == 312.0
    assert peak_tflops("NVIDIA A10", "bf16") == 125.0  # not mistaken for an A100
    assert peak_tflops("NVIDIA L4", "fp16") == 121.0
    assert peak_tflops("NVIDIA L40S", "fp16") == 362.05
    assert peak_tflops("NVIDIA GeForce RTX 4090", "bf16") == 165.2
    assert peak_tflops("Tesla V100-SXM2-16GB", "fp16") == 125.0
    assert math.isnan(peak_tflops("Tesla V100-SXM2-16GB", "bf16"))  # no bf16 unit
    assert math.isnan(peak_tflops("Intel(R) Xeon(R) Processor", "fp32"))
    assert math.isnan(peak_tflops("Some Future GPU", "bf16"))


def test_fp32_peak_follows_the_tf32_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throughput_table, "_tf32_allowed", lambda: True)
    assert peak_tflops("NVIDIA H200", throughput_table._peak_key("fp32")) == pytest.approx(494.7)
    monkeypatch.setattr(throughput_table, "_tf32_allowed", lambda: False)
    assert peak_tflops("NVIDIA H200", throughput_table._peak_key("fp32")) == 67.0
    assert throughput_table._peak_key("bf16") == "bf16"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write_throughput(table: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / "sub" / f"throughput{suffix}"
    written = write_throughput(table, out)
    assert written == [out, out.with_suffix(".md")]
    back = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(back.columns) == list(COLUMNS) and len(back) == len(table)
    np.testing.assert_allclose(back["images_per_s"], table["images_per_s"])
    markdown = out.with_suffix(".md").read_text()
    assert "| backbone | mode | precision |" in markdown and "images_per_s" in markdown
    assert markdown.count("| resnet10t |") == len(table)
    assert not list(out.parent.glob(".*.tmp"))


def test_write_throughput_refuses_other_suffixes(table: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.csv or \.parquet"):
        write_throughput(table, tmp_path / "throughput.xlsx")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"batch_sizes": ()}, "batch_sizes"),
        ({"batch_sizes": (0,)}, "batch_sizes"),
        ({"batch_sizes": (8, 8)}, "batch_sizes"),
        ({"precisions": ("fp8",)}, "precisions"),
        ({"modes": ("eval",)}, "modes"),
        ({"channels_last": ("yes",)}, "channels_last"),
        ({"img_size": 4}, "img_size"),
        ({"in_chans": 0}, "in_chans"),
        ({"num_classes": 1}, "num_classes"),
        ({"device": "tpu"}, "device"),
        ({"timed_steps": 0}, "timed_steps"),
        ({"repeats": 0}, "repeats"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"compile": (True,), "warmup_steps": 0}, "warmup_steps"),
    ],
)
def test_config_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        ThroughputConfig(("resnet10t",), **kwargs)  # type: ignore[arg-type]


def test_config_refuses_unknown_backbones_and_bare_strings() -> None:
    with pytest.raises(UnknownNameError, match="resnet10"):
        ThroughputConfig(("resnet10",))
    with pytest.raises(ConfigError, match="backbones must be a sequence"):
        ThroughputConfig("resnet10t")  # type: ignore[arg-type]
    assert ThroughputConfig(["resnet10t"], batch_sizes=[2]).batch_sizes == (2,)  # type: ignore[arg-type]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sdc-bench")
    add_cli(parser.add_subparsers(dest="command", required=True)).set_defaults(func=cli_main)
    return parser


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["throughput", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--backbones",
        "--batch-sizes",
        "--precision",
        "--channels-last",
        "--compile",
        "--modes",
        "--out",
    ):
        assert option in text
    assert "both without and with" in text


def test_cli_runs_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "throughput.csv"
    args = _parser().parse_args(
        ["throughput", "--backbones", "resnet10t", "--batch-sizes", "2", "--precision", "fp32,fp16", "--channels-last",
         "--modes", "infer", "--img-size", "32", "--device", "cpu", "--steps", "1", "--warmup", "1", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert args.func is cli_main
    assert cli_main(args) == 0
    table = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert len(table) == 4 and set(table["channels_last"]) == {False, True}
    assert sorted(table["status"]) == ["ok", "ok", "skipped", "skipped"]
    printed = capsys.readouterr().out
    assert "| resnet10t |" in printed and "2 configuration(s) skipped or failed" in printed
    assert out.with_suffix(".md").is_file()


def _count_runs(monkeypatch: pytest.MonkeyPatch, fail_at: int | None = None) -> list[str]:
    """Record each configuration that is really measured; optionally die (like Ctrl-C) at the n-th."""
    measured: list[str] = []
    real = timing.run_with_decay

    def counting(case: object, batch_size: int, *args: object) -> object:
        measured.append(f"{case.backbone}/{case.mode}/b{batch_size}")  # type: ignore[attr-defined]
        if fail_at is not None and len(measured) == fail_at:
            raise KeyboardInterrupt
        return real(case, batch_size, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(timing, "run_with_decay", counting)
    return measured


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cli_resume_keeps_what_an_interrupted_run_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    out = tmp_path / f"throughput{suffix}"
    argv = ["throughput", "--backbones", "resnet10t,mobilenetv3_small_100", "--batch-sizes", "2,3",
            "--modes", "infer", "--img-size", "32", "--device", "cpu", "--steps", "1", "--warmup", "1",
            "--out", str(out), "--quiet"]  # fmt: skip
    measured = _count_runs(monkeypatch, fail_at=3)
    with pytest.raises(KeyboardInterrupt):
        cli_main(_parser().parse_args(argv))
    assert measured == ["resnet10t/infer/b2", "resnet10t/infer/b3", "mobilenetv3_small_100/infer/b2"]
    partial = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert partial["requested_batch_size"].tolist() == [2, 3] and set(partial["status"]) == {"ok"}

    measured = _count_runs(monkeypatch)
    assert cli_main(_parser().parse_args([*argv, "--resume"])) == 0
    assert measured == ["mobilenetv3_small_100/infer/b2", "mobilenetv3_small_100/infer/b3"]  # only the rest
    table = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert len(table) == 4 and set(table["status"]) == {"ok"}
    assert table.iloc[:2]["images_per_s"].tolist() == partial["images_per_s"].tolist()  # kept, not re-timed

    measured = _count_runs(monkeypatch)
    assert cli_main(_parser().parse_args([*argv, "--resume", "--batch-sizes", "2,4"])) == 0
    assert measured == ["resnet10t/infer/b4", "mobilenetv3_small_100/infer/b4"]  # a new batch size only


def test_resume_measures_failed_rows_again_and_refuses_foreign_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = ThroughputConfig(("resnet10t",), batch_sizes=(2,), modes=("infer", "train"), **TINY)
    first = measure(config, progress=False)
    first.loc[first["mode"] == "train", "status"] = "failed"
    measured = _count_runs(monkeypatch)
    again = measure(config, progress=False, previous=first)
    assert measured == ["resnet10t/train/b2"] and set(again["status"]) == {"ok"}
    torch.set_num_threads(2)  # another thread count is another configuration on a CPU
    try:
        measured = _count_runs(monkeypatch)
        measure(config, progress=False, previous=again)
        assert len(measured) == 2
    finally:
        torch.set_num_threads(1)
    with pytest.raises(ConfigError, match="without column"):
        measure(config, progress=False, previous=pd.DataFrame({"backbone": ["resnet10t"]}))


def test_cli_resume_names_an_unreadable_table(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    out.write_text("not parquet")
    args = _parser().parse_args(
        ["throughput", "--backbones", "resnet10t", "--out", str(out), "--resume", "--device", "cpu"]
    )
    with pytest.raises(ConfigError, match=r"cannot read the throughput table .*t\.parquet.*without resuming"):
        cli_main(args)


def test_cli_refuses_a_bad_out_suffix(tmp_path: Path) -> None:
    args = _parser().parse_args(["throughput", "--backbones", "resnet10t", "--out", str(tmp_path / "t.json")])
    with pytest.raises(ConfigError, match="--out"):
        cli_main(args)


def test_reference_loop_runs() -> None:
    assert reference_images_per_s("resnet10t", 2, 32, "cpu", steps=1, warmup=1) > 0


def test_a_rectangular_multislice_input_is_measured_as_it_is() -> None:
    """A run's throughput stage measures its real geometry: (rows, columns) and K slices as channels."""
    config = ThroughputConfig(
        ("resnet10t",), batch_sizes=(2,), modes=("infer",), img_size=(48, 16), in_chans=3,
        device="cpu", warmup_steps=0, timed_steps=1,
    )  # fmt: skip
    table = measure(config, progress=False)
    assert table["img_size"].tolist() == ["48x16"] and table["status"].tolist() == ["ok"]
    assert ThroughputConfig(("resnet10t",), img_size=(32, 32)).img_size == 32
    with pytest.raises(ConfigError, match="in_chans"):
        ThroughputConfig(("resnet10t",), in_chans=0)


def test_the_table_records_input_channels_and_refuses_an_older_table(tmp_path: Path) -> None:
    """3 slices as channels were measured, but the table did not say so; a table without the column is refused."""
    config = ThroughputConfig(("resnet10t",), batch_sizes=(2,), modes=("infer",), in_chans=3, **TINY)
    table = measure(config, progress=False)
    assert table["in_chans"].tolist() == [3] and table["status"].tolist() == ["ok"]
    older = table.drop(columns=["in_chans"])
    with pytest.raises(ConfigError, match=r"without column\(s\) \['in_chans'\]"):
        measure(replace(config, in_chans=1), previous=older, progress=False)
    assert "| 3 |" in markdown_table(table)
