"""SynthSpine: the built-in procedural phantom dataset of spinal X-ray and MRI with five classes.

This is the package's public face; other packages import from here. One concept per module:

- :mod:`~sdc_bench.data.synthspine.dataset`: :class:`SynthConfig`, :func:`generate` (a folder of PNG or
  DICOM files and its manifest), :func:`generate_arrays` (in memory) and :func:`contact_sheet`;
- :mod:`~sdc_bench.data.synthspine.sites`: the acquisition-site profiles (:data:`SITES`);
- :mod:`~sdc_bench.data.synthspine.clinical`: clinic-shaped folders (tall radiographs, MRI DICOM series);
- the generator's steps, private to this package: :mod:`~sdc_bench.data.synthspine.anatomy` (patients and
  acquisitions drawn at random), :mod:`~sdc_bench.data.synthspine.layout` (the spine in pixels),
  :mod:`~sdc_bench.data.synthspine.frame` (the straightened spine frame),
  :mod:`~sdc_bench.data.synthspine.draw` (drawing primitives), :mod:`~sdc_bench.data.synthspine.xray` and
  :mod:`~sdc_bench.data.synthspine.mri` (the renderers) and :mod:`~sdc_bench.data.synthspine.dicom` (the
  DICOM writer).
"""

from __future__ import annotations

from sdc_bench.data.synthspine.clinical import normal_vs_abnormal, write_mri_series, write_tall_xrays
from sdc_bench.data.synthspine.dataset import (
    CLASSES,
    DEFAULT_PREVALENCE,
    MANIFEST_COLUMNS,
    MODALITIES,
    VIEWS,
    SynthConfig,
    contact_sheet,
    generate,
    generate_arrays,
)
from sdc_bench.data.synthspine.sites import SITES, SiteProfile

__all__ = [
    "CLASSES",
    "DEFAULT_PREVALENCE",
    "MANIFEST_COLUMNS",
    "MODALITIES",
    "SITES",
    "VIEWS",
    "SiteProfile",
    "SynthConfig",
    "contact_sheet",
    "generate",
    "generate_arrays",
    "normal_vs_abnormal",
    "write_mri_series",
    "write_tall_xrays",
]
