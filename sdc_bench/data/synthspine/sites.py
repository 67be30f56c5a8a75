"""Acquisition-site profiles for the SynthSpine phantom: how one scanner park renders the same anatomy.

A site changes only the acquisition (dose and noise, contrast, display gamma, blur, field of view,
collimation, DICOM conventions), never the anatomy or the labels, so a dataset generated at a
second site is a domain-shifted copy of the task: the external-validation set of a benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SITES", "SiteProfile"]


@dataclass(frozen=True)
class SiteProfile:
    """How one acquisition site renders radiographs and MRI.

    Parameters
    ----------
    name : str
        Key in :data:`SITES`; part of every patient id generated at the site.
    description : str
        One line for people: which kind of equipment the profile imitates.
    xray_dose : float
        Relative photon count of the radiographs; lower means more quantum noise.
    mri_noise : float
        Standard deviation of the complex MRI noise relative to the CSF signal (Rician after magnitude).
    contrast : float
        Slope of the display curve around mid-grey (1 = linear window).
    gamma : float
        Display gamma applied after windowing (values < 1 brighten the mid-tones).
    blur_px : float
        Gaussian point-spread sigma in pixels of a 256 px image (scaled with the output size).
    fov_scale : float
        Multiplies the field of view; > 1 shows more vertebrae at a smaller scale.
    collimation_fill : str
        ``"white"`` (unexposed film look) or ``"black"`` (electronic shutter) outside the collimated field.
    xray_modality : str
        DICOM Modality of the radiographs: ``"CR"`` or ``"DX"``.
    xray_photometric : str
        ``"MONOCHROME2"`` or ``"MONOCHROME1"`` (stored inverted) for radiographs written as DICOM.
    bits_stored : int
        DICOM BitsStored (12 or 16) used when the images are 8-bit.
    field_strength_t : float
        MRI field strength in tesla (DICOM MagneticFieldStrength).
    bias_strength : float
        Strength of the smooth multiplicative MRI bias field (receive-coil shading).
    heel_effect : float
        Strength of the exposure gradient across radiographs (anode heel effect).
    manufacturer : str
        DICOM Manufacturer.
    """

    name: str
    description: str
    xray_dose: float
    mri_noise: float
    contrast: float
    gamma: float
    blur_px: float
    fov_scale: float
    collimation_fill: str
    xray_modality: str
    xray_photometric: str
    bits_stored: int
    field_strength_t: float
    bias_strength: float
    heel_effect: float
    manufacturer: str


SITES: dict[str, SiteProfile] = {
    "site_a": SiteProfile(
        name="site_a",
        description="reference site: flat-panel DX radiography and a 1.5 T MRI",
        xray_dose=1.0,
        mri_noise=0.035,
        contrast=1.0,
        gamma=1.0,
        blur_px=0.6,
        fov_scale=1.0,
        collimation_fill="white",
        xray_modality="DX",
        xray_photometric="MONOCHROME2",
        bits_stored=12,
        field_strength_t=1.5,
        bias_strength=0.25,
        heel_effect=0.12,
        manufacturer="SynthSpine Reference",
    ),
    "site_b": SiteProfile(
        name="site_b",
        description="older site: computed-radiography plates (noisy, soft, inverted DICOM) and a noisy 1.5 T MRI",
        xray_dose=0.35,
        mri_noise=0.06,
        contrast=0.8,
        gamma=0.8,
        blur_px=1.3,
        fov_scale=1.12,
        collimation_fill="black",
        xray_modality="CR",
        xray_photometric="MONOCHROME1",
        bits_stored=12,
        field_strength_t=1.5,
        bias_strength=0.45,
        heel_effect=0.3,
        manufacturer="SynthSpine Legacy",
    ),
    "site_c": SiteProfile(
        name="site_c",
        description="high-end site: low-noise DX with hard contrast and a 3 T MRI with strong coil shading",
        xray_dose=2.0,
        mri_noise=0.02,
        contrast=1.2,
        gamma=1.3,
        blur_px=0.35,
        fov_scale=0.9,
        collimation_fill="white",
        xray_modality="DX",
        xray_photometric="MONOCHROME2",
        bits_stored=16,
        field_strength_t=3.0,
        bias_strength=0.6,
        heel_effect=0.08,
        manufacturer="SynthSpine Premium",
    ),
}
