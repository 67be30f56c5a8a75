"""Radiograph rendering of the SynthSpine phantom: AP and lateral projections of a batch at once.

Bone and soft tissue are summed as attenuation line integrals in the straightened spine frame, then
exposed (anode-heel gradient, quantum noise on the photon counts, detector blur), log-transformed,
auto-windowed and finished with collimation and a burned-in side marker, as a processed digital
radiograph would look (bone bright).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from sdc_bench.data.synthspine.anatomy import N_LEVELS, SACRUM, THORACIC, ImageSpec, Patient
from sdc_bench.data.synthspine.draw import (
    box_sdf,
    display_window,
    ellipse_radius,
    fill,
    per_image,
    shell,
    smooth_field,
)
from sdc_bench.data.synthspine.frame import SpineFrame, gather, level_lookup, spine_frame
from sdc_bench.data.synthspine.layout import Layout
from sdc_bench.data.synthspine.sites import SiteProfile

__all__ = ["render_xray"]

_F = np.float32
# Transverse-process length and rib length (mm) per level; ribs only on thoracic levels.
_TRANSVERSE_MM = np.array([14.0, 14.0, 14.0, 13.0, 12.0, 16.0, 21.0, 27.0, 24.0, 20.0, 0.0])
_RIB_MM = np.array([175.0, 175.0, 165.0, 105.0, 60.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])

# 5 x 7 bitmaps of the burned-in side markers.
_LETTERS = {
    "L": ["10000", "10000", "10000", "10000", "10000", "10000", "11111"],
    "R": ["11110", "10001", "10001", "11110", "10100", "10010", "10001"],
}


def _level_tables(layout: Layout, patients: list[Patient]) -> dict[str, np.ndarray]:
    """Per-level lesion tables: endplate sclerosis, fracture density, osteophytes, pars defects."""
    n = len(patients)
    tables = {
        name: np.zeros((n, N_LEVELS), dtype=_F) for name in ("scl_low", "scl_up", "frac", "osteo", "pars")
    }
    for b, p in enumerate(patients):
        kd = p.disc_level
        tables["scl_low"][b, kd] = p.disc_dark * min(1.0, 2.0 * p.disc_loss)
        tables["scl_up"][b, kd + 1] = p.disc_dark * min(1.0, 2.0 * p.disc_loss)
        tables["osteo"][b, kd] = p.osteophyte_mm
        tables["frac"][b, p.fracture_level] = p.wedge + p.crush
        tables["pars"][b, p.slip_level] = 1.0 if p.pars_defect else 0.0
    return tables


def _ribs(
    layout: Layout, fr: SpineFrame, psi: np.ndarray, reach: np.ndarray, mu: np.ndarray, weight: float
) -> None:
    """Add rib bands: one curve family per thoracic level, found by a level lookup of ``psi``.

    ``psi`` is the arc position a rib crossing the pixel starts from; ``reach`` its distance along
    the rib.  Only pixels that can hold a rib are evaluated.
    """
    n = psi.shape[0]
    last_rib = per_image(layout.tops[:, THORACIC]) + 5.0
    index = np.flatnonzero((reach > 0) & (reach < 180.0) & (psi < last_rib))
    if index.size == 0:
        return
    batch = index // (psi.shape[1] * psi.shape[2])
    p = np.take(psi.reshape(-1), index)
    r = np.take(reach.reshape(-1), index)
    aa = np.repeat(fr.aa_full.reshape(-1), np.bincount(batch, minlength=n))
    level, flat = level_lookup(layout, p, batch)
    tr = p - gather(layout.tops, flat)
    hr = gather(layout.height, flat)
    length = np.take(_RIB_MM.astype(_F), level)
    sd = np.abs(tr - 0.5 * hr) - 4.5
    band = (0.55 * fill(sd, aa) + 0.45 * shell(sd, 1.5, aa)) * np.clip((length - r) / 15.0, 0.0, 1.0)
    mu.reshape(-1)[index] += weight * band


def _pelvis_coords(layout: Layout, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Millimetre coordinates centred on the upper sacral endplate, turned with the image tilt."""
    cols = (np.arange(size, dtype=_F) + 0.5)[None, None, :]
    rows = (np.arange(size, dtype=_F) + 0.5)[None, :, None]
    sc = layout.scale[:, None, None]
    a = (cols - layout.sacrum_px[:, 0, None, None]) / sc
    b = (rows - layout.sacrum_px[:, 1, None, None]) / sc
    c, s = np.cos(layout.tilt)[:, None, None], np.sin(layout.tilt)[:, None, None]
    return a * c - b * s, a * s + b * c


def _ap_band(patients: list[Patient]) -> tuple[np.ndarray, np.ndarray]:
    reach = np.array([p.half_width.max() + 35.0 for p in patients])
    return -reach, reach


def _ap(layout: Layout, fr: SpineFrame, patients: list[Patient], specs: list[ImageSpec]) -> np.ndarray:
    mu = 0.04 * smooth_field(specs, layout.size, 10, 2)  # bowel content and fat: soft mottling
    t, v, aa, f = fr.t, fr.v, fr.aa, fr.flat
    h = gather(layout.height, f)
    w = gather(layout.width, f)
    dsc = gather(layout.disc, f)
    tables = _level_tables(layout, patients)
    vert = (fr.level < SACRUM).astype(_F)
    sac = 1.0 - vert

    tn = np.clip((t - 0.5 * h) / (0.5 * h), -1.0, 1.0)
    waist = w * (1.0 - 0.05 * (1.0 - tn * tn))
    sd = box_sdf(t, v, 0.5 * h, 0.0, 0.5 * h, waist, r=2.5)
    body = fill(sd, aa)
    frac = gather(tables["frac"], f)
    scl = gather(tables["scl_low"], f) * (t > h - 5.0) + gather(tables["scl_up"], f) * (t < 5.0)
    trabecular = 1.0 + 0.15 * fr.take(smooth_field(specs, layout.size, 48, 1))
    col = vert * (body * (0.25 * trabecular + 0.15 * frac + 0.2 * scl) + 0.3 * shell(sd, 2.0, aa))

    rot = np.sin(gather(layout.rotation, f))
    vp = np.abs(v - 22.0 * rot)
    ped = ellipse_radius(t, vp, 0.3 * h, 0.6 * w, 0.15 * h, 0.16 * w)
    col += vert * (0.26 * np.clip(1.0 - np.abs(ped - 1.0) / 0.35, 0.0, 1.0) + 0.1 * (ped < 1.0))
    spin = ellipse_radius(t, v - 50.0 * rot, 0.82 * h, 0.0, 0.3 * h, 0.1 * w + 1.5)
    col += vert * (
        0.16 * np.clip((1.0 - spin) * 4.0, 0.0, 1.0)
        + 0.12 * np.clip(1.0 - np.abs(spin - 1.0) / 0.3, 0.0, 1.0)
    )
    facet = ellipse_radius(t, vp, h + 0.5 * dsc, 0.42 * w, 0.4 * (dsc + 0.4 * h), 0.09 * w + 1.0)
    col += vert * 0.1 * np.clip((1.0 - facet) * 3.0, 0.0, 1.0)
    tp_len = np.take(_TRANSVERSE_MM.astype(_F), fr.level)
    tp = box_sdf(
        t, np.abs(v), 0.35 * h, 0.5 * (0.75 * w + w + tp_len), 0.13 * h, 0.5 * (0.25 * w + tp_len), r=2.0
    )
    col += vert * 0.18 * fill(tp, aa)
    osteo = gather(tables["osteo"], f)
    spur = ellipse_radius(
        t, np.abs(v), h + 0.5 * dsc, w + 0.3 * osteo, 0.5 * dsc + 1.5, np.maximum(osteo, 0.1)
    )
    col += vert * 0.25 * (osteo > 0) * np.clip((1.0 - spur) * 3.0, 0.0, 1.0)

    # sacrum: a tapering wedge with four pairs of foramina
    frac_t = np.clip(t / h, 0.0, 1.0)
    ws = w * (1.9 - 1.5 * frac_t)
    sd_s = np.maximum(np.abs(t - 0.5 * h) - 0.5 * h, np.abs(v) - ws)
    j = np.clip(np.rint((frac_t - 0.2) / 0.17), 0, 3)
    foramen = ellipse_radius(
        t, np.abs(v), (0.2 + 0.17 * j) * h, 0.55 * w * (1.9 - 1.5 * (0.2 + 0.17 * j)), 4.0, 4.0
    )
    col += sac * (fill(sd_s, aa) * (0.36 - 0.15 * (foramen < 1.0)) + 0.12 * shell(sd_s, 2.0, aa))
    fr.put(mu, col)

    reach = np.abs(fr.v_body) - 22.0
    _ribs(layout, fr, fr.u_body - (0.15 * reach + 0.0035 * reach * reach), reach, mu, 0.2)

    a, b = _pelvis_coords(layout, layout.size)
    size = per_image([p.size for p in patients])
    wing = ellipse_radius(np.abs(a), b, 88.0 * size, 50.0 * size, 60.0 * size, 68.0 * size)
    medial = np.clip((np.abs(a) - 52.0 * size - 0.2 * b) / 2.0, 0.0, 1.0)
    crest = np.clip(1.0 - np.abs(wing - 1.0) / 0.06, 0.0, 1.0) * (b < 50.0 * size)
    mu += medial * (0.2 * np.clip((1.0 - wing) * 8.0, 0.0, 1.0) + 0.18 * crest)

    cols = (np.arange(layout.size, dtype=_F) + 0.5)[None, None, :]
    lat = (cols - layout.midline_x[:, None, None]) / layout.scale[:, None, None]
    radius = per_image([p.torso_half_width for p in patients])
    mu += 0.8 * np.sqrt(np.clip(1.0 - (lat / radius) ** 2, 0.0, 1.0))
    return mu


def _sagittal_band(patients: list[Patient]) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([-(p.canal_depth + 45.0 * p.size) for p in patients])
    hi = np.array([p.depth.max() + p.slip_mm + p.osteophyte_mm + 12.0 for p in patients])
    return lo, hi


def _lateral(layout: Layout, fr: SpineFrame, patients: list[Patient], specs: list[ImageSpec]) -> np.ndarray:
    mu = 0.04 * smooth_field(specs, layout.size, 10, 2)  # bowel content and fat: soft mottling
    t, v, aa, f = fr.t, fr.v, fr.aa, fr.flat
    h = gather(layout.height, f)
    dp = gather(layout.width, f)
    wc = gather(layout.half_width, f)
    dsc = gather(layout.disc, f)
    tables = _level_tables(layout, patients)
    vert = (fr.level < SACRUM).astype(_F)
    sac = 1.0 - vert
    if fr.gap is not None:
        vert[fr.gap] = 0.0

    top = gather(layout.wedge, f) * np.clip(v / dp, 0.0, 1.0)
    # A rotated or coronally tilted vertebra projects its left and right halves apart: double contours.
    et = wc * np.sin(gather(layout.coronal_tilt, f))
    ev = 0.7 * wc * np.sin(gather(layout.rotation, f))
    tc, ht = 0.5 * (top + h), 0.5 * (h - top)
    sd1 = box_sdf(t - et, v - ev, tc, 0.5 * dp, ht, 0.5 * dp, r=2.0)
    sd2 = box_sdf(t + et, v + ev, tc, 0.5 * dp, ht, 0.5 * dp, r=2.0)
    body = 0.5 * (fill(sd1, aa) + fill(sd2, aa))
    # (halves keep the bone mass, the rim keeps its peak: the cue is the doubling, not the density)
    rim = np.maximum(shell(sd1, 2.0, aa), shell(sd2, 2.0, aa))
    frac = gather(tables["frac"], f)
    scl = gather(tables["scl_low"], f) * (t > h - 5.0) + gather(tables["scl_up"], f) * (t < top + 5.0)
    trabecular = 1.0 + 0.15 * fr.take(smooth_field(specs, layout.size, 48, 1))
    col = vert * (
        body * (0.25 * trabecular + 0.15 * frac + 0.2 * scl + 0.25 * frac * (t < top + 6.0)) + 0.3 * rim
    )

    cd = fr.per_pixel([p.canal_depth for p in patients])
    size = fr.per_pixel([p.size for p in patients])
    ped = box_sdf(t, v, 0.29 * h, -0.5 * cd, 0.21 * h, 0.5 * cd, r=1.5)
    col += vert * 0.2 * fill(ped, aa)
    sp_len = 32.0 * size
    spin = box_sdf(t + 0.25 * (v + cd), v, 0.45 * h, -cd - 0.5 * sp_len, 0.38 * h, 0.5 * sp_len, r=4.0)
    col += vert * (0.2 * fill(spin, aa) + 0.1 * shell(spin, 1.5, aa))
    facet = ellipse_radius(t, v, h + 0.35 * dsc, -cd - 3.0, 0.3 * h + 0.3 * dsc, 6.5)
    col += vert * 0.15 * np.clip((1.0 - facet) * 3.0, 0.0, 1.0)
    pars = box_sdf(t, v, 0.55 * h, -cd - 4.0, 0.07 * h, 3.0)
    col -= vert * 0.25 * gather(tables["pars"], f) * fill(pars, aa)
    osteo = gather(tables["osteo"], f)
    spur = ellipse_radius(t, v, h + 0.5 * dsc, dp + 0.3 * osteo, 0.5 * dsc + 1.5, np.maximum(osteo, 0.1))
    col += vert * 0.25 * (osteo > 0) * np.clip((1.0 - spur) * 3.0, 0.0, 1.0)

    ws = dp * (1.0 - 0.55 * np.clip(t / h, 0.0, 1.0))
    sd_s = np.maximum(np.abs(t - 0.5 * h) - 0.5 * h, np.abs(v - 0.5 * ws) - 0.5 * ws)
    post = box_sdf(t, v, 0.4 * h, -0.35 * cd, 0.4 * h, 0.35 * cd, r=3.0)
    col += sac * (0.36 * fill(sd_s, aa) + 0.12 * shell(sd_s, 2.0, aa) + 0.12 * fill(post, aa))
    fr.put(mu, col)

    cd_img = per_image([p.canal_depth for p in patients])
    reach = (fr.v_body + cd_img + 100.0) * (fr.v_body < 60.0)
    _ribs(layout, fr, fr.u_body + 0.4 * fr.v_body, reach, mu, 0.12)

    size_img = per_image([p.size for p in patients])
    a, b = _pelvis_coords(layout, layout.size)
    wing = ellipse_radius(a, b, -10.0 * size_img, 75.0 * size_img, 70.0 * size_img, 85.0 * size_img)
    crest = np.clip(1.0 - np.abs(wing - 1.0) / 0.05, 0.0, 1.0) * (b < 75.0 * size_img)
    mu += 0.16 * np.clip((1.0 - wing) * 8.0, 0.0, 1.0) + 0.12 * crest

    back = per_image([p.canal_depth + p.back_depth for p in patients])
    front = per_image([p.belly_depth for p in patients]) + per_image(layout.width[:, 7])
    centre, radius = 0.5 * (front - back), 0.5 * (front + back)
    mu += 0.9 * np.sqrt(np.clip(1.0 - ((fr.v_body - centre) / radius) ** 2, 0.0, 1.0))
    return mu


def _gas(mu: np.ndarray, layout: Layout, specs: list[ImageSpec]) -> None:
    size = layout.size
    grid = np.arange(size, dtype=_F) + 0.5
    for b, spec in enumerate(specs):
        for gx, gy, radius, strength in spec.gas:
            r_px = radius * float(layout.scale[b])
            dx = (grid - gx * size) / r_px
            dy = (grid - gy * size) / r_px
            mu[b] -= _F(strength) * np.exp(-(dy[:, None] ** 2) - dx[None, :] ** 2)


def _collimate(img: np.ndarray, specs: list[ImageSpec], fill_value: float) -> None:
    n, size = img.shape[0], img.shape[1]
    grid = np.arange(size, dtype=_F) + 0.5
    ramp = max(1.0, size / 128.0)
    for b, spec in enumerate(specs):
        left, right, top, bottom = (m * size for m in spec.collimation)
        cx = np.clip(np.minimum(grid - left, size - right - grid) / ramp, 0.0, 1.0)
        cy = np.clip(np.minimum(grid - top, size - bottom - grid) / ramp, 0.0, 1.0)
        m = np.minimum(cy[:, None], cx[None, :])
        img[b] = img[b] * m + _F(fill_value) * (1.0 - m)
    del n


def _markers(img: np.ndarray, specs: list[ImageSpec]) -> None:
    size = img.shape[1]
    zoom = max(1, round(size * 0.06 / 7))
    for b, spec in enumerate(specs):
        letter, corner = spec.marker
        glyph = np.kron(
            np.array([[c == "1" for c in row] for row in _LETTERS[letter]]), np.ones((zoom, zoom), dtype=bool)
        )
        gh, gw = glyph.shape
        left, right, top, bottom = (m * size for m in spec.collimation)
        pad = max(2, size // 32)
        y0 = int(top) + pad if corner in (0, 1) else size - int(bottom) - pad - gh
        x0 = int(left) + pad if corner in (0, 2) else size - int(right) - pad - gw
        y0, x0 = int(np.clip(y0, 0, size - gh)), int(np.clip(x0, 0, size - gw))
        region = img[b, y0 : y0 + gh, x0 : x0 + gw]
        region[glyph] = 0.97


def render_xray(
    layout: Layout,
    patients: list[Patient],
    specs: list[ImageSpec],
    site: SiteProfile,
    noise: np.ndarray,
) -> np.ndarray:
    """Render a batch of one radiograph view; returns display values in [0, 1], shape (B, S, S).

    ``noise`` holds one standard-normal field per image (B, S, S), drawn from that image's own
    generator, so an image does not depend on which batch it was rendered in.
    """
    size = layout.size
    if layout.view == "ap":
        mu = _ap(layout, spine_frame(layout, *_ap_band(patients)), patients, specs)
    else:
        mu = _lateral(layout, spine_frame(layout, *_sagittal_band(patients)), patients, specs)
    _gas(mu, layout, specs)
    sigma = site.blur_px * size / 256.0
    if sigma > 0.2:
        mu = gaussian_filter(mu, sigma=(0.0, sigma, sigma), mode="nearest")
    grid = (np.arange(size, dtype=_F) + 0.5) / size - 0.5
    heel = np.array([s.heel for s in specs], dtype=_F)
    strength = heel[:, 0] * site.heel_effect * 2.0
    ramp = (
        grid[None, None, :] * np.cos(heel[:, 1])[:, None, None]
        + grid[None, :, None] * np.sin(heel[:, 1])[:, None, None]
    )
    counts_full = 3000.0 * site.xray_dose * per_image([s.dose for s in specs])
    counts = counts_full * np.exp(strength[:, None, None] * ramp - mu)
    counts = counts + np.sqrt(counts) * noise
    log_img = -np.log(np.maximum(counts, 0.5) / counts_full)
    out = display_window(log_img.astype(_F), specs, site.contrast, site.gamma, 1.0, 99.0)
    flips = [b for b, s in enumerate(specs) if s.flip]
    if flips:
        out[flips] = out[flips, :, ::-1]
    _collimate(out, specs, 0.96 if site.collimation_fill == "white" else 0.02)
    _markers(out, specs)
    return out
