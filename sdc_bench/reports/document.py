"""The report a person opens first: ``report.md`` and a self-contained ``report.html``.

The builder (:mod:`sdc_bench.reports.build`) hands over an ordered list of
:class:`Section` objects (paragraphs, key/value facts, tables, figures, or a note that an
optional part was skipped); this module only renders them. ``report.md`` links the figure
files beside it; ``report.html`` embeds every PNG as a base64 data URI and carries its CSS
inline, so it opens in a browser from a mail attachment or a CI artifact, with no server. The page
is the jinja2 template ``templates/report.html.j2`` (autoescaped); this module hands it the sections.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup, escape

from sdc_bench.core.store import write_text
from sdc_bench.reports.table_render import to_html, to_markdown

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
        A table built by a section module of :mod:`sdc_bench.reports.sections` (emphasis in ``attrs``).
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


#: Figures are saved at 300 dpi; shown at 150 CSS px per inch, a one-column figure is half as wide as a
#: two-column one and every figure's text has the same size on the page (instead of one-column figures
#: being stretched to the page width, their text twice as large).
_PNG_PX_PER_CSS_PX = 2


def _css_width(png: bytes) -> int:
    """The width in CSS pixels to show a 300-dpi figure PNG at (its IHDR width, halved)."""
    return int.from_bytes(png[16:20], "big") // _PNG_PX_PER_CSS_PX


def _inline(text: str) -> Markup:
    """Escape text for HTML, keeping ``code`` spans (the template's ``inline`` filter)."""
    parts = re.split(r"(`[^`]+`)", text)
    return Markup("").join(
        Markup("<code>{}</code>").format(p[1:-1]) if p.startswith("`") and p.endswith("`") else escape(p)
        for p in parts
    )


_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("sdc_bench.reports", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
_TEMPLATES.filters["inline"] = _inline


def _html_items(sections: Sequence[Section]) -> list[list[dict[str, object]]]:
    """Each section's items as the template shows them: a table's HTML, or a figure's embedded PNG."""
    table_number = figure_number = 0
    shown: list[list[dict[str, object]]] = []
    for section in sections:
        items: list[dict[str, object]] = []
        for item in section.items:
            if isinstance(item, TableItem):
                table_number += 1
                caption = f"Table {table_number}. {item.caption}"
                items.append({"table_html": Markup(to_html(item.table, caption=caption))})
            else:
                figure_number += 1
                png = item.png.read_bytes()
                items.append(
                    {
                        "table_html": None,
                        "alt": item.name.replace("_", " "),
                        "width": _css_width(png),
                        "data": base64.b64encode(png).decode("ascii"),
                        "number": figure_number,
                        "caption": item.caption,
                    }
                )
        shown.append(items)
    return shown


def render_html(title: str, sections: Sequence[Section]) -> str:
    """Self-contained HTML of the report (``templates/report.html.j2``): inline CSS, PNG figures as
    base64 data URIs."""
    shown = [
        {
            "title": section.title,
            "anchor": _anchor(section.title),
            "skipped": section.skipped,
            "box": section.box,
            "paragraphs": section.paragraphs,
            "facts": section.facts,
            "entries": items,
        }
        for section, items in zip(sections, _html_items(sections), strict=True)
    ]
    return _TEMPLATES.get_template("report.html.j2").render(title=title, sections=shown)


def write_report(root: str | Path, title: str, sections: Sequence[Section]) -> list[Path]:
    """Write ``report.md`` and ``report.html`` into the run folder ``root``; return their paths."""
    root = Path(root)
    markdown, page = root / "report.md", root / "report.html"
    write_text(markdown, render_markdown(title, sections, root))
    write_text(page, render_html(title, sections))
    return [markdown, page]
