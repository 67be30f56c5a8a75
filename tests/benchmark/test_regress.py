from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdc_bench.benchmark.faults import Faults, active_faults, shuffle_labels
from sdc_bench.benchmark.regress import (
    BandRule,
    Expected,
    Tolerance,
    compare,
    load_baseline,
    samples_from_run,
)
from sdc_bench.cli import main
from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.core.run_manifest import RunManifest, example_payload
from sdc_bench.core.store import RunStore


def _metrics(bacc: float = 0.80, brier: float = 0.20) -> pd.DataFrame:
    base = {
        "method": "sdc_dl",
        "backbone": "b",
        "augment": "a",
        "imbalance": "i",
        "split": "test",
        "scope": "pooled",
        "outer_fold": -1,
    }
    rows = [
        {
            **base,
            "metric": "balanced_accuracy",
            "class_name": "overall",
            "value": bacc,
            "ci_low": 0.7,
            "ci_high": 0.9,
        },
        {**base, "metric": "accuracy", "class_name": "overall", "value": 0.85, "ci_low": 0.8, "ci_high": 0.9},
        {**base, "metric": "brier", "class_name": "overall", "value": brier, "ci_low": 0.1, "ci_high": 0.3},
    ]
    return pd.DataFrame(rows)


KEY = ("sdc_dl", "b", "a", "i", "test", "balanced_accuracy", "overall")
BRIER = ("sdc_dl", "b", "a", "i", "test", "brier", "overall")


@pytest.mark.parametrize(
    ("candidate", "status"),
    [(0.80, "ok"), (0.76, "ok"), (0.749, "regressed"), (0.84, "ok"), (0.86, "improved")],
)
def test_absolute_band(candidate: float, status: str) -> None:
    [verdict] = compare([Expected(KEY, 0.80, Tolerance(absolute=0.05))], _metrics(bacc=candidate))
    assert verdict.status == status
    assert verdict.delta == pytest.approx(candidate - 0.80)


def test_relative_band_and_lower_is_better() -> None:
    expected = [Expected(BRIER, 0.20, Tolerance(relative=0.10), higher_is_better=False)]
    assert compare(expected, _metrics(brier=0.215))[0].status == "ok"
    assert compare(expected, _metrics(brier=0.23))[0].status == "regressed"
    assert compare(expected, _metrics(brier=0.17))[0].status == "improved"


def test_missing_metric_fails() -> None:
    [verdict] = compare([Expected(KEY, 0.8, Tolerance(0.05))], _metrics().iloc[1:])
    assert verdict.status == "missing" and verdict.failed


def _run_dir(
    tmp_path: Path, metrics: pd.DataFrame, name: str = "run", cpu: str = "AMD EPYC", threads: int = 2
) -> Path:
    run = tmp_path / name
    run.mkdir()
    metrics.to_csv(run / "metrics.csv", index=False)
    example = example_payload()
    payload = {
        **example,
        "run_id": name,
        "seed": 0,
        "suite": {**example["suite"], "name": "unit"},
        "environment": {
            **example["environment"], "cpu_model": cpu, "torch_threads": threads, "packages": {"torch": "2.9"}
        },
        "git_revision": "abc",
        "data": {**example["data"], "fingerprint": "f00"},
    }  # fmt: skip
    RunStore(run).write_manifest(RunManifest.from_json(payload))
    return run


def _baseline_of(tmp_path: Path, baccs: list[float], *extra: str) -> Path:
    runs = [
        str(_run_dir(tmp_path, _metrics(bacc=b), f"r{i}", threads=1 + i % 2)) for i, b in enumerate(baccs)
    ]
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", *runs, "--out", str(baseline), *extra]) == 0
    return baseline


def test_baseline_is_a_distribution_over_runs_with_their_environments(tmp_path: Path) -> None:
    baseline = _baseline_of(tmp_path, [0.80, 0.81, 0.79, 0.80, 0.80])
    payload = json.loads(baseline.read_text())
    [bacc] = [m for m in payload["metrics"] if m["metric"] == "balanced_accuracy"]
    assert bacc["k"] == 5 and bacc["mean"] == pytest.approx(0.80)
    assert bacc["sd"] == pytest.approx(0.00707, abs=1e-4)
    assert (bacc["min"], bacc["max"]) == (0.79, 0.81)
    # band = max(4 SD, floor 0.02) = 0.0283
    assert bacc["band"] == pytest.approx(4 * 0.0070711, abs=1e-4) and bacc["gated"]
    assert "4*SD" in payload["rule"]["text"]
    assert [r["torch_threads"] for r in payload["runs"]] == [1, 2, 1, 2, 1]
    assert {r["cpu_model"] for r in payload["runs"]} == {"AMD EPYC"}
    assert payload["runs"][0]["data_fingerprint"] == "f00" and payload["runs"][0]["git_revision"] == "abc"
    # Brier is lower-is-better and carried as such
    [brier] = [m for m in payload["metrics"] if m["metric"] == "brier"]
    assert brier["higher_is_better"] is False


def test_band_floor_and_noisy_metrics_are_not_gated() -> None:
    rule = BandRule(k_sd=4, floor=0.02, max_band=0.08)
    assert rule.band(0.8, 0.001) == 0.02
    assert rule.band(0.8, 0.01) == pytest.approx(0.04)
    wide = Expected(KEY, 0.80, Tolerance(absolute=0.12), gated=False)
    [verdict] = compare([wide], _metrics(bacc=0.50))
    assert verdict.status == "not gated" and not verdict.failed


def test_regress_passes_inside_the_band_and_fails_outside_with_the_environment_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = _baseline_of(tmp_path, [0.80, 0.81, 0.79, 0.80, 0.80])
    capsys.readouterr()
    inside = _run_dir(tmp_path, _metrics(bacc=0.80 - 0.027), "inside")
    assert main(["regress", str(inside), "--baseline", str(baseline)]) == 0
    out = capsys.readouterr().out
    assert "ok:" in out and "occur in the baseline" in out

    pushed = _run_dir(tmp_path, _metrics(bacc=0.80 - 0.030), "pushed", cpu="Intel Xeon Platinum 8488C")
    assert main(["regress", str(pushed), "--baseline", str(baseline)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("REGRESSION: 1 of")
    assert lines[1].startswith("baseline: K=5 runs; band = max(4*SD, 0.02)")
    assert lines[2].startswith("environment: the candidate differs")
    assert "cpu_model: 'Intel Xeon Platinum 8488C' (baseline runs: 'AMD EPYC' x5)" in lines[3]
    assert any(line.split()[-1:] == ["regressed"] or " regressed " in line for line in lines)


def test_a_multi_seed_run_gives_one_sample_per_seed(tmp_path: Path) -> None:
    rows = []
    for seed, bacc in ((0, 0.80), (1, 0.82), (2, 0.78)):
        frame = _metrics(bacc=bacc)
        frame["scope"], frame["seed"] = "seed", seed
        rows.append(frame)
    pooled = _metrics(bacc=0.80)
    pooled["seed"] = -1
    run = _run_dir(tmp_path, pd.concat([pooled, *rows]), "multi")
    samples = samples_from_run(run)
    assert [s.environment["seed"] for s in samples] == [0, 1, 2]
    assert [s.metrics[KEY] for s in samples] == [0.80, 0.82, 0.78]


def test_malformed_baseline_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match=r"bad\.json.*sdc-bench baseline"):
        load_baseline(bad)
    with pytest.raises(DataError, match="sdc-bench baseline RUN_DIR"):
        load_baseline(tmp_path / "absent.json")


def test_format_one_baselines_still_load(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    entry = dict(zip(("method", "backbone", "augment", "imbalance", "split", "metric", "class_name"), KEY))
    old.write_text(json.dumps({"default_tolerance": {"abs": 0.05}, "metrics": [{**entry, "value": 0.8}]}))
    [expected] = load_baseline(old)
    assert expected.value == 0.8 and expected.tolerance == Tolerance(0.05, 0.0) and expected.gated


def test_methods_filter_and_skip_speed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = _baseline_of(tmp_path, [0.80, 0.80, 0.80])
    capsys.readouterr()
    run = _run_dir(tmp_path, _metrics(), "cand")
    assert main(["regress", str(run), "--baseline", str(baseline), "--methods", "sdc_dl"]) == 0
    assert main(["regress", str(run), "--baseline", str(baseline), "--methods", "nope"]) == 2
    assert "tracks none of these methods" in capsys.readouterr().err


def _throughput(lite0: float, resnet: float) -> pd.DataFrame:
    rows = []
    for backbone, speed in (("tf_efficientnet_lite0", lite0), ("resnet18", resnet)):
        for mode, factor in (("infer", 3.0), ("train", 1.0)):
            rows.append(
                {
                    "backbone": backbone,
                    "mode": mode,
                    "images_per_s": speed * factor,
                    "status": "ok",
                    "device": "cpu",
                    "precision": "fp32",
                    "batch_size": 32,
                }
            )
    return pd.DataFrame(rows)


def test_throughput_is_judged_as_a_ratio_to_the_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = []
    for i, (lite0, resnet) in enumerate(((200.0, 100.0), (210.0, 100.0), (190.0, 100.0))):
        run = _run_dir(tmp_path, _metrics(), f"t{i}")
        _throughput(lite0, resnet).to_csv(run / "throughput.csv", index=False)
        runs.append(str(run))
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", *runs, "--out", str(baseline)]) == 0
    section = json.loads(baseline.read_text())["throughput"]
    ratios = {(r["backbone"], r["mode"]): r for r in section["ratios"]}
    assert ratios[("tf_efficientnet_lite0", "train")]["values"] == [2.0, 2.1, 1.9]
    # band = max(4 SD = 0.4, 0.3 * mean = 0.6): measured spread, or the cross-CPU floor
    assert ratios[("tf_efficientnet_lite0", "train")]["band"] == pytest.approx(0.6)

    run = Path(runs[0])
    _throughput(100.0, 50.0).to_csv(run / "throughput.csv", index=False)  # half as fast: same ratios
    assert main(["regress", str(run), "--baseline", str(baseline)]) == 0
    _throughput(120.0, 100.0).to_csv(run / "throughput.csv", index=False)  # lite0 alone 40% slower
    assert main(["regress", str(run), "--baseline", str(baseline)]) == 1
    assert "speed_ratio" in capsys.readouterr().out
    assert main(["regress", str(run), "--baseline", str(baseline), "--skip-speed"]) == 0
    (run / "throughput.csv").unlink()
    assert main(["regress", str(run), "--baseline", str(baseline)]) == 2


def test_update_baseline_from_one_run_warns_that_it_has_no_spread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run_dir(tmp_path, _metrics())
    baseline = tmp_path / "one.json"
    assert main(["regress", str(run), "--baseline", str(baseline), "--update-baseline"]) == 0
    assert "K=1 run(s) give no usable spread" in capsys.readouterr().out
    assert main(["regress", str(run), "--baseline", str(baseline)]) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Faults()),
        ("no_pretrained", Faults(no_pretrained=True)),
        ("no_augment, label_noise=0.3", Faults(no_augment=True, label_noise=0.3)),
    ],
)
def test_fault_hook_parses(text: str, expected: Faults) -> None:
    assert active_faults(text) == expected


@pytest.mark.parametrize("text", ["label_noise=2", "label_noise=x", "no_brain", "no_augment=1"])
def test_fault_hook_refuses_unknown_faults(text: str) -> None:
    with pytest.raises(ConfigError, match="SDC_BENCH_INJECT_FAULT"):
        active_faults(text)


def test_shuffled_labels_keep_the_class_counts() -> None:
    labels = np.repeat(np.arange(3), 100)
    noisy = shuffle_labels(labels, 0.3, seed=1)
    assert np.array_equal(np.bincount(noisy), np.bincount(labels))
    changed = float(np.mean(noisy != labels))
    assert 0.1 < changed <= 0.3  # 30% are drawn; about two thirds of those land on another class


def test_extend_keeps_a_baselines_runs_and_adds_another_machines(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    first = _baseline_of(tmp_path / "a", [0.80, 0.81, 0.79])
    other = str(_run_dir(tmp_path, _metrics(bacc=0.84), "intel", cpu="Intel(R) Xeon(R) Processor"))
    out = tmp_path / "extended.json"
    assert main(["baseline", other, "--extend", str(first), "--out", str(out)]) == 0
    before, after = json.loads(first.read_text()), json.loads(out.read_text())
    assert after["runs"] == [*before["runs"], after["runs"][-1]] and len(after["runs"]) == 4
    [bacc] = [m for m in after["metrics"] if m["metric"] == "balanced_accuracy"]
    assert bacc["values"] == [0.80, 0.81, 0.79, 0.84] and bacc["k"] == 4
    # the samples of an extended baseline rebuild it unchanged
    again = tmp_path / "again.json"
    assert main(["baseline", other, "--extend", str(first), "--out", str(again)]) == 0
    assert json.loads(again.read_text()) == after


def test_extend_refuses_a_baseline_whose_values_do_not_line_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    first = _baseline_of(tmp_path / "a", [0.80, 0.81, 0.79])
    payload = json.loads(first.read_text())
    payload["metrics"][0]["values"] = payload["metrics"][0]["values"][:2]
    first.write_text(json.dumps(payload))
    other = str(_run_dir(tmp_path, _metrics(bacc=0.84), "intel"))
    assert main(["baseline", other, "--extend", str(first), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rebuild it from run folders" in err[0]
