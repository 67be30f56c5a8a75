"""Clinic-shaped data: tall radiographs (PNG, DICOM), MRI DICOM series, rectangular and 2.5D caches."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sdc_bench.cli import main
from sdc_bench.core.errors import DataError
from sdc_bench.core.geometry import resize_geometry
from sdc_bench.data.cache import build_cache
from sdc_bench.data.decode import Preprocess, resize_image
from sdc_bench.data.prepare import prepare_data
from sdc_bench.data.sources import load_source
from sdc_bench.data.spec import DataSpec
from sdc_bench.data.synthspine import write_mri_series, write_tall_xrays
from sdc_bench.zoo.augment import AUGMENTATIONS, build_augmentation
from sdc_bench.zoo.backbones import create_backbone


@pytest.fixture(scope="module")
def clinical(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clinical")
    write_tall_xrays(root / "xray_png", n_images=10, fmt="png")
    write_tall_xrays(root / "xray_dicom", n_images=10, fmt="dicom")
    write_mri_series(root / "mri", n_patients=4, series_per_patient=2, slices=5)
    return root


def _check(source: Path, out: Path, *extra: str) -> dict:
    # a tiny set has classes too small for the folds (DataError); the audit is written first
    with contextlib.suppress(DataError):
        main(["data", "check", str(source), "--folds", "2", "--quiet", "--out", str(out), *extra])
    return json.loads(out.read_text())


def test_check_tall_png_records_geometry_and_forced_modality(clinical: Path, tmp_path: Path) -> None:
    audit = _check(clinical / "xray_png", tmp_path / "a.json", "--size", "auto:64", "--view", "ap")
    assert audit["image_aspect"] == pytest.approx(3.0)
    assert audit["size_hw"] == [96, 32]  # tall images -> a tall input
    assert audit["images_per_view"] == {"ap": 10}
    assert audit["patient_from"] == "file"


def test_check_tall_dicom_takes_patient_modality_view_from_header(clinical: Path, tmp_path: Path) -> None:
    audit = _check(clinical / "xray_dicom", tmp_path / "a.json", "--size", "96x32")
    assert audit["patient_from"] == "dicom" and "PatientID" in audit["grouping"]
    assert audit["n_patients"] < audit["n_images"] and audit["patients_with_several_images"] >= 1
    assert audit["images_per_modality"] == {"xray": 10} and audit["images_per_view"] == {"ap": 10}
    assert audit["size_hw"] == [96, 32]


def test_mri_series_are_samples_grouped_by_patient_id(clinical: Path, tmp_path: Path) -> None:
    audit = _check(clinical / "mri", tmp_path / "a.json")
    assert audit["series"] == {"series": 8, "files": 40}
    assert audit["n_images"] == 8 and audit["images_per_modality"] == {"mri": 8}
    assert audit["patient_from"] == "dicom" and audit["patients_with_several_images"] == audit["n_patients"]
    manifest = load_source(clinical / "mri")
    assert not any("site_a" in s for s in manifest["sample_id"])  # no patient id in the names


def test_every_mri_series_shows_its_patients_class() -> None:
    """The series once took any image and the patient's label: a third of the MRI labels were noise."""
    from sdc_bench.data.synthspine import SynthConfig, generate_arrays
    from sdc_bench.data.synthspine.clinical import _series_plan

    _, manifest = generate_arrays(SynthConfig(n_images=60, seed=4, size=32, modalities=("mri",)))
    plan = _series_plan(manifest, n_patients=10, series_per_patient=2)
    assert len(plan) == 20 and len({image for _, _, image in plan}) == 20
    assert all(manifest["label"].iloc[image] == label for _, label, image in plan)
    labels = {patient: {lab for p, lab, _ in plan if p == patient} for patient, _, _ in plan}
    assert len(labels) == 10 and all(len(v) == 1 for v in labels.values())
    with pytest.raises(ValueError, match="not enough"):
        _series_plan(manifest, n_patients=40, series_per_patient=2)


def test_rectangular_cache_letterboxes_only_to_the_aspect(clinical: Path, tmp_path: Path) -> None:
    manifest = load_source(clinical / "xray_png")
    cache = build_cache(manifest, Preprocess(size=(96, 32)), tmp_path, progress=False)
    assert cache.images.shape == (10, 96, 32) and cache.hw == (96, 32)
    geometry = resize_geometry((144, 48), (96, 32))
    assert (geometry.top, geometry.left, geometry.rows, geometry.columns) == (0, 0, 96, 32)
    wide = resize_image(np.ones((50, 100), np.float32), (96, 32))
    assert wide.shape == (96, 32) and wide[:40].max() == 0 and wide[48].min() == 1  # pads rows only


def test_three_slices_middle_channel_is_the_single_slice(clinical: Path, tmp_path: Path) -> None:
    manifest = load_source(clinical / "mri")
    one = build_cache(manifest, Preprocess(size=(48, 32)), tmp_path, progress=False)
    three = build_cache(manifest, Preprocess(size=(48, 32), slices=3), tmp_path, progress=False)
    assert three.images.shape == (8, 3, 48, 32)
    np.testing.assert_array_equal(three.images[:, 1], one.images)
    # neighbours are the attenuated slices on either side, not copies of the middle one
    assert three.images[:, 0].astype(int).sum() < one.images.astype(int).sum()


def test_nifti_slices_middle_channel(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel")
    volume = np.random.default_rng(0).random((7, 20, 30)).astype(np.float32)
    nib.save(nib.Nifti1Image(volume, np.eye(4)), tmp_path / "v.nii.gz")
    from sdc_bench.data.slices import load_input

    one = load_input(tmp_path / "v.nii.gz", Preprocess(size=(32, 16)))
    three = load_input(tmp_path / "v.nii.gz", Preprocess(size=(32, 16), slices=3))
    assert three.shape == (3, 32, 16)
    np.testing.assert_array_equal(three[1], one)


def test_auto_size_picks_a_tall_shape_and_says_so(
    clinical: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SDC_BENCH_CACHE", str(tmp_path))
    data = prepare_data(DataSpec(source=str(clinical / "xray_png"), size="auto:64"), seed=0, progress=False)
    assert data.size_hw == (96, 32) and data.images.shape[1:] == (96, 32)
    assert "96x32" in data.size_note


def test_dataspec_sizes_and_slices() -> None:
    assert DataSpec(size=[384, 128]).size == (384, 128)
    assert DataSpec(size=[64, 64]).size == 64
    with pytest.raises(Exception, match=r"data\.slices"):
        DataSpec(slices=2)
    with pytest.raises(Exception, match=r"data\.size"):
        DataSpec(size="big")
    assert DataSpec(modality="MR").modality == "mri"


def test_augmentations_accept_tall_multichannel_batches() -> None:
    images = torch.rand(4, 3, 48, 16, generator=torch.Generator().manual_seed(0))
    targets = torch.eye(2)[[0, 1, 0, 1]]
    for name in AUGMENTATIONS.names():
        out, _ = build_augmentation(name)(images, targets, torch.Generator().manual_seed(1))
        assert out.shape == images.shape, name


def test_cnn_with_three_slice_channels_runs_on_a_tall_input(tmp_path: Path) -> None:
    import timm
    from safetensors.torch import save_file

    weights = tmp_path / "resnet10t.safetensors"
    save_file(timm.create_model("resnet10t", pretrained=False).state_dict(), str(weights))
    built = create_backbone(
        "resnet10t",
        num_classes=2,
        in_chans=3,
        pretrained=True,
        weights_file=weights,
        img_size=(96, 32),
        grey_channels=True,
        allow_hub=False,
    )
    assert built.mean == (pytest.approx(0.449),) * 3 and built.weights_source == "file"
    with torch.no_grad():
        assert built.model(torch.zeros(2, 3, 96, 32)).shape == (2, 2)
    five = create_backbone(
        "resnet10t", num_classes=2, in_chans=5, pretrained=True, weights_file=weights, allow_hub=False
    )
    with torch.no_grad():
        assert five.model(torch.zeros(1, 5, 64, 32)).shape == (1, 2)
