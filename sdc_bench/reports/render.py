"""Renderers of display tables: GitHub Markdown, LaTeX (booktabs) and standalone HTML.

They work on any :class:`pandas.DataFrame` and honour the emphasis a table builder of
:mod:`sdc_bench.reports.tables` puts in ``DataFrame.attrs`` (``bold``, ``marks``, ``notes``,
``group``); :func:`write_table` writes ``<stem>.csv``, ``.md`` and ``.tex``.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd

from sdc_bench.core.store import write_text

__all__ = ["to_html", "to_latex", "to_markdown", "write_table"]


def _emphasis(table: pd.DataFrame) -> tuple[set[tuple[int, str]], dict[tuple[int, str], str]]:
    attrs = getattr(table, "attrs", {}) or {}
    bold = {(int(r), str(c)) for r, c in attrs.get("bold", [])}
    marks = {(int(r), str(c)): str(m) for r, c, m in attrs.get("marks", [])}
    return bold, marks


def _group_starts(table: pd.DataFrame) -> set[int]:
    group = (getattr(table, "attrs", {}) or {}).get("group")
    if not group or group not in table.columns or table.empty:
        return set()
    values = table[group].astype(str).tolist()
    return {i for i in range(1, len(values)) if values[i] != values[i - 1]}


def _escape_md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _escape_md_prose(text: object) -> str:
    """Escape a note, so a leading ``*`` is a mark, not a list bullet."""
    return _escape_md(text).replace("*", "\\*")


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (``**bold**``, escaped ``\\*`` marks), then its notes."""
    bold, marks = _emphasis(table)
    columns = [str(c) for c in table.columns]
    header = "| " + " | ".join(map(_escape_md, columns)) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = []
    for index, row in enumerate(table.itertuples(index=False)):
        cells = []
        for column, value in zip(columns, row):
            text = _escape_md(value)
            if (index, column) in bold and text:
                text = f"**{text}**"
            if (index, column) in marks:
                text += "".join("\\" + ch if ch in "*_`" else ch for ch in marks[(index, column)])
            cells.append(text)
        body.append("| " + " | ".join(cells) + " |")
    text = "\n".join([header, rule, *body]) + "\n"
    notes = (getattr(table, "attrs", {}) or {}).get("notes", [])
    if notes:
        text += "\n" + "\n".join(f"{_escape_md_prose(n)}  " for n in notes).rstrip() + "\n"
    return text


_LATEX_SPECIAL = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "±": r"$\pm$",
    "−": r"$-$",
    "–": "--",
    "—": "---",
    "Δ": r"$\Delta$",
    "×": r"$\times$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "†": r"\dag{}",
    "…": r"\ldots{}",
    "\n": " ",
    "`": "",
}


def _escape_tex(text: object) -> str:
    """Escape LaTeX special characters; characters pdflatex cannot set become ``?``."""
    out = []
    for char in str(text):
        if char in _LATEX_SPECIAL:
            out.append(_LATEX_SPECIAL[char])
        elif ord(char) < 128 or char in "éèüöäßàçñ":
            out.append(char)
        else:
            out.append("?")
    return "".join(out)


_NUMERIC = re.compile(r"^[-+<]?\d")


def _alignment(table: pd.DataFrame) -> str:
    """``l`` for text columns, ``r`` for columns whose cells start with a number."""
    spec = []
    for column in table.columns:
        values = [str(v) for v in table[column] if str(v) not in ("", "n/a", "–")]
        spec.append("r" if values and all(_NUMERIC.match(v) for v in values) else "l")
    return "".join(spec)


def to_latex(table: pd.DataFrame, *, caption: str = "", label: str = "") -> str:
    """A booktabs ``table`` float (needs ``\\usepackage{booktabs}``), notes under the tabular."""
    bold, marks = _emphasis(table)
    columns = [str(c) for c in table.columns]
    lines = [r"\begin{table}[tbp]", r"\centering", r"\small"]
    if caption:
        lines.append(rf"\caption{{{_escape_tex(caption)}}}")
    if label:
        lines.append(rf"\label{{{_escape_tex(label).replace(chr(92) + '_', '-')}}}")
    lines += [
        rf"\begin{{tabular}}{{{_alignment(table) or 'l'}}}",
        r"\toprule",
        " & ".join(_escape_tex(c) for c in columns) + r" \\",
        r"\midrule",
    ]
    starts = _group_starts(table)
    for index, row in enumerate(table.itertuples(index=False)):
        if index in starts:
            lines.append(r"\midrule")
        cells = []
        for column, value in zip(columns, row):
            text = _escape_tex(value)
            if (index, column) in bold and text:
                text = rf"\textbf{{{text}}}"
            if (index, column) in marks:
                text += rf"$^{{{_escape_tex(marks[(index, column)])}}}$"
            cells.append(text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    notes = (getattr(table, "attrs", {}) or {}).get("notes", [])
    if notes:
        lines.append(r"\par\smallskip")
        lines.append(r"\begin{minipage}{\linewidth}\footnotesize")
        lines += [_escape_tex(n) + r"\par" for n in notes]
        lines.append(r"\end{minipage}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def to_html(table: pd.DataFrame, *, caption: str = "") -> str:
    """An HTML ``<table>`` (``<strong>`` for bold, ``<sup>`` for marks), notes in ``<p class="note">``."""
    bold, marks = _emphasis(table)
    columns = [str(c) for c in table.columns]
    starts = _group_starts(table)
    parts = ['<div class="table-wrap"><table>']
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append(
        "<thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr></thead><tbody>"
    )
    align = _alignment(table)
    for index, row in enumerate(table.itertuples(index=False)):
        css = ' class="group-start"' if index in starts else ""
        cells = []
        for position, (column, value) in enumerate(zip(columns, row)):
            text = html.escape(str(value))
            if (index, column) in bold and text:
                text = f"<strong>{text}</strong>"
            if (index, column) in marks:
                text += f"<sup>{html.escape(marks[(index, column)])}</sup>"
            cls = ' class="num"' if position < len(align) and align[position] == "r" else ""
            cells.append(f"<td{cls}>{text}</td>")
        parts.append(f"<tr{css}>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table></div>")
    for note in (getattr(table, "attrs", {}) or {}).get("notes", []):
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    return "\n".join(parts) + "\n"


def write_table(table: pd.DataFrame, stem: str | Path, *, caption: str = "") -> list[Path]:
    """Write ``<stem>.csv`` (cell text and marks, no markup), ``.md`` and ``.tex``; return the paths."""
    stem = Path(stem)
    paths = [stem.with_suffix(".csv"), stem.with_suffix(".md"), stem.with_suffix(".tex")]
    _, marks = _emphasis(table)
    plain = table.copy()
    for (row, column), mark in marks.items():
        if column in plain.columns and row < len(plain):
            position = list(plain.columns).index(column)
            plain.iat[row, position] = str(plain.iat[row, position]) + mark
    write_text(paths[0], plain.to_csv(index=False, lineterminator="\n"))
    write_text(paths[1], (f"{caption}\n\n" if caption else "") + to_markdown(table))
    write_text(paths[2], to_latex(table, caption=caption, label=f"tab:{stem.name}"))
    return paths
