"""Paper tables from the tidy metrics table: estimate with 95% CI, as CSV, Markdown and LaTeX (booktabs)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sdc_bench.benchmark.store import write_text

__all__ = ["HEADLINE", "main_table", "per_class_table", "to_latex", "to_markdown", "write_table"]

CONFIG = ["method", "backbone", "augment", "imbalance"]
# (metric, class_name, column title)
HEADLINE = (
    ("accuracy", "overall", "Accuracy"),
    ("balanced_accuracy", "overall", "Balanced accuracy"),
    ("sensitivity", "macro", "Sensitivity (macro)"),
    ("specificity", "macro", "Specificity (macro)"),
)


def _cell(value: float, low: float, high: float) -> str:
    if pd.isna(value):
        return "n/a"
    if pd.isna(low) or pd.isna(high):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _pooled(metrics: pd.DataFrame, split: str) -> pd.DataFrame:
    return metrics[(metrics["scope"] == "pooled") & (metrics["split"] == split)]


def main_table(metrics: pd.DataFrame, *, split: str = "test", reference: str = "sdc_dl") -> pd.DataFrame:
    """One row per configuration, one column per headline metric; the reference method first."""
    pooled = _pooled(metrics, split)
    rows = []
    for keys, group in pooled.groupby(CONFIG, sort=True):
        row = dict(zip(CONFIG, keys))
        for metric, class_name, title in HEADLINE:
            hit = group[(group["metric"] == metric) & (group["class_name"] == class_name)]
            row[title] = _cell(*hit[["value", "ci_low", "ci_high"]].iloc[0]) if len(hit) else "n/a"
            row[f"_{metric}"] = float(hit["value"].iloc[0]) if len(hit) else float("nan")
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["_order"] = (table["method"] != reference).astype(int)
    table = table.sort_values(["_order", "_balanced_accuracy"], ascending=[True, False])
    return table.drop(columns=[c for c in table.columns if c.startswith("_")]).reset_index(drop=True)


def per_class_table(metrics: pd.DataFrame, *, split: str = "test") -> pd.DataFrame:
    """Per-class sensitivity and specificity with Wilson intervals, one row per configuration and class."""
    pooled = _pooled(metrics, split)
    per_class = pooled[pooled["metric"].isin(["sensitivity", "specificity"]) & ~pooled["class_name"].isin(["macro", "overall"])]
    rows = []
    for keys, group in per_class.groupby([*CONFIG, "class_name"], sort=True):
        row = dict(zip([*CONFIG, "class"], keys))
        for metric in ("sensitivity", "specificity"):
            hit = group[group["metric"] == metric]
            row[metric.capitalize()] = _cell(*hit[["value", "ci_low", "ci_high"]].iloc[0]) if len(hit) else "n/a"
        rows.append(row)
    return pd.DataFrame(rows)


def _escape_md(text: object) -> str:
    return str(text).replace("|", "\\|")


def to_markdown(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(_escape_md, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(_escape_md(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def _escape_tex(text: object) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def to_latex(table: pd.DataFrame, *, caption: str = "", label: str = "") -> str:
    """A booktabs ``table`` environment (needs ``\\usepackage{booktabs}``)."""
    spec = "l" * len(table.columns)
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{_escape_tex(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(_escape_tex(c) for c in table.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(_escape_tex(v) for v in row) + r" \\" for row in table.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(table: pd.DataFrame, stem: str | Path, *, caption: str = "") -> list[Path]:
    """Write ``<stem>.csv``, ``.md`` and ``.tex``."""
    stem = Path(stem)
    paths = [stem.with_suffix(".csv"), stem.with_suffix(".md"), stem.with_suffix(".tex")]
    write_text(paths[0], table.to_csv(index=False))
    write_text(paths[1], (f"{caption}\n\n" if caption else "") + to_markdown(table))
    write_text(paths[2], to_latex(table, caption=caption, label=f"tab:{stem.name}"))
    return paths
