"""The sections of a run's report, one module each, discovered.

A section module holds everything of its section: the table builders, the figure functions and the prose,
and declares the section with :func:`report_section` (name, title, place in the report). Every module of
this package is imported here, so a new section is one new module and nothing else; the report builder
(:func:`~sdc_bench.reports.build.build_reports`) builds :func:`registered_sections` in order.
"""

from __future__ import annotations

import importlib
import pkgutil

from sdc_bench.reports.sections._context import ReportContext, ReportWriter
from sdc_bench.reports.sections._registry import (
    ReportSection,
    SectionBuilder,
    register_section,
    registered_sections,
    report_section,
    unregister_section,
)

__all__ = [
    "ReportContext",
    "ReportSection",
    "ReportWriter",
    "SectionBuilder",
    "register_section",
    "registered_sections",
    "report_section",
    "unregister_section",
]

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
