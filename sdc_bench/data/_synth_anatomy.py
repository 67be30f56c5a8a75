"""Shared geometry of the SynthSpine phantom: patients, acquisitions and the straightened spine frame.

A patient is one 3-D spine (T8 to sacrum) described level by level in millimetres, with one slot per
disorder: every patient carries a coronal curve, a slip, a wedge and a degenerated-disc slot, and the
label only decides which slot is pathological (the others keep normal, physiological values), so the
label changes the anatomy and nothing else.  An acquisition (:class:`ImageSpec`) fixes the view,
window, tilt, exposure and the other per-image variation that all classes share.

:func:`build_layout` projects a batch of (patient, acquisition) pairs of one view into pixel space: for
every image row it gives the centreline point, its tangent and its arc length, so that each pixel
gets straightened coordinates ``u`` (mm along the spine) and ``v`` (mm across it) in
:func:`spine_frame`.  The renderers draw every vertebra, disc and canal in those coordinates with
array operations over whole batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "LEVEL_NAMES",
    "N_LEVELS",
    "SACRUM",
    "THORACIC",
    "ImageSpec",
    "Layout",
    "Patient",
    "SpineFrame",
    "box_sdf",
    "build_layout",
    "display_window",
    "draw_severity",
    "ellipse_radius",
    "fill",
    "gather",
    "landmarks",
    "level_lookup",
    "per_image",
    "sample_image",
    "sample_patient",
    "shell",
    "smooth_field",
    "spine_frame",
]

LEVEL_NAMES: tuple[str, ...] = ("T8", "T9", "T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1")
N_LEVELS = len(LEVEL_NAMES)
SACRUM = N_LEVELS - 1
THORACIC = 5  # levels below this index are thoracic (carry ribs)

# Adult reference dimensions in mm (body height, coronal half-width, sagittal depth, disc below).
# The sacrum is one long "level" whose height is its length.
_HEIGHT = np.array([21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0, 27.5, 27.5, 27.0, 95.0])
_HALF_WIDTH = np.array([17.0, 17.5, 18.0, 19.0, 20.5, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0])
_DEPTH = np.array([27.0, 27.5, 28.0, 29.0, 30.0, 31.5, 33.0, 34.0, 35.0, 35.0, 33.0])
_DISC = np.array([5.0, 5.3, 5.6, 6.2, 7.0, 8.5, 9.5, 10.5, 11.0, 10.0, 0.0])

# Sagittal tangent angle (degrees, going caudally, + = towards anterior) at level coordinates:
# thoracic kyphosis ending at the thoracolumbar junction, lumbar lordosis, sacral slope and curve.
_SAGITTAL_KNOT_LEVEL = np.array([0.4, 2.4, 4.4, 5.4, 6.4, 7.4, 8.4, 9.4, 10.0, 10.5, 11.0])
_SAGITTAL_KNOT_DEG = np.array([4.0, 8.0, 10.0, 8.0, 3.0, -4.0, -12.0, -22.0, -32.0, -26.0, -12.0])

# Where each disorder sits (level index, probability); normal patients get a slot drawn the same way.
_SLIP_LEVELS = ((7, 0.15), (8, 0.5), (9, 0.35))  # vertebra that slips forward over the one below
_FRACTURE_LEVELS = ((5, 0.3), (6, 0.3), (7, 0.25), (8, 0.15))
_DISC_LEVELS = ((7, 0.2), (8, 0.45), (9, 0.35))  # disc below this vertebra

# Fraction of pathological patients drawn from the mild tail (severity < 0.2, close to normal).
MILD_FRACTION = 0.2
_S_MARGIN_MM = 80.0  # centreline sampled this far beyond the first and last level
_TABLE_RES_MM = 0.25


@dataclass(frozen=True)
class Patient:
    """One phantom spine in millimetres; arrays hold one value per level of :data:`LEVEL_NAMES`."""

    label: str
    severity: float
    size: float
    height: np.ndarray
    half_width: np.ndarray
    depth: np.ndarray
    disc: np.ndarray
    marrow: np.ndarray
    lordosis: float
    canal_depth: float
    cord_width: float
    conus_level: float
    torso_half_width: float
    back_depth: float
    belly_depth: float
    fat: float
    # coronal curve (scoliosis slot)
    cobb_deg: float
    apex_level: float
    curve_sigma_levels: float
    curve_side: float
    # slip slot
    slip_level: int
    slip_mm: float
    slip_disc_loss: float
    pars_defect: bool
    # fracture slot
    fracture_level: int
    wedge: float
    crush: float
    edema: float
    # disc slot
    disc_level: int
    disc_loss: float
    disc_dark: float
    bulge_mm: float
    osteophyte_mm: float

    @property
    def slip_percent(self) -> float:
        return 100.0 * self.slip_mm / float(self.depth[self.slip_level + 1])

    @property
    def height_loss_percent(self) -> float:
        return 100.0 * (self.wedge + self.crush)

    @property
    def disc_height_loss_percent(self) -> float:
        return 100.0 * self.disc_loss

    def tops(self, view: str) -> np.ndarray:
        """Arc position (mm from the top of T8) of each level's upper endplate in ``view``."""
        pitch = self.view_height(view) + self.view_disc()
        return np.concatenate([[0.0], np.cumsum(pitch[:-1])])

    def view_height(self, view: str) -> np.ndarray:
        """Body heights as projected: the posterior wall in sagittal views, the mean height on AP."""
        h = self.height.copy()
        k = self.fracture_level
        if view == "ap":
            h[k] *= 1.0 - self.crush - 0.5 * self.wedge
        else:
            h[k] *= 1.0 - self.crush
        return h

    def view_disc(self) -> np.ndarray:
        d = self.disc.copy()
        d[self.disc_level] *= 1.0 - self.disc_loss
        d[self.slip_level] *= 1.0 - self.slip_disc_loss
        return d


def _choice(rng: np.random.Generator, options: tuple[tuple[int, float], ...]) -> int:
    values = [o[0] for o in options]
    weights = np.array([o[1] for o in options])
    return int(rng.choice(values, p=weights / weights.sum()))


def draw_severity(rng: np.random.Generator) -> float:
    """Continuous severity in (0, 1]: a mild tail near the normal range, most mass clearly visible."""
    if rng.random() < MILD_FRACTION:
        return float(rng.uniform(0.03, 0.2))
    return float(0.2 + 0.8 * rng.beta(2.0, 2.2))


def sample_patient(rng: np.random.Generator, label: str, severity: float | None = None) -> Patient:
    """Draw one patient of class ``label``; ``severity`` (0-1) overrides the drawn severity."""
    k = N_LEVELS
    size = float(np.clip(rng.normal(1.0, 0.06), 0.85, 1.15))
    height = _HEIGHT * size * np.clip(rng.normal(1.0, 0.035, k), 0.9, 1.1)
    half_width = _HALF_WIDTH * size * np.clip(rng.normal(1.0, 0.04, k), 0.9, 1.1)
    depth = _DEPTH * size * np.clip(rng.normal(1.0, 0.04, k), 0.9, 1.1)
    disc = _DISC * size * np.clip(rng.normal(1.0, 0.1, k), 0.75, 1.25)
    marrow = np.clip(rng.normal(1.0, 0.07, k), 0.8, 1.2)

    # Drawn for every label so that the same generator state gives the same anatomy whatever the label.
    sev = draw_severity(rng) if severity is None else float(np.clip(severity, 0.0, 1.0))
    if severity is not None:
        draw_severity(rng)  # keep the generator where a drawn severity would have left it
    if label == "normal":
        sev = 0.0

    # Physiological values for every slot; the label's slot is then overwritten.
    cobb = float(min(abs(rng.normal(0.0, 3.0)), 8.0))
    apex = float(rng.uniform(5.3, 7.6))
    sigma = float(rng.uniform(1.2, 1.8))
    side = float(rng.choice([-1.0, 1.0]))
    slip_level = _choice(rng, _SLIP_LEVELS)
    slip_pct = float(min(abs(rng.normal(0.0, 1.5)), 4.0))
    pars = False
    slip_disc_loss = 0.0
    fracture_level = _choice(rng, _FRACTURE_LEVELS)
    wedge = float(rng.uniform(0.0, 0.1))
    crush = 0.0
    edema = 0.0
    disc_level = _choice(rng, _DISC_LEVELS)
    disc_loss = float(rng.uniform(0.0, 0.15))
    disc_dark = float(rng.uniform(0.0, 0.2))
    bulge = float(rng.uniform(0.0, 1.0))
    osteophyte = 0.0
    # Draws made for every patient whatever its label, so the stream stays aligned across labels.
    crush_share = float(rng.uniform(0.0, 0.35))
    edema_draw = float(rng.random())
    edema_strength = float(rng.uniform(0.3, 1.0))
    pars_draw = float(rng.random())
    osteo_draw = float(rng.uniform(0.5, 1.0))

    if label == "scoliosis":
        cobb = 10.0 + 50.0 * sev
    elif label == "spondylolisthesis":
        slip_pct = 12.0 + 53.0 * sev
        slip_disc_loss = 0.15 + 0.3 * sev  # the disc at a slipped level narrows
        pars = pars_draw < 0.5
    elif label == "vertebral_fracture":
        loss = 0.18 + 0.42 * sev
        crush = loss * crush_share
        wedge = loss - crush
        edema = edema_strength if edema_draw < 0.6 else 0.0
    elif label == "disc_degeneration":
        disc_loss = 0.25 + 0.5 * sev
        disc_dark = 0.4 + 0.6 * sev
        bulge = 1.5 + 4.5 * sev
        osteophyte = 4.0 * sev * osteo_draw

    return Patient(
        label=label,
        severity=sev,
        size=size,
        height=height,
        half_width=half_width,
        depth=depth,
        disc=disc,
        marrow=marrow,
        lordosis=float(np.clip(rng.normal(1.0, 0.15), 0.6, 1.4)),
        canal_depth=float(np.clip(rng.normal(15.0, 1.5), 11.0, 19.0)) * size,
        cord_width=float(rng.uniform(6.0, 8.0)),
        conus_level=float(rng.uniform(5.3, 6.2)),
        torso_half_width=float(rng.normal(165.0, 20.0)) * size,
        back_depth=float(rng.uniform(55.0, 85.0)) * size,
        belly_depth=float(rng.uniform(140.0, 230.0)) * size,
        fat=float(rng.uniform(8.0, 35.0)),
        cobb_deg=cobb,
        apex_level=apex,
        curve_sigma_levels=sigma,
        curve_side=side,
        slip_level=slip_level,
        slip_mm=slip_pct / 100.0 * float(depth[slip_level + 1]),
        slip_disc_loss=slip_disc_loss,
        pars_defect=pars,
        fracture_level=fracture_level,
        wedge=wedge,
        crush=crush,
        edema=edema,
        disc_level=disc_level,
        disc_loss=disc_loss,
        disc_dark=disc_dark,
        bulge_mm=bulge,
        osteophyte_mm=osteophyte,
    )


@dataclass(frozen=True)
class ImageSpec:
    """One acquisition of one patient: everything that varies per image and is shared by all classes."""

    view: str  # 'ap' | 'lateral' | 'sagittal_t2'
    key: tuple[int, ...]  # entropy for this image's noise generator
    window_level: float  # level coordinate at the image centre
    span_levels: float  # how many level pitches the image height covers
    tilt_deg: float
    shift: tuple[float, float]  # centre offset, fraction of the image size (x, y)
    flip: bool  # sagittal views: mirrored so that anterior is on the left
    dose: float
    heel: tuple[float, float]  # exposure gradient (strength, direction in radians)
    collimation: tuple[float, float, float, float]  # left, right, top, bottom margins (fraction)
    marker: tuple[str, int]  # letter, corner (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right)
    gas: tuple[tuple[float, float, float, float], ...]  # bowel gas blobs (x, y, radius mm, strength)
    slice_offset_mm: float
    bias: tuple[float, float, float]  # MRI coil shading (strength, gradient angle, curvature)
    window_jitter: tuple[float, float]


def sample_image(rng: np.random.Generator, view: str, key: tuple[int, ...], fov_scale: float) -> ImageSpec:
    """Draw the acquisition of one image of ``view`` (independent of the patient's class)."""
    n_gas = int(rng.integers(0, 5))
    gas = tuple(
        (
            float(rng.uniform(0.15, 0.85)),
            float(rng.uniform(0.15, 0.9)),
            float(rng.uniform(8.0, 28.0)),
            float(rng.uniform(0.08, 0.3)),
        )
        for _ in range(n_gas)
    )
    collimated = rng.random() < 0.7
    margins = rng.uniform(0.0, 0.12, 4) * collimated
    corner = int(rng.integers(0, 4))
    side = str(rng.choice(["L", "R"]))  # lateral views: the side that lay against the detector
    letter = ("R" if corner in (0, 2) else "L") if view == "ap" else side
    # lateral radiographs face either way; sagittal MRI is mostly shown with anterior on the left
    flip_p = 0.5 if view == "lateral" else 0.8
    return ImageSpec(
        view=view,
        key=key,
        window_level=float(7.55 + np.clip(rng.normal(0.0, 0.25), -0.45, 0.45)),
        span_levels=float(rng.uniform(6.3, 9.0) * fov_scale),
        tilt_deg=float(np.clip(rng.normal(0.0, 3.0), -8.0, 8.0)),
        shift=(
            float(np.clip(rng.normal(0.0, 0.03), -0.07, 0.07)),
            float(np.clip(rng.normal(0.0, 0.02), -0.05, 0.05)),
        ),
        flip=bool(rng.random() < flip_p) if view != "ap" else False,
        dose=float(np.exp(rng.normal(0.0, 0.3))),
        heel=(float(rng.uniform(0.5, 1.0)), float(rng.choice([0.0, math.pi]) + rng.normal(0.0, 0.2))),
        collimation=(float(margins[0]), float(margins[1]), float(margins[2]), float(margins[3])),
        marker=(letter, corner),
        gas=gas,
        slice_offset_mm=float(np.clip(rng.normal(0.0, 3.0), -8.0, 8.0)),
        bias=(
            float(rng.uniform(0.5, 1.0)),
            float(rng.uniform(0.0, 2.0 * math.pi)),
            float(rng.uniform(-0.5, 0.5)),
        ),
        window_jitter=(float(rng.normal(0.0, 0.02)), float(rng.normal(0.0, 0.02))),
    )


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


def build_layout(patients: list[Patient], specs: list[ImageSpec], size: int) -> Layout:
    """Project each (patient, acquisition) pair of one view into pixel space; see :class:`Layout`."""
    view = specs[0].view
    sagittal = view != "ap"
    n = len(specs)
    k_levels = N_LEVELS
    s_max = max(float(p.tops(view)[SACRUM] + p.height[SACRUM]) for p in patients) + _S_MARGIN_MM
    table_lo = -_S_MARGIN_MM
    n_table = math.ceil((s_max - table_lo) / _TABLE_RES_MM) + 1
    grid_table = table_lo + _TABLE_RES_MM * np.arange(n_table)

    out: dict[str, np.ndarray] = {
        name: np.zeros((n, size)) for name in ("s_row", "x_row", "phi", "oop", "rs_row", "rx_row", "rphi")
    }
    per_level: dict[str, np.ndarray] = {
        name: np.zeros((n, k_levels))
        for name in (
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
    }
    table = np.zeros((n, n_table), dtype=np.intp)
    scale = np.zeros(n)
    pivot_u = np.zeros(n)
    tan_alpha = np.zeros(n)
    midline = np.zeros(n)
    sacrum_px = np.zeros((n, 2))
    tilt = np.zeros(n)
    polylines = []
    rot_polylines = []

    for b, (p, spec) in enumerate(zip(patients, specs, strict=True)):
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
        polylines.append((s, x_px, y_px, phi))

        scale[b] = px_per_mm
        tilt[b] = gamma + chord
        midline[b] = size / 2 + spec.shift[0] * size + centre_shift
        i_sac = np.searchsorted(s, tops[SACRUM])
        sacrum_px[b] = (x_px[i_sac], y_px[i_sac])
        out["s_row"][b], out["x_row"][b], out["phi"][b] = s_row, x_row, phi_row

        # Per-level tables.
        per_level["tops"][b] = tops
        per_level["height"][b] = height
        per_level["disc"][b] = disc
        per_level["width"][b] = p.depth if sagittal else p.half_width
        per_level["half_width"][b] = p.half_width
        centres = tops + height / 2
        _, c_ang = _coronal_offset(p, centres, tops, pitch)
        per_level["coronal_tilt"][b] = c_ang
        s_apex = float(_level_position(tops, pitch, p.apex_level))
        sigma = p.curve_sigma_levels * lumbar_pitch
        rot = math.radians(0.55 * p.cobb_deg) * np.exp(-0.5 * ((centres - s_apex) / sigma) ** 2)
        # vertebrae rotate their bodies towards the convexity: spinous processes point to the concavity
        per_level["rotation"][b] = -p.curve_side * rot
        if sagittal:
            off = np.zeros(k_levels)
            off[: p.slip_level + 1] = p.slip_mm
            per_level["offset"][b] = off
            kf = p.fracture_level
            per_level["wedge"][b, kf] = p.wedge * p.height[kf]
            tan_alpha[b] = p.wedge * p.height[kf] / p.depth[kf]
            pivot_u[b] = tops[kf]
            # MRI slice: midsagittal plane through the spine at the window centre
            oop = cor_offset - np.interp(s_c, s, cor_offset) + spec.slice_offset_mm
            out["oop"][b] = np.interp(s_row, s, oop)
        table[b] = np.clip(np.searchsorted(tops, grid_table, side="right") - 1, 0, k_levels - 1)

        # Rotated frame for the spine above a wedge fracture (identity when there is no wedge).
        rs, rx, rphi = s_row, x_row, phi_row
        rot_poly = (s, x_px, y_px, phi)
        if sagittal and tan_alpha[b] > 0:
            alpha = math.atan(tan_alpha[b])
            i_p = int(np.searchsorted(s, pivot_u[b]))
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
        out["rs_row"][b], out["rx_row"][b], out["rphi"][b] = rs, rx, rphi
        rot_polylines.append(rot_poly)

    f32 = np.float32
    return Layout(
        view=view,
        size=size,
        scale=scale.astype(f32),
        s_row=out["s_row"].astype(f32),
        x_row=out["x_row"].astype(f32),
        sin_row=np.sin(out["phi"]).astype(f32),
        cos_row=np.cos(out["phi"]).astype(f32),
        tops=per_level["tops"].astype(f32),
        height=per_level["height"].astype(f32),
        width=per_level["width"].astype(f32),
        half_width=per_level["half_width"].astype(f32),
        disc=per_level["disc"].astype(f32),
        offset=per_level["offset"].astype(f32),
        wedge=per_level["wedge"].astype(f32),
        coronal_tilt=per_level["coronal_tilt"].astype(f32),
        rotation=per_level["rotation"].astype(f32),
        table=table,
        table_lo=table_lo,
        table_res=_TABLE_RES_MM,
        oop_row=out["oop"].astype(f32),
        pivot_u=pivot_u.astype(f32),
        tan_alpha=tan_alpha.astype(f32),
        rot_s_row=out["rs_row"].astype(f32),
        rot_x_row=out["rx_row"].astype(f32),
        rot_sin_row=np.sin(out["rphi"]).astype(f32),
        rot_cos_row=np.cos(out["rphi"]).astype(f32),
        midline_x=midline.astype(f32),
        sacrum_px=sacrum_px.astype(f32),
        tilt=tilt.astype(f32),
        polylines=polylines,
        rot_polylines=rot_polylines,
    )


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
    gap: np.ndarray | None = None
    if fractured.any():
        # Above the tilted line through the pivot the spine is drawn in a frame rotated by the wedge.
        sel = np.flatnonzero(np.repeat(fractured, counts))
        b_sel, row_sel = batch[sel], at_row[sel]
        cols = (index[sel] % size).astype(np.float32) + 0.5
        d = (cols - np.take(layout.rot_x_row.reshape(-1), row_sel)) / np.take(layout.scale, b_sel)
        ur = np.take(layout.rot_s_row.reshape(-1), row_sel) + d * np.take(
            layout.rot_sin_row.reshape(-1), row_sel
        )
        vr = d * np.take(layout.rot_cos_row.reshape(-1), row_sel)
        pu = np.take(layout.pivot_u, b_sel)
        depth = np.take(layout.width[np.arange(n), np.argmax(layout.wedge, axis=1)], b_sel)
        us, vs = u[sel], v[sel]
        above = (us - pu) < np.take(layout.tan_alpha, b_sel) * np.clip(vs, 0.0, depth + 2.0)
        gap = np.zeros(index.shape, dtype=bool)
        gap[sel] = above & (ur >= pu)
        u[sel] = np.where(above, np.minimum(ur, pu - 1e-3), us)
        v[sel] = np.where(above, vr, vs)
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


# Drawing primitives in straightened coordinates (all distances in mm, negative inside).


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
