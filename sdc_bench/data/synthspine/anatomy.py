"""SynthSpine patients and acquisitions: what is drawn at random for one spine and for one image.

A patient is one 3-D spine (T8 to sacrum) described level by level in millimetres, with one slot per
disorder: every patient carries a coronal curve, a slip, a wedge and a degenerated-disc slot, and the
label only decides which slot is pathological (the others keep normal, physiological values), so the
label changes the anatomy and nothing else.  An acquisition (:class:`ImageSpec`) fixes the view,
window, tilt, exposure and the other per-image variation that all classes share.

Every draw happens in a fixed order from the caller's generator: the same generator state gives the
same spine whatever the label (:mod:`sdc_bench.data.synthspine.layout` projects it into pixels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

__all__ = [
    "LEVEL_NAMES",
    "MILD_FRACTION",
    "N_LEVELS",
    "SACRUM",
    "THORACIC",
    "ImageSpec",
    "Patient",
    "caption",
    "draw_severity",
    "finding",
    "sample_image",
    "sample_patient",
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

# Where each disorder sits (level index, probability); normal patients get a slot drawn the same way.
_SLIP_LEVELS = ((7, 0.15), (8, 0.5), (9, 0.35))  # vertebra that slips forward over the one below
_FRACTURE_LEVELS = ((5, 0.3), (6, 0.3), (7, 0.25), (8, 0.15))
_DISC_LEVELS = ((7, 0.2), (8, 0.45), (9, 0.35))  # disc below this vertebra

# Fraction of pathological patients drawn from the mild tail (severity < 0.2, close to normal).
MILD_FRACTION = 0.2


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


@dataclass(frozen=True)
class _Body:
    """Per-level bone and disc dimensions (mm) and marrow brightness, drawn first for every patient."""

    size: float
    height: np.ndarray
    half_width: np.ndarray
    depth: np.ndarray
    disc: np.ndarray
    marrow: np.ndarray


@dataclass(frozen=True)
class _Slots:
    """The four disorder slots; physiological values first, the label's slot overwritten after."""

    cobb: float
    apex: float
    sigma: float
    side: float
    slip_level: int
    slip_pct: float
    pars: bool
    slip_disc_loss: float
    fracture_level: int
    wedge: float
    crush: float
    edema: float
    disc_level: int
    disc_loss: float
    disc_dark: float
    bulge: float
    osteophyte: float


@dataclass(frozen=True)
class _LabelDraws:
    """Draws made for every patient whatever its label, so the stream stays aligned across labels."""

    crush_share: float
    edema_draw: float
    edema_strength: float
    pars_draw: float
    osteo_draw: float


def _draw_body(rng: np.random.Generator) -> _Body:
    k = N_LEVELS
    size = float(np.clip(rng.normal(1.0, 0.06), 0.85, 1.15))
    return _Body(
        size=size,
        height=_HEIGHT * size * np.clip(rng.normal(1.0, 0.035, k), 0.9, 1.1),
        half_width=_HALF_WIDTH * size * np.clip(rng.normal(1.0, 0.04, k), 0.9, 1.1),
        depth=_DEPTH * size * np.clip(rng.normal(1.0, 0.04, k), 0.9, 1.1),
        disc=_DISC * size * np.clip(rng.normal(1.0, 0.1, k), 0.75, 1.25),
        marrow=np.clip(rng.normal(1.0, 0.07, k), 0.8, 1.2),
    )


def _draw_severity_for(rng: np.random.Generator, label: str, severity: float | None) -> float:
    # Drawn for every label so that the same generator state gives the same anatomy whatever the label.
    sev = draw_severity(rng) if severity is None else float(np.clip(severity, 0.0, 1.0))
    if severity is not None:
        draw_severity(rng)  # keep the generator where a drawn severity would have left it
    if label == "normal":
        sev = 0.0
    return sev


def _draw_physiological_slots(rng: np.random.Generator) -> _Slots:
    # Keyword arguments are evaluated in the order written: this is the order of the draws.
    return _Slots(
        cobb=float(min(abs(rng.normal(0.0, 3.0)), 8.0)),
        apex=float(rng.uniform(5.3, 7.6)),
        sigma=float(rng.uniform(1.2, 1.8)),
        side=float(rng.choice([-1.0, 1.0])),
        slip_level=_choice(rng, _SLIP_LEVELS),
        slip_pct=float(min(abs(rng.normal(0.0, 1.5)), 4.0)),
        pars=False,
        slip_disc_loss=0.0,
        fracture_level=_choice(rng, _FRACTURE_LEVELS),
        wedge=float(rng.uniform(0.0, 0.1)),
        crush=0.0,
        edema=0.0,
        disc_level=_choice(rng, _DISC_LEVELS),
        disc_loss=float(rng.uniform(0.0, 0.15)),
        disc_dark=float(rng.uniform(0.0, 0.2)),
        bulge=float(rng.uniform(0.0, 1.0)),
        osteophyte=0.0,
    )


def _draw_label_draws(rng: np.random.Generator) -> _LabelDraws:
    return _LabelDraws(
        crush_share=float(rng.uniform(0.0, 0.35)),
        edema_draw=float(rng.random()),
        edema_strength=float(rng.uniform(0.3, 1.0)),
        pars_draw=float(rng.random()),
        osteo_draw=float(rng.uniform(0.5, 1.0)),
    )


def _apply_label(slots: _Slots, label: str, sev: float, draws: _LabelDraws) -> _Slots:
    """Overwrite the label's slot with its pathological values (no random draws here)."""
    if label == "scoliosis":
        return replace(slots, cobb=10.0 + 50.0 * sev)
    if label == "spondylolisthesis":
        return replace(
            slots,
            slip_pct=12.0 + 53.0 * sev,
            slip_disc_loss=0.15 + 0.3 * sev,  # the disc at a slipped level narrows
            pars=draws.pars_draw < 0.5,
        )
    if label == "vertebral_fracture":
        loss = 0.18 + 0.42 * sev
        crush = loss * draws.crush_share
        return replace(
            slots,
            crush=crush,
            wedge=loss - crush,
            edema=draws.edema_strength if draws.edema_draw < 0.6 else 0.0,
        )
    if label == "disc_degeneration":
        return replace(
            slots,
            disc_loss=0.25 + 0.5 * sev,
            disc_dark=0.4 + 0.6 * sev,
            bulge=1.5 + 4.5 * sev,
            osteophyte=4.0 * sev * draws.osteo_draw,
        )
    return slots


def sample_patient(rng: np.random.Generator, label: str, severity: float | None = None) -> Patient:
    """Draw one patient of class ``label``; ``severity`` (0-1) overrides the drawn severity."""
    body = _draw_body(rng)
    sev = _draw_severity_for(rng, label, severity)
    physiological = _draw_physiological_slots(rng)
    label_draws = _draw_label_draws(rng)  # after the slots: the order of draws is the dataset
    slots = _apply_label(physiological, label, sev, label_draws)
    size = body.size
    # Keyword arguments are evaluated in the order written: soft-tissue draws come last, in this order.
    return Patient(
        label=label,
        severity=sev,
        size=size,
        height=body.height,
        half_width=body.half_width,
        depth=body.depth,
        disc=body.disc,
        marrow=body.marrow,
        lordosis=float(np.clip(rng.normal(1.0, 0.15), 0.6, 1.4)),
        canal_depth=float(np.clip(rng.normal(15.0, 1.5), 11.0, 19.0)) * size,
        cord_width=float(rng.uniform(6.0, 8.0)),
        conus_level=float(rng.uniform(5.3, 6.2)),
        torso_half_width=float(rng.normal(165.0, 20.0)) * size,
        back_depth=float(rng.uniform(55.0, 85.0)) * size,
        belly_depth=float(rng.uniform(140.0, 230.0)) * size,
        fat=float(rng.uniform(8.0, 35.0)),
        cobb_deg=slots.cobb,
        apex_level=slots.apex,
        curve_sigma_levels=slots.sigma,
        curve_side=slots.side,
        slip_level=slots.slip_level,
        slip_mm=slots.slip_pct / 100.0 * float(body.depth[slots.slip_level + 1]),
        slip_disc_loss=slots.slip_disc_loss,
        pars_defect=slots.pars,
        fracture_level=slots.fracture_level,
        wedge=slots.wedge,
        crush=slots.crush,
        edema=slots.edema,
        disc_level=slots.disc_level,
        disc_loss=slots.disc_loss,
        disc_dark=slots.disc_dark,
        bulge_mm=slots.bulge,
        osteophyte_mm=slots.osteophyte,
    )


def finding(p: Patient) -> tuple[str, str]:
    """Lesion level and a one-line radiology-style finding."""
    if p.label == "scoliosis":
        apex = LEVEL_NAMES[int(p.apex_level)]
        side = "dextro" if p.curve_side > 0 else "levo"
        return apex, f"{side}scoliosis, Cobb {p.cobb_deg:.0f} deg, apex {apex}"
    if p.label == "spondylolisthesis":
        level = f"{LEVEL_NAMES[p.slip_level]}-{LEVEL_NAMES[p.slip_level + 1]}"
        grade = min(4, 1 + int(p.slip_percent // 25))
        kind = "isthmic" if p.pars_defect else "degenerative"
        return level, f"{kind} anterolisthesis {level}, {p.slip_percent:.0f}% (Meyerding {grade})"
    if p.label == "vertebral_fracture":
        level = LEVEL_NAMES[p.fracture_level]
        oedema = ", marrow oedema" if p.edema > 0 else ""
        return (
            level,
            f"{level} compression fracture, {p.height_loss_percent:.0f}% anterior height loss{oedema}",
        )
    if p.label == "disc_degeneration":
        level = f"{LEVEL_NAMES[p.disc_level]}-{LEVEL_NAMES[p.disc_level + 1]}"
        return (
            level,
            f"{level} disc degeneration, {p.disc_height_loss_percent:.0f}% height loss, {p.bulge_mm:.0f} mm bulge",
        )
    return "", "no finding"


def caption(p: Patient) -> str:
    """A few words for a contact-sheet cell."""
    level, _ = finding(p)
    return {
        "scoliosis": f"Cobb {p.cobb_deg:.0f}\N{DEGREE SIGN}, apex {level}",
        "spondylolisthesis": f"{level} slip {p.slip_percent:.0f}%",
        "vertebral_fracture": f"{level} height loss {p.height_loss_percent:.0f}%",
        "disc_degeneration": f"{level} disc -{p.disc_height_loss_percent:.0f}%",
    }.get(p.label, "normal")


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
