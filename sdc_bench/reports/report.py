"""The report a person opens first: ``report.md`` and a self-contained ``report.html``.

The builder (:mod:`sdc_bench.reports.build`) hands over an ordered list of
:class:`Section` objects (paragraphs, key/value facts, tables, figures, or a note that an
optional part was skipped); this module only renders them. ``report.md`` links the figure
files beside it; ``report.html`` embeds every PNG as a base64 data URI and carries its CSS
inline, so it opens in a browser from a mail attachment or a CI artifact, with no server.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sdc_bench.core.store import write_text
from sdc_bench.reports.render import to_html, to_markdown

__all__ = ["FigureItem", "Section", "TableItem", "render_html", "render_markdown", "write_report"]


@dataclass(frozen=True)
class TableItem:
    """A table of the report.

    Attributes
    ----------
    name : str
        File stem in ``tables/`` (the report links the CSV / LaTeX copies).
    caption : str
        One or two sentences that say what the table shows.
    table : pandas.DataFrame
        A table from :mod:`sdc_bench.reports.tables` (emphasis in ``attrs``).
    """

    name: str
    caption: str
    table: pd.DataFrame = field(compare=False)


@dataclass(frozen=True)
class FigureItem:
    """A figure of the report: ``png`` (embedded in HTML, linked in Markdown) and its caption."""

    name: str
    caption: str
    png: Path


@dataclass
class Section:
    """One section of the report, rendered in order: paragraphs, facts, items; or a skip note.

    Attributes
    ----------
    title : str
        Heading.
    paragraphs : list of str
        Plain sentences (``code`` in backticks allowed).
    facts : list of (str, str)
        Key / value pairs, shown as a two-column list.
    items : list of TableItem or FigureItem
        Tables and figures, in order.
    skipped : str, optional
        Why the section has no content (an optional artifact is absent); shown instead.
    box : bool
        Render the paragraphs as a highlighted box (the caveats), one item each.
    """

    title: str
    paragraphs: list[str] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    items: list[TableItem | FigureItem] = field(default_factory=list)
    skipped: str | None = None
    box: bool = False


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def render_markdown(title: str, sections: Sequence[Section], root: Path) -> str:
    """Markdown of the report; figure links are relative to ``root`` (the run folder)."""
    lines = [
        f"# {title}",
        "",
        "Contents: " + " · ".join(f"[{s.title}](#{_anchor(s.title)})" for s in sections),
        "",
    ]
    table_number = figure_number = 0
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.skipped:
            lines += [f"_Skipped: {section.skipped}_", ""]
        if section.box:
            lines += ["> **" + section.title + "**", ">", *(f"> - {p}" for p in section.paragraphs), ""]
        for paragraph in [] if section.box else section.paragraphs:
            lines += [paragraph, ""]
        if section.facts:
            lines += ["| | |", "|---|---|"]
            lines += [f"| {key} | {str(value).replace('|', '/')} |" for key, value in section.facts]
            lines.append("")
        for item in section.items:
            if isinstance(item, TableItem):
                table_number += 1
                lines += [
                    f"**Table {table_number}.** {item.caption} "
                    f"([CSV](tables/{item.name}.csv), [LaTeX](tables/{item.name}.tex))",
                    "",
                    to_markdown(item.table),
                ]
            else:
                figure_number += 1
                relative = item.png.relative_to(root) if item.png.is_relative_to(root) else item.png
                pdf = relative.with_suffix(".pdf")
                lines += [
                    f"![{item.name.replace('_', ' ')}]({relative.as_posix()})",
                    "",
                    f"**Figure {figure_number}.** {item.caption} ([PDF]({pdf.as_posix()}))",
                    "",
                ]
    return "\n".join(lines).rstrip() + "\n"


_CSS = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a;
       max-width: 1100px; margin: 2em auto; padding: 0 1.5em; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
nav { font-size: 0.9em; color: #555; } nav a { color: #0060a0; margin-right: 0.8em; text-decoration: none; }
.table-wrap { overflow-x: auto; margin: 0.5em 0; }
table { border-collapse: collapse; font-size: 12px; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.4em; }
th { border-top: 2px solid #333; border-bottom: 1px solid #333; padding: 4px 8px; text-align: left; white-space: nowrap; }
td { padding: 3px 8px; white-space: nowrap; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.wrap { white-space: normal; min-width: 40ch; }
tbody tr:last-child td { border-bottom: 2px solid #333; } tr.group-start td { border-top: 1px solid #999; }
tbody tr:nth-child(even) { background: #f7f7f7; }
p.note { font-size: 11.5px; color: #444; margin: 0.2em 0; max-width: 95ch; }
p.skipped { color: #8a5a00; background: #fff6e0; padding: 0.4em 0.7em; border-left: 3px solid #e0a000; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 12.5px; color: #333; max-width: 95ch; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1.2em; font-size: 13px; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
ul.caveats { background: #fff6e0; border-left: 3px solid #e0a000; padding: 0.5em 0.7em 0.5em 2em; }
code { background: #f2f2f2; padding: 0 0.25em; border-radius: 3px; }
"""


#: Figures are saved at 300 dpi; shown at 150 CSS px per inch, a one-column figure is half as wide as a
#: two-column one and every figure's text has the same size on the page (instead of one-column figures
#: being stretched to the page width, their text twice as large).
_PNG_PX_PER_CSS_PX = 2


def _css_width(png: bytes) -> int:
    """The width in CSS pixels to show a 300-dpi figure PNG at (its IHDR width, halved)."""
    return int.from_bytes(png[16:20], "big") // _PNG_PX_PER_CSS_PX


def _inline(text: str) -> str:
    """Escape text for HTML, keeping ``code`` spans."""
    parts = re.split(r"(`[^`]+`)", text)
    return "".join(
        f"<code>{html.escape(p[1:-1])}</code>" if p.startswith("`") and p.endswith("`") else html.escape(p)
        for p in parts
    )


def render_html(title: str, sections: Sequence[Section]) -> str:
    """Self-contained HTML of the report: inline CSS, PNG figures as base64 data URIs."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<nav>"
        + "".join(f'<a href="#{_anchor(s.title)}">{html.escape(s.title)}</a>' for s in sections)
        + "</nav>",
    ]
    table_number = figure_number = 0
    for section in sections:
        out.append(f'<section id="{_anchor(section.title)}"><h2>{html.escape(section.title)}</h2>')
        if section.skipped:
            out.append(f'<p class="skipped">Skipped: {_inline(section.skipped)}</p>')
        if section.box:
            out.append(
                '<ul class="caveats">'
                + "".join(f"<li>{_inline(p)}</li>" for p in section.paragraphs)
                + "</ul>"
            )
        else:
            out += [f"<p>{_inline(p)}</p>" for p in section.paragraphs]
        if section.facts:
            out.append('<dl class="facts">')
            out += [f"<dt>{html.escape(k)}</dt><dd>{_inline(str(v))}</dd>" for k, v in section.facts]
            out.append("</dl>")
        for item in section.items:
            if isinstance(item, TableItem):
                table_number += 1
                out.append(to_html(item.table, caption=f"Table {table_number}. {item.caption}"))
            else:
                figure_number += 1
                png = item.png.read_bytes()
                data = base64.b64encode(png).decode("ascii")
                out.append(
                    f'<figure><img alt="{html.escape(item.name.replace("_", " "))}" width="{_css_width(png)}" '
                    f'src="data:image/png;base64,{data}">'
                    f"<figcaption><strong>Figure {figure_number}.</strong> {_inline(item.caption)}</figcaption></figure>"
                )
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_report(root: str | Path, title: str, sections: Sequence[Section]) -> list[Path]:
    """Write ``report.md`` and ``report.html`` into the run folder ``root``; return their paths."""
    root = Path(root)
    markdown, page = root / "report.md", root / "report.html"
    write_text(markdown, render_markdown(title, sections, root))
    write_text(page, render_html(title, sections))
    return [markdown, page]
