"""Drawing primitives of the SynthSpine renderers: signed distances, masks, windowing, smooth texture.

Shapes are drawn in the straightened spine frame (all distances in mm, negative inside) as
anti-aliased masks over whole batches; :func:`display_window` and :func:`smooth_field` work per image.
"""

from __future__ import annotations

import numpy as np

from sdc_bench.data.synthspine.anatomy import ImageSpec

__all__ = ["box_sdf", "display_window", "ellipse_radius", "fill", "per_image", "shell", "smooth_field"]


def box_sdf(
    t: np.ndarray,
    v: np.ndarray,
    tc: np.ndarray | float,
    vc: np.ndarray | float,
    ht: np.ndarray | float,
    hv: np.ndarray | float,
    r: float = 0.0,
) -> np.ndarray:
    """Signed distance to a rounded box centred at (tc, vc) with half extents (ht, hv)."""
    qt = np.abs(t - tc) - (ht - r)
    qv = np.abs(v - vc) - (hv - r)
    if r == 0.0:
        return np.maximum(qt, qv)  # exact inside and along the sides; only corners are approximate
    ot = np.maximum(qt, 0.0)
    ov = np.maximum(qv, 0.0)
    outside = np.sqrt(ot * ot + ov * ov)
    return outside + np.minimum(np.maximum(qt, qv), 0.0) - r


def fill(sd: np.ndarray, aa: np.ndarray) -> np.ndarray:
    """Anti-aliased inside mask of a signed distance (1 inside, 0 outside, a one-pixel ramp)."""
    return np.clip(0.5 - sd / aa, 0.0, 1.0)


def shell(sd: np.ndarray, thickness: float, aa: np.ndarray) -> np.ndarray:
    """Anti-aliased band of ``thickness`` mm just inside the boundary of a signed distance."""
    return np.clip(0.5 - (np.abs(sd + 0.5 * thickness) - 0.5 * thickness) / aa, 0.0, 1.0)


def ellipse_radius(
    t: np.ndarray,
    v: np.ndarray,
    tc: np.ndarray | float,
    vc: np.ndarray | float,
    at: np.ndarray | float,
    av: np.ndarray | float,
) -> np.ndarray:
    """Normalised radius of an axis-aligned ellipse (1 on its boundary)."""
    a = (t - tc) / at
    b = (v - vc) / av
    return np.sqrt(a * a + b * b)


def per_image(values: list[float] | np.ndarray) -> np.ndarray:
    """Per-image scalars as a (B, 1, 1) float32 array that broadcasts over pixels."""
    return np.asarray(values, dtype=np.float32)[:, None, None]


def display_window(
    raw: np.ndarray, specs: list[ImageSpec], contrast: float, gamma: float, low_pct: float, high_pct: float
) -> np.ndarray:
    """Map raw intensities to [0, 1] like a console's auto-window: robust percentiles, gamma, contrast.

    The window comes from each image's own histogram (sub-sampled for speed), so global brightness
    says nothing about the anatomy; the jitter imitates operators who re-window by hand.
    """
    sub = raw[:, ::3, ::3].reshape(raw.shape[0], -1)
    lo, hi = np.percentile(sub, [low_pct, high_pct], axis=1)
    jitter = np.array([s.window_jitter for s in specs], dtype=np.float32)
    span = np.maximum(hi - lo, 1e-6)
    lo = lo + jitter[:, 0] * span
    hi = hi + jitter[:, 1] * span
    out = (raw - lo[:, None, None].astype(np.float32)) / (hi - lo)[:, None, None].astype(np.float32)
    np.clip(out, 0.0, 1.0, out=out)
    if gamma != 1.0:
        np.power(out, np.float32(gamma), out=out)
    if contrast != 1.0:
        out = np.float32(0.5) + (out - np.float32(0.5)) * np.float32(contrast)
        np.clip(out, 0.0, 1.0, out=out)
    return out.astype(np.float32, copy=False)


def _interpolation_matrix(size: int, cells: int) -> np.ndarray:
    """(size, cells) matrix that linearly interpolates ``cells`` samples to ``size`` pixel centres."""
    pos = np.clip((np.arange(size) + 0.5) / size * cells - 0.5, 0.0, cells - 1.0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, cells - 1)
    w = pos - lo
    out = np.zeros((size, cells))
    out[np.arange(size), lo] += 1.0 - w
    out[np.arange(size), hi] += w
    return out.astype(np.float32)


def smooth_field(specs: list[ImageSpec], size: int, cells: int, salt: int) -> np.ndarray:
    """Smooth random texture per image, (B, S, S) with roughly unit spread.

    A ``cells`` x ``cells`` grid of normal values from each image's own generator, bilinearly
    interpolated to the image by two small matrix products (cheap at any size).
    """
    interp = _interpolation_matrix(size, cells)
    grids = np.stack(
        [
            np.random.default_rng([*s.key, salt]).standard_normal((cells, cells), dtype=np.float32)
            for s in specs
        ]
    )
    return (interp @ grids @ interp.T) * np.float32(1.6)
