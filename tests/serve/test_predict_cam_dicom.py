"""predict --cam (one overlay per image on its original geometry) and predict on real DICOM files: pydicom's
CT and MR test images, a MONOCHROME1 copy that must predict as its MONOCHROME2 original, a DICOM without
pixels and a damaged one (one line, or skipped with --skip-bad), and the out-of-distribution flags."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sdc_bench.cli import main

pydicom = pytest.importorskip("pydicom")
from pydicom.data import get_testdata_file  # noqa: E402

needs_grad_cam = pytest.mark.skipif(
    importlib.util.find_spec("pytorch_grad_cam") is None,
    reason="grad-cam (extra 'saliency') is not installed",
)


def _source_images(run_dir: Path, count: int, out: Path) -> Path:
    """A folder of ``count`` loose images of the run's source, of two sizes (the letterbox has work to do)."""
    origin = json.loads((run_dir / "run.json").read_text())["data"]["origin"].removeprefix("synthspine:")
    out.mkdir()
    for index, path in enumerate(sorted((Path(origin) / "images").glob("*.png"))[:count]):
        with Image.open(path) as image:
            if index % 2:  # a wide one: 64 x 96
                image = image.resize((96, 64))
            image.save(out / f"case {index}.png")
    return out


@needs_grad_cam
def test_cam_writes_one_overlay_per_image_on_its_original_geometry(
    run_dir: Path, package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = _source_images(run_dir, 5, tmp_path / "images")
    out, cams = tmp_path / "preds.csv", tmp_path / "cams"
    argv = ["predict", str(package), "--data", str(images), "--out", str(out), "--cam", str(cams)]
    assert (
        main([*argv, "--batch-size", "2"]) == 0
    )  # three batches: the stream keeps rows and overlays in step
    printed = capsys.readouterr().out
    assert f"5 Grad-CAM overlays written to {cams}" in printed
    frame = pd.read_csv(out)
    assert sorted(p.name for p in cams.iterdir()) == [f"case_{i}.png" for i in range(5)]
    for _, row in frame.iterrows():
        with Image.open(row["path"]) as original, Image.open(row["cam_png"]) as overlay:
            assert overlay.size == original.size and overlay.mode == "RGB"
    plain = tmp_path / "plain.csv"
    assert (
        main(["predict", str(package), "--data", str(images), "--out", str(plain), "--batch-size", "2"]) == 0
    )
    columns = ["p_normal", "p_scoliosis"]
    assert np.array_equal(pd.read_csv(plain)[columns].to_numpy(), frame[columns].to_numpy())
    assert "cam_png" not in pd.read_csv(plain)


def _monochrome_pair(source: Path, folder: Path) -> None:
    """``<stem>_m2.dcm`` (the original, no VOI window) and ``<stem>_m1.dcm`` (inverted pixels, MONOCHROME1)."""
    dataset = pydicom.dcmread(source)
    for tag in ("WindowCenter", "WindowWidth"):  # a window is stated on the stored values' scale
        if tag in dataset:
            delattr(dataset, tag)
    pixels = dataset.pixel_array
    dataset.save_as(folder / f"{source.stem}_m2.dcm")
    inverted = (int(pixels.min()) + int(pixels.max()) - pixels.astype(np.int64)).astype(pixels.dtype)
    dataset.PixelData = inverted.tobytes()
    dataset.PhotometricInterpretation = "MONOCHROME1"
    dataset.save_as(folder / f"{source.stem}_m1.dcm")


@pytest.fixture
def dicom_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "dicom"
    folder.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        _monochrome_pair(Path(get_testdata_file(name)), folder)
    shutil.copyfile(get_testdata_file("rtplan.dcm"), folder / "plan.dcm")  # a DICOM without pixels
    (folder / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00" * 7)  # header cut short
    return folder


def test_dicom_folder_predicts_with_flags_and_monochrome1_matches_its_inverse(
    package: Path, dicom_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dicom.csv"
    argv = ["predict", str(package), "--data", str(dicom_folder), "--out", str(out)]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "broken.dcm" in error, error
    assert main([*argv, "--skip-bad"]) == 0
    printed = capsys.readouterr().out
    assert "skipped" in printed and "plan.dcm" in printed and "broken.dcm" in printed
    frame = pd.read_csv(out).set_index("sample_id")
    assert sorted(frame.index) == ["CT_small_m1.dcm", "CT_small_m2.dcm", "MR_small_m1.dcm", "MR_small_m2.dcm"]
    columns = ["p_normal", "p_scoliosis"]
    for stem in ("CT_small", "MR_small"):
        m1, m2 = frame.loc[f"{stem}_m1.dcm"], frame.loc[f"{stem}_m2.dcm"]
        assert np.allclose(m1[columns].astype(float), m2[columns].astype(float), atol=1e-4)
        assert m1["predicted"] == m2["predicted"]
    # the package saw 8-bit 128 x 128 X-ray PNGs: CT, MR and 16 bits are new to it, and so is MR's 64 x 64
    assert frame[["unseen_modality", "unseen_bit_depth"]].to_numpy().all()
    assert frame["unseen_size"].to_dict() == {
        "CT_small_m1.dcm": False,
        "CT_small_m2.dcm": False,
        "MR_small_m1.dcm": True,
        "MR_small_m2.dcm": True,
    }


@needs_grad_cam
def test_cam_on_dicom_keeps_the_dicom_geometry(package: Path, dicom_folder: Path, tmp_path: Path) -> None:
    cams = tmp_path / "cams"
    argv = ["predict", str(package), "--data", str(dicom_folder), "--out", str(tmp_path / "p.csv")]
    assert main([*argv, "--skip-bad", "--cam", str(cams), "--member", "fold1"]) == 0
    with Image.open(cams / "CT_small_m1.png") as ct, Image.open(cams / "MR_small_m2.png") as mr:
        assert ct.size == (128, 128) and mr.size == (64, 64)
