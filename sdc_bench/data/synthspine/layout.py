"""SynthSpine geometry in pixels: the projected spine centreline, per-level tables and landmarks.

:func:`build_layout` projects a batch of (patient, acquisition) pairs of one view into pixel space: for
every image row it gives the centreline point, its tangent and its arc length, so that each pixel
gets straightened coordinates ``u`` (mm along the spine) and ``v`` (mm across it) in
:func:`~sdc_bench.data.synthspine.frame.spine_frame`.  The renderers draw every vertebra, disc and canal in
those coordinates with array operations over whole batches.  Nothing here draws random numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sdc_bench.data.synthspine.anatomy import N_LEVELS, SACRUM, THORACIC, ImageSpec, Patient

__all__ = ["Layout", "build_layout", "landmarks"]

# Sagittal tangent angle (degrees, going caudally, + = towards anterior) at level coordinates:
# thoracic kyphosis ending at the thoracolumbar junction, lumbar lordosis, sacral slope and curve.
_SAGITTAL_KNOT_LEVEL = np.array([0.4, 2.4, 4.4, 5.4, 6.4, 7.4, 8.4, 9.4, 10.0, 10.5, 11.0])
_SAGITTAL_KNOT_DEG = np.array([4.0, 8.0, 10.0, 8.0, 3.0, -4.0, -12.0, -22.0, -32.0, -26.0, -12.0])
_S_MARGIN_MM = 80.0  # centreline sampled this far beyond the first and last level
_TABLE_RES_MM = 0.25


def _level_position(tops: np.ndarray, pitch: np.ndarray, x: np.ndarray | float) -> np.ndarray:
    """Arc position of fractional level coordinate ``x`` (level index + fraction of its pitch)."""
    x = np.asarray(x, dtype=float)
    k = np.clip(np.floor(x).astype(int), 0, N_LEVELS - 1)
    return tops[k] + (x - k) * pitch[k]


def _coronal_offset(
    p: Patient, s: np.ndarray, tops: np.ndarray, pitch: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Lateral displacement (mm) and tangent angle (rad) of the coronal curve at arc positions ``s``.

    A single Gaussian C-curve: its steepest tangents, at apex +- sigma, are the end vertebrae, so the
    Cobb angle is exactly twice the steepest tangent angle.
    """
    s_apex = float(_level_position(tops, pitch, p.apex_level))
    sigma = p.curve_sigma_levels * float(np.mean(pitch[THORACIC:SACRUM]))
    amp = p.curve_side * math.tan(math.radians(p.cobb_deg) / 2.0) * sigma * math.sqrt(math.e)
    z = (s - s_apex) / sigma
    bump = np.exp(-0.5 * z * z)
    offset = amp * bump
    slope = -amp * z / sigma * bump
    return offset, np.arctan(slope)


def _sagittal_angle(p: Patient, s: np.ndarray, tops: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    knots_s = _level_position(tops, pitch, _SAGITTAL_KNOT_LEVEL)
    knots_s[-1] = tops[SACRUM] + pitch[SACRUM]
    return np.radians(np.interp(s, knots_s, _SAGITTAL_KNOT_DEG) * p.lordosis)


@dataclass
class Layout:
    """Pixel-space geometry of a batch of images of one view (arrays lead with the image axis)."""

    view: str
    size: int
    scale: np.ndarray  # (B,) px per mm
    s_row: np.ndarray  # (B, S) arc position of the centreline at each row (mm)
    x_row: np.ndarray  # (B, S) centreline column (px)
    sin_row: np.ndarray  # (B, S) sine of the tangent angle to the image vertical
    cos_row: np.ndarray
    tops: np.ndarray  # (B, K) upper endplate arc positions (mm)
    height: np.ndarray  # (B, K) body heights (posterior wall in sagittal views)
    width: np.ndarray  # (B, K) coronal half-width (AP) or sagittal depth
    half_width: np.ndarray  # (B, K) coronal half-width in every view
    disc: np.ndarray  # (B, K) disc height below each body
    offset: np.ndarray  # (B, K) anterior shift of each level's frame (slip), mm
    wedge: np.ndarray  # (B, K) anterior drop of the upper endplate (fracture), mm
    coronal_tilt: np.ndarray  # (B, K) coronal endplate tilt (rad)
    rotation: np.ndarray  # (B, K) axial rotation (rad), + towards image right
    table: np.ndarray  # (B, T) level index at arc positions table_lo + i * res
    table_lo: float
    table_res: float
    oop_row: np.ndarray  # (B, S) out-of-plane offset of the spine from the MRI slice (mm)
    # fracture: everything above the tilted line through the pivot is rendered in a rotated frame
    pivot_u: np.ndarray  # (B,)
    tan_alpha: np.ndarray  # (B,)
    rot_s_row: np.ndarray
    rot_x_row: np.ndarray
    rot_sin_row: np.ndarray
    rot_cos_row: np.ndarray
    midline_x: np.ndarray  # (B,) column of the body midline at the image centre (px)
    sacrum_px: np.ndarray  # (B, 2) centre of the upper sacral endplate (x, y) px
    tilt: np.ndarray  # (B,) image rotation (rad)
    polylines: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]  # per image s, x, y, phi (frame A)
    rot_polylines: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def _rows_from_polyline(
    s: np.ndarray, x: np.ndarray, y: np.ndarray, phi: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.maximum.accumulate(y + 1e-6 * np.arange(y.size))
    rows = np.arange(size) + 0.5
    return np.interp(rows, y, s), np.interp(rows, y, x), np.interp(rows, y, phi)


@dataclass(frozen=True)
class _Centreline:
    """One image's spine centreline in pixels (sampled every mm of arc) and the geometry behind it."""

    s: np.ndarray  # arc positions (mm)
    x_px: np.ndarray
    y_px: np.ndarray
    phi: np.ndarray  # tangent angle to the image vertical (rad)
    s_row: np.ndarray  # (S,) the same, resampled at every image row
    x_row: np.ndarray
    phi_row: np.ndarray
    tops: np.ndarray  # (K,) upper endplate arc positions
    height: np.ndarray  # (K,) body heights as projected
    disc: np.ndarray
    pitch: np.ndarray
    lumbar_pitch: float
    cor_offset: np.ndarray  # coronal displacement at ``s`` (mm)
    s_c: float  # arc position of the window centre
    px_per_mm: float
    chord: float
    gamma: float
    centre_shift: float


def _centreline(p: Patient, spec: ImageSpec, view: str, size: int) -> _Centreline:
    sagittal = view != "ap"
    height = p.view_height(view)
    disc = p.view_disc()
    pitch = height + disc
    tops = np.concatenate([[0.0], np.cumsum(pitch[:-1])])
    s_end = tops[SACRUM] + height[SACRUM]
    s = np.arange(-_S_MARGIN_MM, s_end + _S_MARGIN_MM, 1.0)
    cor_offset, cor_angle = _coronal_offset(p, s, tops, pitch)
    theta = _sagittal_angle(p, s, tops, pitch) if sagittal else cor_angle
    lateral = np.concatenate([[0.0], np.cumsum(np.sin(theta[1:]) * np.diff(s))])
    down = np.concatenate([[0.0], np.cumsum(np.cos(theta[1:]) * np.diff(s))])

    # Window: its chord is turned to the image vertical (+ tilt) and its centre to the image centre.
    lumbar_pitch = float(np.mean(pitch[THORACIC:SACRUM]))
    span = spec.span_levels * lumbar_pitch
    s_c = float(_level_position(tops, pitch, spec.window_level))
    q0, q1 = np.interp([s_c - span / 2, s_c + span / 2], s, lateral)
    y0, y1 = np.interp([s_c - span / 2, s_c + span / 2], s, down)
    chord = math.atan2(q1 - q0, y1 - y0)
    gamma = -chord + math.radians(spec.tilt_deg)
    qc, yc = np.interp(s_c, s, lateral), np.interp(s_c, s, down)
    a, c = lateral - qc, down - yc
    xr = a * math.cos(gamma) + c * math.sin(gamma)
    yr = -a * math.sin(gamma) + c * math.cos(gamma)
    px_per_mm = size / span
    centre_shift = 0.0
    if sagittal:
        # centre on the vertebral bodies, not on their posterior wall
        centre_shift = 0.45 * float(p.depth[7]) * px_per_mm
    x_px = size / 2 + spec.shift[0] * size + centre_shift + xr * px_per_mm
    y_px = size / 2 + spec.shift[1] * size + yr * px_per_mm
    phi = theta + gamma
    s_row, x_row, phi_row = _rows_from_polyline(s, x_px, y_px, phi, size)
    return _Centreline(
        s=s,
        x_px=x_px,
        y_px=y_px,
        phi=phi,
        s_row=s_row,
        x_row=x_row,
        phi_row=phi_row,
        tops=tops,
        height=height,
        disc=disc,
        pitch=pitch,
        lumbar_pitch=lumbar_pitch,
        cor_offset=cor_offset,
        s_c=s_c,
        px_per_mm=px_per_mm,
        chord=chord,
        gamma=gamma,
        centre_shift=centre_shift,
    )


_ROW_FIELDS = ("s_row", "x_row", "phi", "oop", "rs_row", "rx_row", "rphi")
_LEVEL_FIELDS = (
    "tops",
    "height",
    "width",
    "half_width",
    "disc",
    "offset",
    "wedge",
    "coronal_tilt",
    "rotation",
)


@dataclass
class _Buffers:
    """float64 arrays filled image by image, turned into a float32 :class:`Layout` at the end."""

    rows: dict[str, np.ndarray]  # (B, S) each, keys _ROW_FIELDS
    levels: dict[str, np.ndarray]  # (B, K) each, keys _LEVEL_FIELDS
    table: np.ndarray
    scale: np.ndarray
    pivot_u: np.ndarray
    tan_alpha: np.ndarray
    midline: np.ndarray
    sacrum_px: np.ndarray
    tilt: np.ndarray
    polylines: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    rot_polylines: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]

    @classmethod
    def empty(cls, n: int, size: int, n_table: int) -> _Buffers:
        return cls(
            rows={name: np.zeros((n, size)) for name in _ROW_FIELDS},
            levels={name: np.zeros((n, N_LEVELS)) for name in _LEVEL_FIELDS},
            table=np.zeros((n, n_table), dtype=np.intp),
            scale=np.zeros(n),
            pivot_u=np.zeros(n),
            tan_alpha=np.zeros(n),
            midline=np.zeros(n),
            sacrum_px=np.zeros((n, 2)),
            tilt=np.zeros(n),
            polylines=[],
            rot_polylines=[],
        )


def _fill_levels(
    buf: _Buffers, b: int, p: Patient, spec: ImageSpec, line: _Centreline, sagittal: bool
) -> None:
    """Per-level tables of image ``b``; in sagittal views also slip, wedge and the MRI slice offset."""
    tops, height, pitch = line.tops, line.height, line.pitch
    levels = buf.levels
    levels["tops"][b] = tops
    levels["height"][b] = height
    levels["disc"][b] = line.disc
    levels["width"][b] = p.depth if sagittal else p.half_width
    levels["half_width"][b] = p.half_width
    centres = tops + height / 2
    _, c_ang = _coronal_offset(p, centres, tops, pitch)
    levels["coronal_tilt"][b] = c_ang
    s_apex = float(_level_position(tops, pitch, p.apex_level))
    sigma = p.curve_sigma_levels * line.lumbar_pitch
    rot = math.radians(0.55 * p.cobb_deg) * np.exp(-0.5 * ((centres - s_apex) / sigma) ** 2)
    # vertebrae rotate their bodies towards the convexity: spinous processes point to the concavity
    levels["rotation"][b] = -p.curve_side * rot
    if sagittal:
        off = np.zeros(N_LEVELS)
        off[: p.slip_level + 1] = p.slip_mm
        levels["offset"][b] = off
        kf = p.fracture_level
        levels["wedge"][b, kf] = p.wedge * p.height[kf]
        buf.tan_alpha[b] = p.wedge * p.height[kf] / p.depth[kf]
        buf.pivot_u[b] = tops[kf]
        # MRI slice: midsagittal plane through the spine at the window centre
        s = line.s
        oop = line.cor_offset - np.interp(line.s_c, s, line.cor_offset) + spec.slice_offset_mm
        buf.rows["oop"][b] = np.interp(line.s_row, s, oop)


def _wedge_frame(buf: _Buffers, b: int, line: _Centreline, size: int) -> None:
    """Rotated frame for the spine above a wedge fracture of image ``b`` (identity without a wedge)."""
    s, x_px, y_px, phi = line.s, line.x_px, line.y_px, line.phi
    rs, rx, rphi = line.s_row, line.x_row, line.phi_row
    rot_poly = (s, x_px, y_px, phi)
    if buf.tan_alpha[b] > 0:  # only sagittal views ever get a wedge
        alpha = math.atan(buf.tan_alpha[b])
        i_p = int(np.searchsorted(s, buf.pivot_u[b]))
        px, py, pphi = x_px[i_p], y_px[i_p], phi[i_p]
        tx, ty = math.sin(pphi), math.cos(pphi)
        nx, ny = math.cos(pphi), -math.sin(pphi)
        da, db = (x_px - px) * tx + (y_px - py) * ty, (x_px - px) * nx + (y_px - py) * ny
        ra = da * math.cos(alpha) + db * math.sin(alpha)
        rb = -da * math.sin(alpha) + db * math.cos(alpha)
        rxp = px + ra * tx + rb * nx
        ryp = py + ra * ty + rb * ny
        rphi_full = phi - alpha
        rs, rx, rphi = _rows_from_polyline(s, rxp, ryp, rphi_full, size)
        rot_poly = (s, rxp, ryp, rphi_full)
    buf.rows["rs_row"][b], buf.rows["rx_row"][b], buf.rows["rphi"][b] = rs, rx, rphi
    buf.rot_polylines.append(rot_poly)


def build_layout(patients: list[Patient], specs: list[ImageSpec], size: int) -> Layout:
    """Project each (patient, acquisition) pair of one view into pixel space; see :class:`Layout`."""
    view = specs[0].view
    sagittal = view != "ap"
    s_max = max(float(p.tops(view)[SACRUM] + p.height[SACRUM]) for p in patients) + _S_MARGIN_MM
    table_lo = -_S_MARGIN_MM
    n_table = math.ceil((s_max - table_lo) / _TABLE_RES_MM) + 1
    grid_table = table_lo + _TABLE_RES_MM * np.arange(n_table)
    buf = _Buffers.empty(len(specs), size, n_table)

    for b, (p, spec) in enumerate(zip(patients, specs, strict=True)):
        line = _centreline(p, spec, view, size)
        buf.polylines.append((line.s, line.x_px, line.y_px, line.phi))
        buf.scale[b] = line.px_per_mm
        buf.tilt[b] = line.gamma + line.chord
        buf.midline[b] = size / 2 + spec.shift[0] * size + line.centre_shift
        i_sac = np.searchsorted(line.s, line.tops[SACRUM])
        buf.sacrum_px[b] = (line.x_px[i_sac], line.y_px[i_sac])
        buf.rows["s_row"][b], buf.rows["x_row"][b], buf.rows["phi"][b] = line.s_row, line.x_row, line.phi_row
        _fill_levels(buf, b, p, spec, line, sagittal)
        buf.table[b] = np.clip(np.searchsorted(line.tops, grid_table, side="right") - 1, 0, N_LEVELS - 1)
        _wedge_frame(buf, b, line, size)
    return _as_layout(buf, view, size, table_lo)


def _as_layout(buf: _Buffers, view: str, size: int, table_lo: float) -> Layout:
    f32 = np.float32
    rows, levels = buf.rows, buf.levels
    return Layout(
        view=view,
        size=size,
        scale=buf.scale.astype(f32),
        s_row=rows["s_row"].astype(f32),
        x_row=rows["x_row"].astype(f32),
        sin_row=np.sin(rows["phi"]).astype(f32),
        cos_row=np.cos(rows["phi"]).astype(f32),
        tops=levels["tops"].astype(f32),
        height=levels["height"].astype(f32),
        width=levels["width"].astype(f32),
        half_width=levels["half_width"].astype(f32),
        disc=levels["disc"].astype(f32),
        offset=levels["offset"].astype(f32),
        wedge=levels["wedge"].astype(f32),
        coronal_tilt=levels["coronal_tilt"].astype(f32),
        rotation=levels["rotation"].astype(f32),
        table=buf.table,
        table_lo=table_lo,
        table_res=_TABLE_RES_MM,
        oop_row=rows["oop"].astype(f32),
        pivot_u=buf.pivot_u.astype(f32),
        tan_alpha=buf.tan_alpha.astype(f32),
        rot_s_row=rows["rs_row"].astype(f32),
        rot_x_row=rows["rx_row"].astype(f32),
        rot_sin_row=np.sin(rows["rphi"]).astype(f32),
        rot_cos_row=np.cos(rows["rphi"]).astype(f32),
        midline_x=buf.midline.astype(f32),
        sacrum_px=buf.sacrum_px.astype(f32),
        tilt=buf.tilt.astype(f32),
        polylines=buf.polylines,
        rot_polylines=buf.rot_polylines,
    )


def landmarks(layout: Layout, b: int) -> np.ndarray:
    """Corner points of every vertebral body of image ``b`` in pixels, shape (K, 4, 2).

    Corners are (upper-anterior, upper-posterior, lower-anterior, lower-posterior) in sagittal views
    and (upper-right, upper-left, lower-right, lower-left) in AP views, as (x, y) before any flip.
    These are the points a reader would click to measure Cobb angle, slip and height loss.
    """
    sagittal = layout.view != "ap"
    out = np.zeros((N_LEVELS, 4, 2))
    kf = int(np.argmax(layout.wedge[b])) if layout.tan_alpha[b] > 0 else -1
    for k in range(N_LEVELS):
        top = float(layout.tops[b, k])
        h = float(layout.height[b, k])
        w = float(layout.width[b, k])
        off = float(layout.offset[b, k])
        wedge = float(layout.wedge[b, k])
        if sagittal:
            across = (off + w, off, off + w, off)
            along = (top + wedge, top, top + h, top + h)
        else:
            across = (w, -w, w, -w)
            along = (top, top, top + h, top + h)
        for j in range(4):
            use_rot = k < kf
            s_grid, xs, ys, phis = (layout.rot_polylines if use_rot else layout.polylines)[b]
            uu, vv = along[j], across[j]
            cx = np.interp(uu, s_grid, xs)
            cy = np.interp(uu, s_grid, ys)
            ph = np.interp(uu, s_grid, phis)
            scale = float(layout.scale[b])
            out[k, j] = (cx + vv * scale * math.cos(ph), cy - vv * scale * math.sin(ph))
    return out
