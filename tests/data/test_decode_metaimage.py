"""MetaImage (.mha/.mhd) input: the same slices as NIfTI, the same header-first size guard, one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sdc_bench.core.errors import DataError
from sdc_bench.data.decode import NIFTI_SLICES, Preprocess, metaimage_plane_hw, read_image
from sdc_bench.data.file_info import inspect_file
from sdc_bench.data.slices import read_slices

sitk = pytest.importorskip("SimpleITK")


def _volume(folder: Path, name: str = "vol") -> tuple[Path, Path, Path]:
    """One oblique-free sagittal-ish volume written as .mha, .mhd(+.raw) and .nii.gz by SimpleITK itself."""
    values = np.random.default_rng(3).random((6, 9, 7)).astype(np.float32)  # z, y, x
    image = sitk.GetImageFromArray(values)
    image.SetDirection((0, 0, 1, 1, 0, 0, 0, -1, 0))  # stored axes are not RAS: the reader must reorient
    image.SetSpacing((1.0, 0.5, 3.0))
    paths = (folder / f"{name}.mha", folder / f"{name}.mhd", folder / f"{name}.nii.gz")
    for path in paths:
        sitk.WriteImage(image, str(path))
    return paths


@pytest.mark.parametrize("nifti_slice", NIFTI_SLICES)
def test_metaimage_slices_match_the_same_volume_as_nifti(tmp_path: Path, nifti_slice: str) -> None:
    mha, mhd, nifti = _volume(tmp_path)
    expected = read_image(nifti, nifti_slice=nifti_slice)
    for path in (mha, mhd):
        np.testing.assert_array_equal(read_image(path, nifti_slice=nifti_slice), expected)
        header = sitk.ImageFileReader()
        header.SetFileName(str(path))
        header.ReadImageInformation()
        assert metaimage_plane_hw(header, nifti_slice) == expected.shape  # from the header alone
        assert inspect_file(path).format == "MetaImage"


def test_metaimage_2_5d_slices_match_nifti(tmp_path: Path) -> None:
    mha, _, nifti = _volume(tmp_path)
    preprocess = Preprocess(size=16, slices=3)
    np.testing.assert_array_equal(read_slices(mha, preprocess), read_slices(nifti, preprocess))
    assert inspect_file(mha).hw == read_image(mha).shape  # the audit's size is the decoded slice's


def test_metaimage_2d_is_read_as_rows_by_columns(tmp_path: Path) -> None:
    path = tmp_path / "flat.mha"
    sitk.WriteImage(sitk.GetImageFromArray(np.arange(12, dtype=np.int16).reshape(3, 4)), str(path))
    image = read_image(path)
    assert image.shape == (3, 4) and image[0, 0] == 0.0 and image[-1, -1] == 1.0
    assert inspect_file(path).hw == (3, 4)


def test_metaimage_header_is_checked_before_its_voxels(tmp_path: Path) -> None:
    mha, _, _ = _volume(tmp_path)
    with pytest.raises(DataError, match=r"header claims 7x9x6 voxels .* over data.max_image_pixels=100"):
        read_image(mha, max_pixels=100)
    assert "max_image_pixels" in inspect_file(mha, max_pixels=100).error


def test_broken_metaimage_files_give_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mha"
    garbage.write_bytes(b"this is not a MetaImage header\n" * 4)
    with pytest.raises(DataError, match="not a readable MetaImage") as error:
        read_image(garbage)
    assert "\n" not in str(error.value)
    _, mhd, _ = _volume(tmp_path, "lonely")
    (tmp_path / "lonely.raw").unlink()
    with pytest.raises(DataError, match=r"lonely.mhd: .*MetaImage") as error:
        read_image(mhd)
    assert "\n" not in str(error.value)
    assert inspect_file(garbage).error
