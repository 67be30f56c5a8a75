"""MRI rendering of the SynthSpine phantom: midsagittal T2-weighted slices of a batch at once.

Tissues are painted back to front with T2-like signal (dark cortex, grey marrow, bright nucleus and
CSF, grey cord, bright fat), in the straightened spine frame.  A scoliotic spine leaves the slice:
where it moves out of plane the canal and cord fade and the bodies thin, as in a real midsagittal
slice through a curved spine.  The slice is then blurred (point-spread), shaded by a smooth coil bias
field, given Rician noise and auto-windowed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from sdc_bench.data.synthspine.anatomy import N_LEVELS, SACRUM, ImageSpec, Patient
from sdc_bench.data.synthspine.draw import (
    box_sdf,
    display_window,
    ellipse_radius,
    fill,
    per_image,
    shell,
    smooth_field,
)
from sdc_bench.data.synthspine.frame import SpineFrame, gather, spine_frame
from sdc_bench.data.synthspine.layout import Layout
from sdc_bench.data.synthspine.sites import SiteProfile

__all__ = ["render_mri"]

_F = np.float32


def _paint(img: np.ndarray, mask: np.ndarray, value: np.ndarray | float) -> np.ndarray:
    return img + mask * (value - img)


def _tables(patients: list[Patient]) -> dict[str, np.ndarray]:
    n = len(patients)
    tables = {name: np.zeros((n, N_LEVELS), dtype=_F) for name in ("edema", "dark", "bulge")}
    tables["marrow"] = np.array([p.marrow for p in patients], dtype=_F)
    for b, p in enumerate(patients):
        tables["edema"][b, p.fracture_level] = p.edema
        tables["dark"][b, p.disc_level] = p.disc_dark
        tables["bulge"][b, :] = 0.6
        tables["bulge"][b, p.disc_level] = p.bulge_mm
    return tables


def _arc_position(layout: Layout, level: np.ndarray) -> np.ndarray:
    """Arc position (mm) of a fractional level coordinate per image, shape (B,)."""
    k = np.clip(np.floor(level).astype(int), 0, N_LEVELS - 1)
    rows = np.arange(level.shape[0])
    pitch = layout.height[rows, k] + layout.disc[rows, k]
    return layout.tops[rows, k] + (level - k) * pitch


@dataclass(frozen=True)
class _Band:
    """Per-pixel quantities of the band around the spinal column shared by its drawing steps."""

    t: np.ndarray
    v: np.ndarray
    aa: np.ndarray
    flat: np.ndarray
    h: np.ndarray
    dp: np.ndarray
    dsc: np.ndarray
    column: np.ndarray  # 1 on the levels above the sacrum
    vert: np.ndarray  # the column without the gap behind a wedge fracture
    sac: np.ndarray
    cd: np.ndarray  # canal depth
    oop: np.ndarray  # how far the spine has left the slice at each row (scoliosis)
    thin: np.ndarray


def _band(layout: Layout, patients: list[Patient], fr: SpineFrame) -> _Band:
    f = fr.flat
    column = (fr.level < SACRUM).astype(_F)  # canal and ligaments run on through a fracture gap
    vert = column.copy()
    if fr.gap is not None:
        vert[fr.gap] = 0.0
    oop = np.abs(fr.per_row(layout.oop_row))
    half_w = fr.per_pixel(layout.half_width[:, 7])
    return _Band(
        t=fr.t,
        v=fr.v,
        aa=fr.aa,
        flat=f,
        h=gather(layout.height, f),
        dp=gather(layout.width, f),
        dsc=gather(layout.disc, f),
        column=column,
        vert=vert,
        sac=(fr.level == SACRUM).astype(_F),
        cd=fr.per_pixel([p.canal_depth for p in patients]),
        oop=oop,
        thin=np.sqrt(np.clip(1.0 - (oop / (half_w + 2.0)) ** 2, 0.05, 1.0)),
    )


def _soft_tissue(
    layout: Layout, patients: list[Patient], specs: list[ImageSpec], fr: SpineFrame, back_np: np.ndarray
) -> np.ndarray:
    """Soft tissue on the whole slice: fat under the skin of the back, paraspinal muscle, abdomen, aorta."""
    n, size = len(patients), layout.size
    u, vb, aa_full = fr.u_body, fr.v_body, fr.aa_full
    back = per_image(back_np)
    fat = per_image([p.fat for p in patients])
    front = per_image([p.belly_depth for p in patients]) + per_image(layout.width[:, 7])
    texture = 0.36 + 0.05 * smooth_field(specs, size, 14, 3)  # bowel and mesenteric fat
    tissue = _paint(texture, vb < 0.0, 0.3)
    tissue = _paint(tissue, vb < -back + fat, 0.8)
    tissue = _paint(tissue, vb > front - 14.0, 0.75)
    img = fill(np.maximum(-(vb + back), vb - front), aa_full) * tissue
    bifurcation = per_image(_arc_position(layout, np.full(n, 8.0)))
    # the aorta lies on the vertebral bodies: above a slipped level it moves forward with them
    slip_at = per_image(_arc_position(layout, np.array([p.slip_level + 0.85 for p in patients])))
    slip_mm = per_image([p.slip_mm for p in patients])
    aorta_v = (
        vb - per_image(layout.width[:, 7]) - 14.0 - slip_mm * np.clip((slip_at - u) / 12.0 + 0.5, 0.0, 1.0)
    )
    aorta = fill(np.maximum(np.abs(aorta_v) - 11.0, u - bifurcation), aa_full)
    return _paint(img, 0.8 * aorta, 0.06)


def _canal_and_posterior(
    layout: Layout, patients: list[Patient], fr: SpineFrame, bd: _Band, col: np.ndarray
) -> np.ndarray:
    """Canal (painted first so that discs and bulges indent it), ligamentum flavum, laminae and spinous processes."""
    t, v, aa, h, cd = bd.t, bd.v, bd.aa, bd.h, bd.cd
    canal_vis = np.clip((11.0 - bd.oop) / 4.0, 0.0, 1.0)
    cord_vis = np.clip((5.0 - bd.oop) / 2.5, 0.0, 1.0)
    uu = fr.take(fr.u_body)
    conus = fr.per_pixel(_arc_position(layout, np.array([p.conus_level for p in patients])))
    cord_w = fr.per_pixel([p.cord_width for p in patients])
    cord = fill(np.abs(v + 0.5 * cd) - 0.5 * cord_w, aa) * np.clip((conus - uu) / 12.0, 0.0, 1.0)
    roots = fill(np.abs(v + 0.58 * cd) - 0.13 * cd, aa) * np.clip((uu - conus) / 12.0, 0.0, 1.0)
    csf = 0.95 - cord_vis * cord * 0.55 - roots * 0.22
    beside = 0.8 - 0.38 * (t < h)  # pedicle, or fat in the foramen, where the canal left the slice
    canal_val = canal_vis * csf + (1.0 - canal_vis) * beside
    canal_mask = fill(np.maximum(v, -cd - v), aa) * (bd.column + bd.sac * (t < 0.45 * h))
    col = _paint(col, canal_mask, canal_val)
    col = _paint(col, bd.column * fill(np.abs(v + cd + 1.2) - 1.2, aa), 0.12)  # ligamentum flavum

    sp_len = 30.0 * fr.per_pixel([p.size for p in patients])
    spin = box_sdf(t + 0.25 * (v + cd), v, 0.45 * h, -cd - 2.5 - 0.5 * sp_len, 0.36 * h, 0.5 * sp_len, r=4.0)
    col = _paint(col, bd.vert * fill(spin, aa), 0.4)
    return _paint(col, bd.vert * shell(spin, 1.5, aa), 0.08)


def _bodies_discs_sacrum(
    layout: Layout,
    patients: list[Patient],
    specs: list[ImageSpec],
    fr: SpineFrame,
    bd: _Band,
    col: np.ndarray,
) -> np.ndarray:
    """Vertebral bodies, discs and the sacrum over the canal already painted in ``col``."""
    t, v, aa, f, h, dp, dsc, vert, sac = bd.t, bd.v, bd.aa, bd.flat, bd.h, bd.dp, bd.dsc, bd.vert, bd.sac
    tables = _tables(patients)
    # Vertebral bodies: marrow (bright when oedematous) inside a dark cortical rim.
    top = gather(layout.wedge, f) * np.clip(v / dp, 0.0, 1.0)
    half_d = 0.5 * dp * bd.thin
    sd = box_sdf(t, v, 0.5 * (top + h), 0.5 * dp, 0.5 * (h - top), half_d, r=2.0)
    marrow = 0.42 * gather(tables["marrow"], f) * (1.0 + 0.9 * gather(tables["edema"], f))
    marrow *= 1.0 + 0.08 * fr.take(smooth_field(specs, layout.size, 40, 4))  # fatty-marrow heterogeneity
    col = _paint(col, vert * fill(sd, aa), marrow)
    col = _paint(col, vert * shell(sd, 1.6, aa), 0.07)

    # Discs: dark annulus, bright nucleus (dark when degenerated), posterior bulge into the canal.
    rel = np.clip((t - h) / np.maximum(dsc, 1e-3), 0.0, 1.0)
    bulge = gather(tables["bulge"], f) * np.sin(np.pi * rel)
    sd_d = np.maximum(
        np.maximum(h - t, t - h - dsc), np.maximum(0.5 * dp - half_d - bulge - v, v - 0.5 * dp - half_d - 0.8)
    )
    dark = gather(tables["dark"], f)
    nucleus_val = 0.88 * (1.0 - dark) + 0.2 * dark
    nuc = ellipse_radius(t, v, h + 0.5 * dsc, 0.48 * dp, 0.32 * dsc + 0.3, 0.3 * dp * bd.thin)
    disc_val = 0.3 + (nucleus_val - 0.3) * np.clip((1.0 - nuc) * 2.5, 0.0, 1.0)
    col = _paint(col, vert * fill(sd_d, aa), disc_val)

    # Sacrum.
    ws = dp * (1.0 - 0.55 * np.clip(t / h, 0.0, 1.0))
    sd_s = np.maximum(np.abs(t - 0.5 * h) - 0.5 * h, np.abs(v - 0.5 * ws) - 0.5 * ws * bd.thin)
    inside_s = sac * fill(sd_s, aa)
    col = _paint(col, inside_s, 0.47)
    col = _paint(col, sac * shell(sd_s, 1.6, aa), 0.08)
    return _paint(col, inside_s * fill(np.abs(t - 0.3 * h) - 0.8, aa), 0.15)


def _acquire(
    img: np.ndarray,
    back: np.ndarray,
    vb: np.ndarray,
    specs: list[ImageSpec],
    site: SiteProfile,
    noise: np.ndarray,
) -> np.ndarray:
    """Point-spread blur, coil bias, Rician noise, auto-window and the display flip."""
    size = img.shape[-1]
    sigma = site.blur_px * size / 256.0
    if sigma > 0.2:
        img = gaussian_filter(img, sigma=(0.0, sigma, sigma), mode="nearest")
    bias_p = np.array([s.bias for s in specs], dtype=_F)
    grid = (np.arange(size, dtype=_F) + 0.5) / size - 0.5
    cosg, sing = np.cos(bias_p[:, 1])[:, None, None], np.sin(bias_p[:, 1])[:, None, None]
    lin = grid[None, None, :] * cosg + grid[None, :, None] * sing
    radial = grid[None, None, :] ** 2 + grid[None, :, None] ** 2
    coil = np.clip((vb + back) / 150.0, 0.0, 2.0)  # posterior surface coil: brighter near the back
    strength = site.bias_strength * bias_p[:, 0, None, None]
    bias = np.exp(strength * (0.8 * lin + bias_p[:, 2, None, None] * radial - 0.6 * coil))
    sig = _F(site.mri_noise)
    real = img * bias + sig * noise[:, 0]
    mag = np.sqrt(real * real + (sig * noise[:, 1]) ** 2)
    out = display_window(mag.astype(_F), specs, site.contrast, site.gamma, 0.5, 99.5)
    flips = [b for b, s in enumerate(specs) if s.flip]
    if flips:
        out[flips] = out[flips, :, ::-1]
    return out


def render_mri(
    layout: Layout,
    patients: list[Patient],
    specs: list[ImageSpec],
    site: SiteProfile,
    noise: np.ndarray,
) -> np.ndarray:
    """Render a batch of sagittal T2 slices; returns display values in [0, 1], shape (B, S, S).

    ``noise`` holds two standard-normal fields per image, shape (B, 2, S, S) (real and imaginary).
    """
    back_np = np.array([p.canal_depth + p.back_depth for p in patients])
    band_lo = -np.minimum(back_np, np.array([p.canal_depth + 45.0 * p.size for p in patients]))
    band_hi = np.array([p.depth.max() + p.slip_mm + 6.0 for p in patients])
    fr = spine_frame(layout, band_lo, band_hi)
    img = _soft_tissue(layout, patients, specs, fr, back_np)
    # The spinal column, on the band pixels only.
    bd = _band(layout, patients, fr)
    col = _canal_and_posterior(layout, patients, fr, bd, fr.take(img))
    col = _bodies_discs_sacrum(layout, patients, specs, fr, bd, col)
    fr.put(img, col)
    return _acquire(img, per_image(back_np), fr.v_body, specs, site, noise)
