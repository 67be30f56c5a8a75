"""Renderers of display tables: GitHub Markdown, LaTeX (booktabs) and standalone HTML.

They work on any :class:`pandas.DataFrame` and honour the emphasis a table builder of
:mod:`sdc_bench.reports.sections` puts in ``DataFrame.attrs`` (``bold``, ``marks``, ``notes``,
``group``); :func:`write_table` writes ``<stem>.csv``, ``.md`` and ``.tex``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sdc_bench.core.store import write_text

__all__ = [
    "SINGLE_COLUMN_CHARACTERS",
    "latex_width_characters",
    "to_html",
    "to_latex",
    "to_markdown",
    "to_text",
    "write_table",
]


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
    "‡": r"\ddag{}",
    "§": r"\S{}",
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


#: The widest table, in characters of its natural width (:func:`latex_width_characters`), that goes in one
#: column of a two-column journal page: about 58 characters of ``\small`` Computer Modern (4.1 pt each, on
#: average over our tables) fill its 240 pt, and ``adjustbox`` may shrink a table to 80% before its type gets
#: too small. A wider table spans both columns.
SINGLE_COLUMN_CHARACTERS = 72
#: A line set in ``\scriptsize`` (an interval under its estimate) is about this much narrower than ``\small``.
_SCRIPTSIZE_RATIO = 0.8
#: The separation between two columns (2 x ``\tabcolsep``), in characters.
_COLUMN_SEPARATION_CHARACTERS = 2

_INTERVAL = re.compile(r"^(.*\S) (\[[^\]]+\])$")


def _split_interval(text: str) -> tuple[str, str]:
    """``'0.914 [0.892, 0.931]'`` -> (``'0.914'``, ``'[0.892, 0.931]'``); other text has no second line."""
    match = _INTERVAL.match(text)
    return (match.group(1), match.group(2)) if match else (text, "")


def _header_lines(title: str) -> list[str]:
    """A header broken at the space nearest its middle when it is long."""
    words = title.split(" ")
    if len(title) <= 12 or len(words) < 2:
        return [title]
    cut = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(title) / 2))
    return [" ".join(words[:cut]), " ".join(words[cut:])]


def _stacked(table: pd.DataFrame) -> pd.DataFrame:
    """``attrs["stack"] = [top, below]``: the LaTeX copy sets ``below`` under ``top`` in one column, to save width."""
    stack = (getattr(table, "attrs", {}) or {}).get("stack")
    if not stack or not set(stack) <= set(table.columns):
        return table
    top, below = stack
    merged = table.drop(columns=[below])
    merged[top] = [f"{a}\n{b}" if b not in ("", "–") else str(a) for a, b in zip(table[top], table[below])]
    merged.attrs = dict(table.attrs)
    return merged


def latex_width_characters(table: pd.DataFrame) -> float:
    """Natural width of :func:`to_latex`'s tabular in characters: per column the longest header line or cell
    line (an interval or stacked line below at ``\\scriptsize``), plus the separation of the columns.

    It only chooses the float (``table`` or ``table*``); whether the tabular is shrunk to fit is LaTeX's
    call, from the width it sets (``adjustbox``'s ``max width``).
    """
    table = _stacked(table)
    _, marks = _emphasis(table)
    total = 0.0
    for column in (str(c) for c in table.columns):
        widest = float(max(len(line) for line in _header_lines(column)))
        for index, value in enumerate(table[column]):
            main, interval = _split_interval(str(value))
            main, _, below = main.partition("\n")
            widest = max(
                widest,
                len(main + marks.get((index, column), "")),
                len(interval or below) * _SCRIPTSIZE_RATIO,
            )
        total += widest + _COLUMN_SEPARATION_CHARACTERS
    return total


def _stack(lines: Sequence[str], align: str, position: str = "t") -> str:
    if len(lines) == 1:
        return lines[0]
    return rf"\begin{{tabular}}[{position}]{{@{{}}{align}@{{}}}}" + r" \\ ".join(lines) + r"\end{tabular}"


def _latex_cell(text: str, *, bold: bool, mark: str, align: str) -> str:
    main, interval = _split_interval(text)
    main, _, below = main.partition("\n")
    interval = interval or below
    out = _escape_tex(main)
    if bold and out:
        out = rf"\textbf{{{out}}}"
    if mark:
        out += rf"$^{{{_escape_tex(mark)}}}$"
    return _stack([out, r"{\scriptsize " + _escape_tex(interval) + "}"] if interval else [out], align)


def to_latex(table: pd.DataFrame, *, caption: str = "", label: str = "") -> str:
    """A booktabs float (needs ``booktabs`` and ``adjustbox``) that fits a journal column.

    Intervals go on a second line in ``\\scriptsize`` and long headers on two lines. A table whose
    natural width (:func:`latex_width_characters`) fits a single column is a ``table``, a wider one a
    two-column ``table*``; ``adjustbox`` shrinks the tabular to ``\\columnwidth`` (``\\textwidth``) only
    when LaTeX finds it wider.
    """
    width = latex_width_characters(table)
    table = _stacked(table)
    bold, marks = _emphasis(table)
    columns = [str(c) for c in table.columns]
    align = _alignment(table) or "l"
    float_name, target = (
        ("table", r"\columnwidth") if width <= SINGLE_COLUMN_CHARACTERS else ("table*", r"\textwidth")
    )
    lines = [rf"\begin{{{float_name}}}[tbp]", r"\centering", r"\small"]
    if caption:
        lines.append(rf"\caption{{{_escape_tex(caption)}}}")
    if label:
        lines.append(rf"\label{{{_escape_tex(label).replace(chr(92) + '_', '-')}}}")
    header = [
        _stack([_escape_tex(line) for line in _header_lines(c)], align[i] if i < len(align) else "l", "b")
        for i, c in enumerate(columns)
    ]
    lines += [
        rf"\begin{{adjustbox}}{{max width={target}}}",
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(header) + r" \\",
        r"\midrule",
    ]
    starts = _group_starts(table)
    for index, row in enumerate(table.itertuples(index=False)):
        if index in starts:
            lines.append(r"\midrule")
        cells = [
            _latex_cell(
                str(value),
                bold=(index, column) in bold,
                mark=marks.get((index, column), ""),
                align=align[position] if position < len(align) else "l",
            )
            for position, (column, value) in enumerate(zip(columns, row))
        ]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{adjustbox}"]
    notes = (getattr(table, "attrs", {}) or {}).get("notes", [])
    if notes:
        lines.append(r"\par\smallskip")
        lines.append(r"\begin{minipage}{\linewidth}\footnotesize")
        lines += [_escape_tex(n) + r"\par" for n in notes]
        lines.append(r"\end{minipage}")
    lines.append(rf"\end{{{float_name}}}")
    return "\n".join(lines) + "\n"


def to_text(table: pd.DataFrame) -> str:
    """Plain text for a terminal: aligned columns, marks after their cells, no Markdown escapes or bold."""
    _, marks = _emphasis(table)
    columns = [str(c) for c in table.columns]
    body = [
        [str(value) + marks.get((index, column), "") for column, value in zip(columns, row)]
        for index, row in enumerate(table.itertuples(index=False))
    ]
    widths = [max([len(c), *(len(r[i]) for r in body)]) for i, c in enumerate(columns)]
    align = _alignment(table)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(w) if i < len(align) and align[i] == "r" else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths))
        ).rstrip()

    out = [line(columns), "  ".join("-" * w for w in widths), *(line(r) for r in body)]
    out += list((getattr(table, "attrs", {}) or {}).get("notes", []))
    return "\n".join(out) + "\n"


#: Cells longer than this wrap in the HTML table (``td.wrap``) instead of widening it past the page.
_WRAP_CHARS = 60


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
            if len(str(value)) > _WRAP_CHARS:  # a long cell (e.g. a parameter list) wraps, not the page
                cls = ' class="wrap"'
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
