"""The report's table of contents: :class:`ReportSection` declarations, registered by the section modules.

Each module of :mod:`sdc_bench.reports.sections` declares its section with :func:`report_section`: a name, the
heading, its place in the report (``order``) and whether it is built after every other section
(``built_last``: the summary and the caveats list what the others skipped). :func:`build_reports
<sdc_bench.reports.build.build_reports>` builds and lays out whatever :func:`registered_sections` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sdc_bench.reports.document import Section
from sdc_bench.reports.sections._context import ReportContext

__all__ = [
    "ReportSection",
    "SectionBuilder",
    "register_section",
    "registered_sections",
    "report_section",
    "unregister_section",
]

#: What a section module provides: the run's context in, one :class:`~sdc_bench.reports.document.Section` out.
SectionBuilder = Callable[[ReportContext], Section]


@dataclass(frozen=True)
class ReportSection:
    """One section of the run report, as the registry knows it.

    Attributes
    ----------
    name : str
        Unique key (the module's name for the built-in sections).
    title : str
        The heading; the section :attr:`build` returns carries the same title.
    order : int
        Place in the report, ascending.
    build : callable
        ``build(ctx) -> Section``; it may write tables and figures through ``ctx.writer``.
    built_last : bool, default=False
        Build after every other section (its place in the report is still ``order``): for the sections that
        report what the others skipped (``ctx.skipped``, ``ctx.small_n``).
    """

    name: str
    title: str
    order: int
    build: SectionBuilder
    built_last: bool = False


_SECTIONS: dict[str, ReportSection] = {}


def register_section(section: ReportSection) -> ReportSection:
    """Add ``section`` to the report; a second section of the same name is an error."""
    if section.name in _SECTIONS:
        raise ValueError(f"report section {section.name!r} is already registered")
    _SECTIONS[section.name] = section
    return section


def unregister_section(name: str) -> None:
    """Remove the section ``name`` (a test's throw-away section); an unknown name is ignored."""
    _SECTIONS.pop(name, None)


def report_section(
    name: str, *, title: str, order: int, built_last: bool = False
) -> Callable[[SectionBuilder], SectionBuilder]:
    """Register the decorated ``build(ctx) -> Section`` function as the section ``name``; return it unchanged."""

    def register(build: SectionBuilder) -> SectionBuilder:
        register_section(ReportSection(name, title, order, build, built_last))
        return build

    return register


def registered_sections() -> tuple[ReportSection, ...]:
    """Every registered section, in report order."""
    return tuple(sorted(_SECTIONS.values(), key=lambda section: (section.order, section.name)))
