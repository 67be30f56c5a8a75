"""The contention probe: fake /proc/stat and /proc/loadavg readings in, a loaded flag and a note out."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pandas as pd

from sdc_bench.benchmark.throughput import ContentionProbe
from sdc_bench.benchmark.throughput.contention import parse_cpu_times, parse_load_average
from sdc_bench.reports.throughput_view import markdown_table, under_load


def _stat(steal: int, total_other: int) -> str:
    # user nice system idle iowait irq softirq steal guest guest_nice; then a per-core line
    return f"cpu  {total_other} 0 0 0 0 0 0 {steal} 0 0\ncpu0 1 0 0 0 0 0 0 0 0 0\nintr 5\n"


def _probe(stats: list[str | None], load: str | None, cpu: list[float], cores: int = 2) -> ContentionProbe:
    stat_readings: Iterator[str | None] = iter(stats)
    cpu_readings, wall_readings = iter(cpu), iter([100.0, 110.0])  # 10 wall seconds
    return ContentionProbe(
        read_stat=lambda: next(stat_readings),
        read_loadavg=lambda: load,
        cpu_seconds=lambda: next(cpu_readings),
        wall_seconds=lambda: next(wall_readings),
        cores=lambda: cores,
    )


def _measure(probe: ContentionProbe):  # type: ignore[no-untyped-def]
    probe.start()
    return probe.stop()


def test_parsers_read_the_proc_formats() -> None:
    times = parse_cpu_times("cpu  10 2 3 80 1 0 1 3 7 0\n")
    assert times is not None and (times.total, times.steal) == (100, 3)
    assert parse_cpu_times("cpu0 1 2 3\n") is None
    assert parse_load_average("3.25 2.00 1.00 4/300 999\n") == 3.25
    assert math.isnan(parse_load_average(""))


def test_an_idle_machine_is_not_loaded() -> None:
    # this process used 2 cores of 2 (20 CPU s in 10 s); the load 2.1 is its own
    result = _measure(_probe([_stat(0, 1000), _stat(0, 3000)], "2.10 1.5 1.0 3/200 1\n", [5.0, 25.0]))
    assert (result.load_1min, result.own_cores, result.steal_percent) == (2.1, 2.0, 0.0)
    assert not result.loaded and result.note() == ""


def test_a_busy_neighbour_is_reported() -> None:
    # the load 3.4 holds 1.4 runnable threads of others, while this process takes both cores
    result = _measure(_probe([_stat(0, 1000), _stat(0, 3000)], "3.40 3.0 2.0 5/200 1\n", [0.0, 20.0]))
    assert result.loaded and math.isclose(result.other_load, 1.4)
    assert result.note() == "loaded: other load 1.4 on 2 cores (this process used 2.0)"


def test_a_neighbour_on_a_free_core_is_not_contention() -> None:
    # one thread of ours on 2 cores, one busy neighbour: each has its core
    result = _measure(_probe([_stat(0, 1000), _stat(0, 3000)], "2.00 2.0 2.0 3/200 1\n", [0.0, 10.0]))
    assert result.own_cores == 1.0 and not result.loaded


def test_steal_time_over_the_measurement_is_reported() -> None:
    # 100 of the 2,000 ticks between the samples were stolen: 5 %
    result = _measure(_probe([_stat(40, 1000), _stat(140, 2900)], "1.00 1 1 1/1 1\n", [0.0, 10.0]))
    assert result.steal_percent == 5.0 and result.loaded
    assert result.note() == "loaded: 5.0% CPU steal"


def test_without_proc_files_nothing_is_claimed() -> None:
    result = _measure(_probe([None, None], None, [0.0, 10.0]))
    assert math.isnan(result.load_1min) and math.isnan(result.steal_percent) and not result.loaded


def test_a_contended_row_is_flagged_in_the_markdown_view() -> None:
    row = {
        "backbone": "resnet10t", "device": "cpu", "device_name": "cpu", "threads": 2, "load": 0.5,
        "omp_wait": "GOMP_SPINCOUNT=10000", "mode": "infer", "precision": "fp32", "batch_size": 8,
        "images_per_s": 5.0, "latency_ms_p50": 10.0, "latency_ms_p95": 11.0, "peak_mem_mb": math.nan,
        "torch_version": "2", "status": "ok", "error": "",
    }  # fmt: skip
    table = pd.DataFrame([{**row, "contention": "loaded: 5.0% CPU steal"}, {**row, "contention": ""}])
    assert len(under_load(table)) == 1
    text = markdown_table(table)
    assert "**Measured under load: 1 of 2 row(s)**" in text and "loaded: 5.0% CPU steal" in text
    assert "contention" not in markdown_table(table.iloc[[1]])
