"""The report's Environment section: Python, platform, host, device, packages and git revision of the run."""

from __future__ import annotations

from sdc_bench.core.run_manifest import RunManifest
from sdc_bench.reports.document import Section
from sdc_bench.reports.sections._context import ReportContext
from sdc_bench.reports.sections._registry import report_section

__all__ = ["environment_of", "environment_section"]


def environment_of(run: RunManifest) -> Section:
    """Python, platform, host, device, packages and git revision of the run."""
    environment = run.environment
    facts = [
        ("Python", environment.python),
        ("Platform", environment.platform),
        ("Host", environment.host),
        ("Device", f"{run.device} ({environment.device})"),
    ]
    for key in ("cpu_count", "torch_threads", "cuda"):
        value = getattr(environment, key)  # cuda is None on a machine without it: say so, not "None"
        facts.append((key.replace("_", " ").capitalize(), "none" if value is None else str(value)))
    if environment.openmp_wait is not None:  # recorded since issue 26
        facts.append(("OpenMP wait", environment.openmp_wait))
    if environment.usable_cores is not None:
        facts.append(("Usable cores", str(environment.usable_cores)))
    packages = environment.packages
    if packages:
        facts.append(("Packages", ", ".join(f"{k} {v}" for k, v in packages.items() if v)))
    facts.append(("Git revision", run.git_revision))
    return Section("Environment", facts=facts)


@report_section("environment", title="Environment", order=150)
def environment_section(ctx: ReportContext) -> Section:
    """The Environment section of the run in ``ctx``."""
    return environment_of(ctx.run)
