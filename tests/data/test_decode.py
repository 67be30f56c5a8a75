from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sdc_bench.core.errors import ConfigError, DataError
from sdc_bench.data.decode import Preprocess, load_preprocessed, read_image, resize_image, to_uint8
from tests.data.conftest import ramp, save_dicom, save_image, save_nifti


# ----------------------------------------------------------------------------- PIL formats
@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_8bit_lossless_formats_divide_by_255(tmp_path: Path, suffix: str) -> None:
    pixels = ramp(12, 16)
    image = read_image(save_image(tmp_path / f"ramp{suffix}", pixels))
    assert image.dtype == np.float32 and image.shape == (12, 16)
    np.testing.assert_allclose(image, pixels / 255.0, atol=1e-6)


def test_jpeg_is_close_to_its_source(tmp_path: Path) -> None:
    pixels = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (64, 1))
    image = read_image(save_image(tmp_path / "ramp.jpg", pixels, quality=95))
    assert image.shape == (64, 64)
    assert np.abs(image - pixels / 255.0).mean() < 0.01


def test_16bit_png_keeps_precision(tmp_path: Path) -> None:
    # 12-bit data in a 16-bit PNG: all 4096 levels must survive, mapped min-max to [0, 1].
    pixels = np.arange(4096, dtype=np.uint16).reshape(64, 64)
    image = read_image(save_image(tmp_path / "deep.png", pixels))
    assert len(np.unique(image)) == 4096
    np.testing.assert_allclose(image, pixels / 4095.0, atol=1e-6)


def test_16bit_tiff_keeps_precision(tmp_path: Path) -> None:
    pixels = (np.arange(1000, dtype=np.uint16) * 7 + 300).reshape(20, 50)
    image = read_image(save_image(tmp_path / "deep.tif", pixels))
    np.testing.assert_allclose(image, (pixels - 300) / (999 * 7), atol=1e-6)


def test_rgb_becomes_bt601_luma(tmp_path: Path) -> None:
    pixels = np.zeros((2, 3, 3), np.uint8)
    pixels[0, 0] = (255, 0, 0)
    pixels[0, 1] = (0, 255, 0)
    pixels[0, 2] = (0, 0, 255)
    pixels[1, :] = (100, 150, 200)
    image = read_image(save_image(tmp_path / "rgb.png", pixels))
    np.testing.assert_allclose(image[0], [0.299, 0.587, 0.114], atol=1e-6)
    np.testing.assert_allclose(image[1], (0.299 * 100 + 0.587 * 150 + 0.114 * 200) / 255, atol=1e-6)


def test_rgba_ignores_alpha(tmp_path: Path) -> None:
    pixels = np.zeros((2, 2, 4), np.uint8)
    pixels[..., 1] = 255
    pixels[..., 3] = 7
    np.testing.assert_allclose(read_image(save_image(tmp_path / "rgba.png", pixels)), 0.587, atol=1e-6)


# ----------------------------------------------------------------------------- DICOM
def test_dicom_monochrome2_min_max(tmp_path: Path) -> None:
    pixels = ramp(8, 16, 3995, np.uint16) + 100  # 12-bit values 100..4095
    image = read_image(save_dicom(tmp_path / "m2.dcm", pixels, bits_stored=12))
    np.testing.assert_allclose(image, (pixels - 100) / 3995.0, atol=1e-6)
    assert len(np.unique(image)) == 16


def test_dicom_monochrome1_is_inverted(tmp_path: Path) -> None:
    pixels = ramp(8, 16, 4095, np.uint16)
    m2 = read_image(save_dicom(tmp_path / "m2.dcm", pixels, photometric="MONOCHROME2"))
    m1 = read_image(save_dicom(tmp_path / "m1.dcm", pixels, photometric="MONOCHROME1"))
    np.testing.assert_allclose(m1, 1.0 - m2, atol=1e-6)
    assert m1[0, 0] == pytest.approx(1.0) and m2[0, 0] == pytest.approx(0.0)


def test_dicom_window_centre_width(tmp_path: Path) -> None:
    pixels = np.array([[0, 900, 1000, 1100, 4000]], dtype=np.uint16)
    image = read_image(save_dicom(tmp_path / "w.dcm", pixels, window=(1000, 201)))
    # LINEAR window (PS3.3 C.11.2.1.2): below -> 0, above -> 1, centre -> ~0.5
    assert image[0, 0] == 0.0 and image[0, 4] == 1.0
    assert image[0, 2] == pytest.approx(0.5, abs=0.01)
    assert image[0, 1] == pytest.approx(0.0, abs=0.01) and image[0, 3] == pytest.approx(1.0, abs=0.01)


def test_dicom_linear_exact_window(tmp_path: Path) -> None:
    pixels = np.array([[950, 1000, 1050]], dtype=np.uint16)
    image = read_image(
        save_dicom(tmp_path / "w.dcm", pixels, window=(1000, 200), voi_function="LINEAR_EXACT")
    )
    np.testing.assert_allclose(image[0], [0.25, 0.5, 0.75], atol=1e-6)


def test_dicom_rescale_is_applied_before_the_window(tmp_path: Path) -> None:
    # stored 400/500/600 with intercept -500 are -100/0/+100 HU; a window at 0 HU must see them there.
    pixels = np.array([[400, 500, 600]], dtype=np.uint16)
    image = read_image(
        save_dicom(
            tmp_path / "hu.dcm",
            pixels,
            slope=1.0,
            intercept=-500.0,
            window=(0, 200),
            voi_function="LINEAR_EXACT",
        )
    )
    np.testing.assert_allclose(image[0], [0.0, 0.5, 1.0], atol=1e-6)
    doubled = read_image(
        save_dicom(
            tmp_path / "hu2.dcm",
            pixels,
            slope=2.0,
            intercept=-1000.0,
            window=(0, 800),
            voi_function="LINEAR_EXACT",
        )
    )
    np.testing.assert_allclose(doubled[0], [0.25, 0.5, 0.75], atol=1e-6)


def test_dicom_multiframe_policies(tmp_path: Path) -> None:
    frames = np.zeros((5, 4, 5), np.uint16)
    for index in range(5):
        frames[index] = index * 100
        frames[index, 0, index] = 1000  # a bright dot that moves across frames
    path = save_dicom(tmp_path / "stack.dcm", frames, window=(500, 1000), voi_function="LINEAR_EXACT")
    middle = read_image(path)
    first = read_image(path, frame="first")
    mip = read_image(path, frame="mip")
    assert middle.shape == first.shape == mip.shape == (4, 5)
    assert middle[1, 1] == pytest.approx(0.2) and first[1, 1] == pytest.approx(0.0)
    assert mip[1, 1] == pytest.approx(0.4)
    np.testing.assert_allclose(mip[0], [1.0] * 5)
    assert middle[0].tolist() == pytest.approx([0.2, 0.2, 1.0, 0.2, 0.2])


def test_dicom_detected_by_magic_without_suffix(tmp_path: Path) -> None:
    path = save_dicom(tmp_path / "IMG0001.dcm", ramp(4, 6, 1000, np.uint16))
    renamed = path.rename(tmp_path / "IMG0001")
    np.testing.assert_allclose(read_image(renamed), ramp(4, 6, 1000, np.uint16) / 1000.0, atol=1e-6)


# ----------------------------------------------------------------------------- NIfTI
def test_nifti_mid_sagittal_slice_superior_up(tmp_path: Path) -> None:
    volume = np.zeros(
        (9, 6, 5), np.float32
    )  # RAS: x left->right, y posterior->anterior, z inferior->superior
    volume[4] = 1.0  # the mid-sagittal plane
    volume[4, 5, 4] = 3.0  # anterior-superior corner of it
    for name in ("vol.nii", "vol.nii.gz"):
        image = read_image(save_nifti(tmp_path / name, volume))
        assert image.shape == (5, 6)  # rows superior->inferior, columns posterior->anterior
        # min-max maps the plane (1) to 0 and the marker (3) to 1; the marker is top-right: superior, anterior
        assert image[0, 5] == pytest.approx(1.0)
        np.testing.assert_allclose(np.delete(image.ravel(), 5), 0.0)


def test_nifti_other_slices_and_2d(tmp_path: Path) -> None:
    volume = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    path = save_nifti(tmp_path / "vol.nii.gz", volume)
    assert read_image(path, nifti_slice="mid_axial").shape == (5, 4)
    assert read_image(path, nifti_slice="mid_coronal").shape == (6, 4)
    flat = save_nifti(tmp_path / "flat.nii", np.arange(12, dtype=np.int16).reshape(3, 4))
    np.testing.assert_allclose(read_image(flat), np.arange(12).reshape(3, 4) / 11.0, atol=1e-6)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("garbage_png", "not a readable image"),
        ("truncated_png", "corrupt or truncated"),
        ("truncated_jpeg", "corrupt or truncated"),
        ("text_as_png", "not a readable image"),
        ("empty_png", "is empty"),
        ("dicom_no_pixels", "no pixel data"),
        ("truncated_dicom", "DICOM"),
        ("garbage_nifti", "not a readable NIfTI"),
    ],
)
def test_broken_files_raise_data_error_naming_the_file(
    broken_files: dict[str, Path], name: str, fragment: str
) -> None:
    path = broken_files[name]
    with pytest.raises(DataError) as caught:
        read_image(path)
    message = str(caught.value)
    assert str(path) in message and fragment in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.png: image file does not exist"):
        read_image(tmp_path / "nope.png")


def test_bad_policy_is_a_config_error(tmp_path: Path) -> None:
    path = save_image(tmp_path / "a.png", ramp())
    with pytest.raises(ConfigError, match="frame='last'"):
        read_image(path, frame="last")


# ----------------------------------------------------------------------------- resize
def test_letterbox_keeps_aspect_and_pads_with_zero() -> None:
    wide = np.ones((50, 100), np.float32)
    out = resize_image(wide, 64, "letterbox")
    assert out.shape == (64, 64) and out.dtype == np.float32
    # 50x100 -> 32x64 content centred vertically: 16 padding rows above and below
    assert np.all(out[:16] == 0) and np.all(out[48:] == 0)
    np.testing.assert_allclose(out[16:48], 1.0, atol=1e-6)
    tall = resize_image(np.ones((100, 25), np.float32), 40, "letterbox")
    content_columns = np.flatnonzero(tall.max(axis=0) > 0)
    assert content_columns.tolist() == list(range(15, 25))


def test_center_crop_fills_the_square_and_keeps_the_centre() -> None:
    image = np.zeros((40, 80), np.float32)
    image[:, 20:60] = 1.0  # central square
    out = resize_image(image, 20, "center_crop")
    assert out.shape == (20, 20)
    np.testing.assert_allclose(out[:, 1:-1], 1.0, atol=1e-6)


def test_plain_resize_stretches() -> None:
    image = np.zeros((30, 90), np.float32)
    image[:, 45:] = 1.0
    out = resize_image(image, 30, "resize")
    assert out.shape == (30, 30)
    assert out[:, :14].max() == 0.0 and out[:, 16:].min() == pytest.approx(1.0)


def test_downscaling_is_antialiased() -> None:
    checker = (np.indices((256, 256)).sum(axis=0) % 2).astype(np.float32)
    out = resize_image(checker, 32, "resize")
    np.testing.assert_allclose(out, 0.5, atol=0.05)  # nearest-neighbour would give 0 or 1


def test_resize_rejects_bad_mode_and_size() -> None:
    with pytest.raises(ConfigError, match="stretch"):
        resize_image(np.ones((4, 4)), 8, "stretch")
    with pytest.raises(ConfigError, match="size=0"):
        resize_image(np.ones((4, 4)), 0)


def test_preprocess_validates_its_fields() -> None:
    with pytest.raises(ConfigError, match=r"Preprocess.resize='zoom'"):
        Preprocess(resize="zoom")
    with pytest.raises(ConfigError, match=r"Preprocess.size=-1"):
        Preprocess(size=-1)
    with pytest.raises(ConfigError, match=r"Preprocess\.frame"):
        Preprocess(frame="last")


def test_load_preprocessed_is_uint8_square(tmp_path: Path) -> None:
    path = save_image(tmp_path / "a.png", ramp(30, 60))
    out = load_preprocessed(path, Preprocess(size=24, resize="letterbox"))
    assert out.dtype == np.uint8 and out.shape == (24, 24)
    expected = to_uint8(resize_image(read_image(path), 24, "letterbox"))
    np.testing.assert_array_equal(out, expected)
    assert out[0].max() == 0 and out[12, -1] > 240
