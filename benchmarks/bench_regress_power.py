"""Power of the smoke regression check in both directions, and the runs its baseline is built from.

Run on an otherwise idle machine (it times the throughput stage), from the repository root::

    python benchmarks/bench_regress_power.py --work /tmp/power                      # check the committed baseline
    python benchmarks/bench_regress_power.py --work /tmp/power --write-baseline     # rebuild it, then check

1. Noise runs: the smoke suite for seeds 0-4, each with 1 and 2 torch threads (10 runs). With
   ``--write-baseline`` they become ``baselines/smoke.json`` (``sdc-bench baseline``, band = max(4 SD, 0.02)).
2. Spread: SDC-DL's balanced accuracy over the 5 seeds (max - min, target <= 0.06) and between 1 and 2
   threads at the same seed (target <= 0.03); whether SDC-DL beats scratch significantly in every run
   (Holm-adjusted exact McNemar on accuracy and the paired patient bootstrap on macro sensitivity).
3. Injected regressions (``SDC_BENCH_INJECT_FAULT``; the config is unchanged): no pretrained weights, no
   augmentation, 30% of training labels shuffled. Each must make ``sdc-bench regress`` exit 1.
4. Writes ``benchmarks/results/regress_power.md``: the band half-width of every gated metric and, for
   each run, how far it falls from the band (negative = inside, positive = outside in the bad direction).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "baselines" / "smoke.json"
RESULTS = ROOT / "benchmarks" / "results" / "regress_power.md"
SEEDS = (0, 1, 2, 3, 4)
THREADS = (1, 2)
FAULTS = ("no_pretrained", "no_augment", "label_noise=0.3")


def _sdc_bench(*args: str, fault: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SDC_BENCH_INJECT_FAULT": fault}
    return subprocess.run([sys.executable, "-m", "sdc_bench", *args], env=env, capture_output=True, text=True)


def _run(out: Path, *args: str, fault: str = "") -> tuple[Path, float]:
    if (out / "run.json").is_file() and json.loads((out / "run.json").read_text()).get("status") == "done":
        return out, float(json.loads((out / "run.json").read_text()).get("seconds", 0.0))
    started = time.perf_counter()
    done = _sdc_bench("run", "--suite", "smoke", "--out", str(out), "--quiet", *args, fault=fault)
    if done.returncode != 0:
        sys.exit(f"{out.name}: sdc-bench run failed:\n{done.stderr[-3000:]}")
    return out, time.perf_counter() - started


def _pooled(run: Path, method: str, metric: str, class_name: str = "overall") -> float:
    metrics = pd.read_csv(run / "metrics.csv")
    row = metrics[
        (metrics["scope"] == "pooled")
        & (metrics["split"] == "test")
        & (metrics["method"] == method)
        & (metrics["metric"] == metric)
        & (metrics["class_name"] == class_name)
    ]
    return float(row["value"].iloc[0])


def _beats_scratch(run: Path) -> bool:
    comparisons = pd.read_csv(run / "comparisons.csv")
    rows = comparisons[
        (comparisons["method"] == "scratch")
        & comparisons["test"].isin(["mcnemar_exact", "paired_bootstrap"])
        & comparisons["metric"].isin(["accuracy", "balanced_accuracy"])
    ]
    return bool(len(rows) >= 2 and rows["significant"].all())


def _verdicts(run: Path, *extra: str) -> tuple[int, pd.DataFrame]:
    done = _sdc_bench("regress", str(run), "--baseline", str(BASELINE), *extra)
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    table = pd.DataFrame([[c.strip() for c in r.strip("|").split("|")] for r in rows[1:]], columns=header)
    return done.returncode, table


def _distance(table: pd.DataFrame, baseline: dict[str, object]) -> dict[str, float]:
    """Signed distance beyond the band per gated metric (positive = outside in the bad direction)."""
    lower = {"brier", "ece"}
    out = {}
    for row in table.itertuples(index=False):
        if row.status == "not gated" or row.candidate == "n/a":
            continue
        delta, band = float(row.delta), float(row.band)
        bad = delta if row.metric in lower else -delta
        where = "" if row.split == "test" else f" @{row.split.removeprefix('external:')}"
        out[f"{row.method} {row.metric}{where}"] = round(bad - band, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work", type=Path, required=True, help="folder for the runs (kept; reruns reuse them)"
    )
    parser.add_argument("--write-baseline", action="store_true", help="rebuild baselines/smoke.json first")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    noise: dict[tuple[int, int], Path] = {}
    for seed in SEEDS:
        for threads in THREADS:
            run, seconds = _run(
                args.work / f"seed{seed}-t{threads}", "--seed", str(seed), "--set", f"train.threads={threads}"
            )
            noise[(seed, threads)] = run
            print(
                f"seed {seed}, {threads} thread(s): {seconds:.0f} s, SDC-DL balanced accuracy {_pooled(run, 'sdc_dl', 'balanced_accuracy'):.4f}",
                flush=True,
            )
    if args.write_baseline:
        built = _sdc_bench("baseline", *map(str, noise.values()), "--out", str(BASELINE))
        print(built.stdout, built.stderr)
    faulty = {
        fault: _run(
            args.work / f"fault-{fault.split('=')[0]}",
            "--set",
            'methods=["sdc_dl"]',
            "--set",
            "throughput.enabled=false",
            fault=fault,
        )[0]
        for fault in FAULTS
    }

    baseline = json.loads(BASELINE.read_text())
    bacc = {key: _pooled(run, "sdc_dl", "balanced_accuracy") for key, run in noise.items()}
    by_seed = [bacc[(s, 2)] for s in SEEDS]
    thread_gap = max(abs(bacc[(s, 1)] - bacc[(s, 2)]) for s in SEEDS)
    lines = [
        "# Power of the smoke regression check",
        "",
        f"Made by `python benchmarks/bench_regress_power.py --work DIR{' --write-baseline' if args.write_baseline else ''}` "
        f"on {baseline['runs'][0]['cpu_model']} ({time.strftime('%Y-%m-%d')}); baseline rule: {baseline['rule']['text']}.",
        "",
        f"- SDC-DL balanced accuracy over seeds {SEEDS[0]}-{SEEDS[-1]} (2 threads): "
        + ", ".join(f"{v:.4f}" for v in by_seed)
        + f"; span {max(by_seed) - min(by_seed):.4f} (target <= 0.06)",
        f"- largest 1-vs-2-thread difference at one seed: {thread_gap:.4f} (target <= 0.03)",
        f"- SDC-DL significantly above scratch (Holm-adjusted McNemar and paired bootstrap) in "
        f"{sum(_beats_scratch(r) for r in noise.values())} of {len(noise)} runs",
        "",
        "## Band half-widths of the gated metrics",
        "",
        "| metric | mean | SD | min | max | K | band |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in baseline["metrics"]:
        if m["gated"]:
            where = "" if m["split"] == "test" else f" @{m['split'].removeprefix('external:')}"
            lines.append(
                f"| {m['method']} {m['metric']}{where} | {m['mean']:.4f} | {m['sd'] or 0:.4f} | {m['min']:.4f} | {m['max']:.4f} | {m['k']} | ±{m['band']:.4f} |"
            )
    lines += ["", "## Distance beyond the band (positive: outside, in the bad direction)", ""]
    cases: list[tuple[str, int, dict[str, float]]] = []
    for (seed, threads), run in noise.items():
        code, table = _verdicts(run)
        cases.append((f"noise: seed {seed}, {threads} thread(s)", code, _distance(table, baseline)))
    for fault, run in faulty.items():
        code, table = _verdicts(run, "--skip-speed", "--methods", "sdc_dl")
        cases.append((f"injected: {fault}", code, _distance(table, baseline)))
    names = sorted({k for _, _, d in cases for k in d if k.startswith("sdc_dl")})
    lines += ["| case | regress exit | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for label, code, dist in cases:
        lines.append(
            f"| {label} | {code} | " + " | ".join(f"{dist.get(n, float('nan')):+.4f}" for n in names) + " |"
        )
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    ok = all(code == 0 for label, code, _ in cases if label.startswith("noise")) and all(
        code == 1 for label, code, _ in cases if label.startswith("injected")
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
