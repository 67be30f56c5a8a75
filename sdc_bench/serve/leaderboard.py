"""A leaderboard of published models: ``publish`` adds an exported package's card and row, ``board`` renders it.

``sdc-bench publish MODEL_DIR --to model-cards/`` copies the package's ``MODEL_CARD.md`` and
``package.json`` (never its weights) to ``model-cards/<name>/`` and puts one row per model into
``model-cards/leaderboard.json`` (publishing the same name again replaces its row), then rewrites
``model-cards/LEADERBOARD.md``, the Markdown copy GitHub renders. A row holds the task, the data, the
cross-validated balanced accuracy with its 95% interval (from the training run's ``metrics.csv``), the
package's images/s on the machine that measured it, the pretrained weights' licence and the card's link.

``sdc-bench board model-cards/ --out site/`` writes ``site/index.html``: one self-contained page (inline
CSS and JavaScript, no server, no CDN) whose columns sort on a click, with the cards copied beside it,
plus ``site/leaderboard.md``.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sdc_bench.core.errors import DataError, ModelError
from sdc_bench.core.store import write_json, write_text

__all__ = ["LeaderboardRow", "publish", "read_leaderboard", "render_board", "row_from_package"]

LEADERBOARD_FILE = "leaderboard.json"
MARKDOWN_FILE = "LEADERBOARD.md"
_FORMAT = "sdc-bench-leaderboard"
_METRIC = "balanced_accuracy"


@dataclass(frozen=True)
class LeaderboardRow:
    """One published model."""

    name: str
    task: str
    data: str
    metric: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    images_per_s: float | None
    machine: str
    licence: str
    card: str  # the card's path relative to the leaderboard folder


def _read_package(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "package.json"
    if not path.is_file() or not (model_dir / "MODEL_CARD.md").is_file():
        raise ModelError(
            f"{model_dir}: not an exported model package (needs package.json and MODEL_CARD.md); "
            "make one with `sdc-bench export RUN_DIR --method M --out DIR`"
        )
    try:
        info = json.loads(path.read_text())
    except ValueError as error:
        raise ModelError(f"{path}: not valid JSON ({error}); export the package again") from None
    if not isinstance(info, dict) or "method" not in info or "training" not in info:
        raise ModelError(f"{path}: not an sdc-bench package.json; export the package again")
    return info


def _name(info: dict[str, Any]) -> str:
    backbone = info.get("backbone", {}).get("name", "model")
    text = (
        f"{info['method']}-{backbone}-{info.get('kind', 'ensemble')}-{info['training'].get('run_id', 'run')}"
    )
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)


def _metric(info: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    """The pooled out-of-fold balanced accuracy and interval, from the training run's ``metrics.csv``."""
    training = info["training"]
    path = Path(str(training["run_dir"])) / "metrics.csv" if "run_dir" in training else None
    if path is None or not path.is_file():
        return None, None, None
    metrics = pd.read_csv(path, keep_default_na=False, na_values=[""])
    rows = metrics[
        (metrics["method"] == info["method"])
        & (metrics["backbone"] == info.get("backbone", {}).get("name"))
        & (metrics["split"] == "test")
        & (metrics["scope"] == "pooled")
        & (metrics["metric"] == _METRIC)
        & (metrics["class_name"] == "overall")
    ]
    if rows.empty:
        return None, None, None
    row = rows.iloc[0]
    return tuple(None if pd.isna(row[c]) else round(float(row[c]), 4) for c in ("value", "ci_low", "ci_high"))  # type: ignore[return-value]


def row_from_package(model_dir: str | Path, name: str | None = None) -> LeaderboardRow:
    """The leaderboard row of the exported package ``model_dir``."""
    model_dir = Path(model_dir)
    info = _read_package(model_dir)
    name = name or _name(info)
    training, speed = info["training"], info.get("throughput") or {}
    value, low, high = _metric(info)
    fingerprint = str(training.get("data_fingerprint") or "")[:12]
    return LeaderboardRow(
        name=name,
        task="classify " + " / ".join(map(str, info.get("classes", []))),
        data=f"{training.get('n_images', '?')} images, {training.get('n_patients', '?')} patients"
        + (f" (data {fingerprint})" if fingerprint else ""),
        metric=f"{_METRIC} (cross-validated)",
        value=value,
        ci_low=low,
        ci_high=high,
        images_per_s=float(speed["images_per_s"]) if speed.get("images_per_s") else None,
        machine=str(speed.get("cpu_model") or speed.get("device") or "not measured"),
        licence=str(info.get("backbone", {}).get("weights_license") or "not recorded"),
        card=f"{name}/MODEL_CARD.md",
    )


def read_leaderboard(folder: str | Path) -> list[LeaderboardRow]:
    """The rows of ``folder/leaderboard.json`` (none when it does not exist yet)."""
    path = Path(folder) / LEADERBOARD_FILE
    if not path.is_file():
        return []
    try:
        payload = json.loads(path.read_text())
        return [LeaderboardRow(**row) for row in payload["models"]]
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path} is damaged ({error}); restore it from version control") from None


def _markdown(rows: list[LeaderboardRow], link_prefix: str = "") -> str:
    header = "| model | task | data | balanced accuracy [95% CI] | images/s | measured on | licence | card |"
    lines = ["# Leaderboard of published models", "", header, "|---|---|---|---|---|---|---|---|"]
    for row in _sorted(rows):
        cells = [row.name, row.task, row.data, _metric_text(row), _speed_text(row), row.machine, row.licence,
                 f"[card]({link_prefix}{row.card})"]  # fmt: skip
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _sorted(rows: list[LeaderboardRow]) -> list[LeaderboardRow]:
    return sorted(rows, key=lambda r: (-(r.value if r.value is not None else -1.0), r.name))


def _metric_text(row: LeaderboardRow) -> str:
    if row.value is None:
        return "not recorded"
    interval = (
        f" [{row.ci_low:.3f}, {row.ci_high:.3f}]"
        if row.ci_low is not None and row.ci_high is not None
        else ""
    )
    return f"{row.value:.3f}{interval}"


def _speed_text(row: LeaderboardRow) -> str:
    return "not measured" if row.images_per_s is None else f"{row.images_per_s:.0f}"


def publish(model_dir: str | Path, to: str | Path, *, name: str | None = None) -> LeaderboardRow:
    """Copy the package's card and package.json (no weights) to ``to/<name>/`` and add or replace its row."""
    model_dir, to = Path(model_dir), Path(to)
    row = row_from_package(model_dir, name)
    target = to / row.name
    target.mkdir(parents=True, exist_ok=True)
    for file_name in ("MODEL_CARD.md", "package.json"):
        shutil.copyfile(model_dir / file_name, target / file_name)
    rows = [r for r in read_leaderboard(to) if r.name != row.name] + [row]
    write_json(to / LEADERBOARD_FILE, {"format": _FORMAT, "models": [asdict(r) for r in _sorted(rows)]})
    write_text(to / MARKDOWN_FILE, _markdown(rows))
    return row


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>sdc-bench leaderboard</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}
table{{border-collapse:collapse}} th,td{{border:1px solid #ccc;padding:.35rem .6rem;text-align:left}}
th{{background:#f2f2f2;cursor:pointer;user-select:none}} th[aria-sort=ascending]::after{{content:" \\25B2"}}
th[aria-sort=descending]::after{{content:" \\25BC"}} td.num{{text-align:right;font-variant-numeric:tabular-nums}}
</style></head><body>
<h1>Leaderboard of published models</h1>
<p>{count} model(s). Click a column heading to sort. Balanced accuracy is cross-validated (pooled out-of-fold
predictions) with its 95% interval; images/s is the whole package on the machine named beside it.</p>
<table id="board"><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table>
<script>
document.querySelectorAll("#board th").forEach(function (th, column) {{
  th.addEventListener("click", function () {{
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    document.querySelectorAll("#board th").forEach(function (h) {{ h.removeAttribute("aria-sort"); }});
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = document.querySelector("#board tbody");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {{
      var x = a.cells[column].getAttribute("data-sort"), y = b.cells[column].getAttribute("data-sort");
      var nx = parseFloat(x), ny = parseFloat(y);
      var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return ascending ? order : -order;
    }});
    rows.forEach(function (row) {{ body.appendChild(row); }});
  }});
}});
</script>
</body></html>
"""

_COLUMNS = (
    "model",
    "task",
    "data",
    "balanced accuracy [95% CI]",
    "images/s",
    "measured on",
    "licence",
    "card",
)


def _cell(text: str, sort: object, *, number: bool = False) -> str:
    css = ' class="num"' if number else ""
    return f'<td{css} data-sort="{html.escape(str(sort), quote=True)}">{text}</td>'


def _html(rows: list[LeaderboardRow]) -> str:
    body = []
    for row in _sorted(rows):
        cells = [
            _cell(html.escape(row.name), row.name),
            _cell(html.escape(row.task), row.task),
            _cell(html.escape(row.data), row.data),
            _cell(html.escape(_metric_text(row)), "" if row.value is None else row.value, number=True),
            _cell(_speed_text(row), "" if row.images_per_s is None else row.images_per_s, number=True),
            _cell(html.escape(row.machine), row.machine),
            _cell(html.escape(row.licence), row.licence),
            _cell(f'<a href="{html.escape(row.card, quote=True)}">card</a>', row.name),
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in _COLUMNS)
    return _PAGE.format(count=len(rows), head=head, body="\n".join(body))


def render_board(folder: str | Path, out: str | Path) -> list[Path]:
    """Write ``out/index.html`` (sortable, self-contained), ``out/leaderboard.md`` and each card beside them."""
    folder, out = Path(folder), Path(out)
    rows = read_leaderboard(folder)
    if not rows:
        raise DataError(
            f"{folder}: no published models ({LEADERBOARD_FILE} is absent or empty); "
            "add one with `sdc-bench publish MODEL_DIR --to model-cards/`"
        )
    written = []
    for row in rows:
        source = folder / row.card
        if source.is_file():
            (out / row.card).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out / row.card)
            written.append(out / row.card)
    write_text(out / "index.html", _html(rows))
    write_text(out / "leaderboard.md", _markdown(rows))
    return [out / "index.html", out / "leaderboard.md", *written]
