"""The straightened spine frame of a SynthSpine batch: ``u`` along the spine, ``v`` across it (mm).

:func:`spine_frame` turns a :class:`~sdc_bench.data.synthspine.layout.Layout` into per-pixel coordinates:
``u_body``/``v_body`` for every pixel, and, for the band around the spinal column only, the level each
pixel belongs to with slips and wedge fractures applied.  The renderers draw in these coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdc_bench.data.synthspine.anatomy import N_LEVELS
from sdc_bench.data.synthspine.layout import Layout

__all__ = ["SpineFrame", "gather", "level_lookup", "spine_frame"]


@dataclass
class SpineFrame:
    """Straightened coordinates of a batch: ``u`` along the spine, ``v`` across it (mm).

    ``u_body``/``v_body`` cover every pixel (B, S, S) and ignore slips and fractures: soft tissue,
    ribs and pelvis are drawn in them.  The spine itself only occupies a band around the centreline,
    so its coordinates are kept for the pixels of that band only, as flat arrays (N,) addressed by
    ``index`` into the flattened batch; renderers draw the column there and scatter it back.
    """

    shape: tuple[int, int, int]
    u_body: np.ndarray
    v_body: np.ndarray
    index: np.ndarray  # (N,) flat pixel index into the (B, S, S) batch
    batch: np.ndarray  # (N,) image of each band pixel
    row: np.ndarray  # (N,) index into flattened (B, S) per-row arrays
    u: np.ndarray  # (N,) after the wedge-fracture rotation
    v: np.ndarray  # (N,) in the level's own frame, slip removed
    level: np.ndarray  # (N,) level index
    flat: np.ndarray  # (N,) index into flattened (B, K) per-level tables
    t: np.ndarray  # (N,) distance below the level's upper endplate (mm)
    gap: np.ndarray | None  # (N,) opened behind a wedge fracture (no bone there), or None
    aa: np.ndarray  # (N,) anti-aliasing width (mm per pixel)
    aa_full: np.ndarray  # (B, 1, 1)

    counts: np.ndarray  # (B,) band pixels per image (band pixels are ordered by image)

    def per_pixel(self, values: list[float] | np.ndarray) -> np.ndarray:
        """Per-image values spread to the band pixels, float32 (N,)."""
        return np.repeat(np.asarray(values, dtype=np.float32), self.counts)

    def per_row(self, values: np.ndarray) -> np.ndarray:
        """A (B, S) per-row array at the band pixels (N,)."""
        return np.take(values.reshape(-1), self.row)

    def take(self, full: np.ndarray) -> np.ndarray:
        """Values of a full (B, S, S) array at the band pixels."""
        return np.take(full.reshape(-1), self.index)

    def put(self, full: np.ndarray, values: np.ndarray) -> None:
        """Write band values back into a full (B, S, S) array in place."""
        full.reshape(-1)[self.index] = values


def gather(table: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Look up a (B, K) per-level table at per-pixel flat level indices."""
    return np.take(table.reshape(-1), flat)


def _coords(
    s_row: np.ndarray,
    x_row: np.ndarray,
    sin_row: np.ndarray,
    cos_row: np.ndarray,
    scale: np.ndarray,
    size: int,
) -> tuple[np.ndarray, np.ndarray]:
    cols = (np.arange(size, dtype=np.float32) + 0.5)[None, None, :]
    d = (cols - x_row[:, :, None]) / scale[:, None, None]
    return s_row[:, :, None] + d * sin_row[:, :, None], d * cos_row[:, :, None]


def level_lookup(layout: Layout, u: np.ndarray, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Level index and flat (B, K) table index at arc positions ``u`` of images ``batch`` (same shape)."""
    n_table = layout.table.shape[1]
    iu = ((u - layout.table_lo) / layout.table_res).astype(np.intp)
    np.clip(iu, 0, n_table - 1, out=iu)
    iu += batch * n_table
    level = np.take(layout.table.reshape(-1), iu)
    return level, level + batch * N_LEVELS


def _rotate_above_wedge(
    layout: Layout,
    index: np.ndarray,
    batch: np.ndarray,
    at_row: np.ndarray,
    counts: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
) -> np.ndarray:
    """Move band pixels above a wedge into the rotated frame (``u``, ``v`` in place); return the gap mask.

    Above the tilted line through the pivot the spine is drawn in a frame rotated by the wedge.
    """
    size = layout.size
    n = layout.scale.shape[0]
    sel = np.flatnonzero(np.repeat(layout.tan_alpha > 0, counts))
    b_sel, row_sel = batch[sel], at_row[sel]
    cols = (index[sel] % size).astype(np.float32) + 0.5
    d = (cols - np.take(layout.rot_x_row.reshape(-1), row_sel)) / np.take(layout.scale, b_sel)
    ur = np.take(layout.rot_s_row.reshape(-1), row_sel) + d * np.take(layout.rot_sin_row.reshape(-1), row_sel)
    vr = d * np.take(layout.rot_cos_row.reshape(-1), row_sel)
    pu = np.take(layout.pivot_u, b_sel)
    depth = np.take(layout.width[np.arange(n), np.argmax(layout.wedge, axis=1)], b_sel)
    us, vs = u[sel], v[sel]
    above = (us - pu) < np.take(layout.tan_alpha, b_sel) * np.clip(vs, 0.0, depth + 2.0)
    gap = np.zeros(index.shape, dtype=bool)
    gap[sel] = above & (ur >= pu)
    u[sel] = np.where(above, np.minimum(ur, pu - 1e-3), us)
    v[sel] = np.where(above, vr, vs)
    return gap


def spine_frame(layout: Layout, band_lo: np.ndarray, band_hi: np.ndarray) -> SpineFrame:
    """Straightened coordinates of every pixel, and level membership of the band ``lo <= v <= hi``.

    ``band_lo``/``band_hi`` (B,) bound ``v_body`` in mm around the column; above a wedge the band
    widens anteriorly as far as the rotated spine swings.
    """
    size = layout.size
    n = layout.scale.shape[0]
    u_body, v_body = _coords(layout.s_row, layout.x_row, layout.sin_row, layout.cos_row, layout.scale, size)
    fractured = layout.tan_alpha > 0
    lo = band_lo.astype(np.float32)[:, None, None]
    hi = band_hi.astype(np.float32)[:, None, None]
    # above a wedge the column is rotated forward: the band widens anteriorly with the distance
    above_pivot = np.maximum(layout.pivot_u[:, None, None] - u_body, 0.0)
    hi = hi + 2.0 + 1.05 * layout.tan_alpha[:, None, None] * above_pivot
    index = np.flatnonzero((v_body >= lo) & (v_body <= hi))
    per_image_px = size * size
    batch = index // per_image_px
    counts = np.bincount(batch, minlength=n)
    u = np.take(u_body.reshape(-1), index)
    v = np.take(v_body.reshape(-1), index)
    at_row = index // size  # == batch * size + row
    gap = _rotate_above_wedge(layout, index, batch, at_row, counts, u, v) if fractured.any() else None
    level, flat = level_lookup(layout, u, batch)
    t = u - gather(layout.tops, flat)
    # Slip: each level's frame is shifted; across the disc below a level the shift blends linearly.
    off = gather(layout.offset, flat)
    if np.any(layout.offset):
        nxt = np.minimum(flat + 1, batch * N_LEVELS + (N_LEVELS - 1))
        h = gather(layout.height, flat)
        dsc = np.maximum(gather(layout.disc, flat), 1e-3)
        ramp = np.clip((t - h) / dsc, 0.0, 1.0)
        off = off + (gather(layout.offset, nxt) - off) * ramp
    aa_img = (1.0 / layout.scale).astype(np.float32)
    return SpineFrame(
        shape=(n, size, size),
        u_body=u_body,
        v_body=v_body,
        index=index,
        batch=batch,
        row=at_row,
        u=u,
        v=v - off,
        level=level,
        flat=flat,
        t=t,
        gap=gap,
        counts=counts,
        aa=np.repeat(aa_img, counts),
        aa_full=aa_img[:, None, None],
    )
