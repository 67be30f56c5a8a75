"""Miniature copies of public datasets in their published layouts, written by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# patient -> per disc: (Pfirrmann grade, Modic type, spondylolisthesis)
SPIDER_FOUR: dict[str, list[tuple[int, int, int]]] = {
    "1": [(2, 0, 0), (3, 0, 1), (5, 0, 0)],  # severe, spondylolisthesis, no Modic
    "2": [(1, 0, 0), (2, 2, 0), (3, 0, 0)],  # mild, none, Modic
    "3": [(3, 0, 0), (4, 0, 0), (2, 0, 0)],  # max 4: dropped from degeneration
    "4": [(2, 1, 1), (5, 0, 0), (1, 0, 0)],  # severe, spondylolisthesis, Modic
}

SPIDER_HEADER = (
    "Patient,IVD label,Modic,UP endplate,LOW endplate,Spondylolisthesis,Disc herniation,Disc narrowing,"
    "Disc bulging,Pfirrman grade"
)


def write_spider(
    root: Path, patients: dict[str, list[tuple[int, int, int]]] = SPIDER_FOUR, side: int = 16
) -> Path:
    """``root/images/<id>_t1.mha``, ``_t2.mha`` (and ``_t2_SPACE.mha`` for patient 1) plus the gradings CSV."""
    import SimpleITK as sitk

    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = [SPIDER_HEADER]
    for patient, discs in patients.items():
        sequences = ["t1", "t2"] + (["t2_SPACE"] if patient == "1" else [])
        for sequence in sequences:
            volume = sitk.GetImageFromArray((rng.random((side, side, 3)) * 1000).astype(np.int16))
            volume.SetDirection((0, 0, 1, 1, 0, 0, 0, -1, 0))  # sagittal slices stored first, as SPIDER's
            sitk.WriteImage(volume, str(images / f"{patient}_{sequence}.mha"))
        for level, (pfirrmann, modic, spondylolisthesis) in enumerate(discs, start=1):
            lines.append(f"{patient},{level},{modic},0,0,{spondylolisthesis},0,0,0,{pfirrmann}")
    (root / "radiological_gradings.csv").write_text("\n".join(lines) + "\n")
    return root


def fraiwan_zip(folder: Path, per_class: int = 2) -> bytes:
    """A miniature Fraiwan archive: ``Spine/Normal``, ``Spine/Scoliosis``, ``Spine/Spondylolisthesis`` JPEGs."""
    import io
    import zipfile

    from PIL import Image

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index, name in enumerate(("Normal", "Scoliosis", "Spondylolisthesis")):
            for n in range(per_class):
                image = io.BytesIO()
                Image.fromarray(np.full((16, 16), 40 * index + 10 * n, np.uint8)).save(image, "JPEG")
                archive.writestr(f"Spine/{name}/{name[:3].lower()}_{n}.jpg", image.getvalue())
    return buffer.getvalue()


# training film -> its three Cobb angles
AASCE_FILMS: dict[str, tuple[float, float, float]] = {
    "sunhl-1th-01.jpg": (5.0, 8.5, 3.0),  # normal
    "sunhl-1th-02.jpg": (12.0, 24.9, 7.0),  # mild
    "sunhl-1th-03.jpg": (25.0, 18.0, 30.5),  # moderate
    "sunhl-1th-04.jpg": (44.2, 61.0, 20.0),  # severe
}


def write_aasce(root: Path, films: dict[str, tuple[float, float, float]] = AASCE_FILMS) -> Path:
    """``data/training/*.jpg`` and ``labels/training/{filenames,angles}.csv``, one test film beside them."""
    from PIL import Image

    for split, entries in (("training", films), ("test", {"test-01.jpg": (41.0, 10.0, 2.0)})):
        (root / "data" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for index, name in enumerate(entries):
            Image.fromarray(np.full((32, 16), 30 * index, np.uint8)).save(root / "data" / split / name)
        (root / "labels" / split / "filenames.csv").write_text("".join(f"{name}\n" for name in entries))
        (root / "labels" / split / "angles.csv").write_text(
            "".join(",".join(f"{a}" for a in angles) + "\n" for angles in entries.values())
        )
    return root


def write_dicom_file(path: Path, pixels: np.ndarray, modality: str = "DX", **tags: object) -> Path:
    """An uncompressed 16-bit monochrome DICOM with ``modality`` and any further ``tags`` (keyword -> value)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.asarray(pixels, dtype=np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = modality
    dataset.Rows, dataset.Columns = pixels.shape
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 0
    for keyword, value in tags.items():
        setattr(dataset, keyword, value)
    dataset.PixelData = np.ascontiguousarray(pixels).tobytes()
    dataset.save_as(path, enforce_file_format=True)
    return path


# split -> image id -> (study id, its rows' lesion types); "orphan" has a DICOM but no row, "lost" a row only
VINDR_IMAGES: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "train": {
        "img01": ("study1", ("No finding",)),
        "img02": ("study1", ("Osteophytes", "Disc space narrowing", "Osteophytes")),
        "img03": ("study2", ("Surgical implant",)),
        "img04": ("study3", ("No finding",)),
        "lost": ("study9", ("Osteophytes",)),
    },
    "test": {
        "img05": ("study4", ("Spondylolysthesis",)),
        "img06": ("study4", ("No finding",)),
    },
}
VINDR_HEADER = "image_id,study_id,series_id,rad_id,lesion_type,xmin,ymin,xmax,ymax"


def write_vindr(root: Path, images: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = VINDR_IMAGES) -> Path:
    """``{train,test}_images/<id>.dicom`` and ``annotations/{train,test}.csv`` (one row per box)."""
    value = 0
    for split, entries in images.items():
        lines = [VINDR_HEADER]
        for image_id, (study, lesions) in entries.items():
            for lesion in lesions:
                box = ",,,," if lesion == "No finding" else "10.0,12.0,40.5,60.0"
                lines.append(f"{image_id},{study},series-{study},rad1,{lesion},{box}")
            if image_id != "lost":
                value += 500
                write_dicom_file(root / f"{split}_images" / f"{image_id}.dicom", np.full((24, 16), value))
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        (root / "annotations" / f"{split}.csv").write_text("\n".join(lines) + "\n")
    write_dicom_file(root / "train_images" / "orphan.dicom", np.full((24, 16), 9000))
    return root


_RSNA_LEVELS = ("l1_l2", "l2_l3", "l3_l4", "l4_l5", "l5_s1")
_RSNA_CONDITIONS = (
    "spinal_canal_stenosis",
    "left_neural_foraminal_narrowing",
    "right_neural_foraminal_narrowing",
    "left_subarticular_stenosis",
    "right_subarticular_stenosis",
)
# study -> (spinal canal stenosis per level, L1/L2 to L5/S1; its series: id -> description)
RSNA_STUDIES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "4003253": (  # severe at L4/L5; a Sagittal T1 beside the T2/STIR
        ("Normal/Mild", "Normal/Mild", "Moderate", "Severe", "Normal/Mild"),
        {"702807833": "Sagittal T2/STIR", "1054713880": "Sagittal T1", "2448190387": "Axial T2"},
    ),
    "4646740": (("Normal/Mild",) * 5, {"3486248476": "Sagittal T2/STIR", "3666319702": "Axial T2"}),
    "7143189": (  # moderate at most
        ("Normal/Mild", "Normal/Mild", "Moderate", "Normal/Mild", "Normal/Mild"),
        {"132939515": "Sagittal T2/STIR"},
    ),
    "8785691": (("Normal/Mild",) * 4 + ("Severe",), {"481125819": "Sagittal T1"}),  # no T2/STIR: dropped
    "8902453": (
        ("Normal/Mild", "", "Normal/Mild", "Normal/Mild", "Normal/Mild"),
        {"1000": "Sagittal T2/STIR"},
    ),
}


def write_rsna(
    root: Path, studies: dict[str, tuple[tuple[str, ...], dict[str, str]]] = RSNA_STUDIES, slices: int = 5
) -> Path:
    """``train.csv``, ``train_series_descriptions.csv`` and ``train_images/<study>/<series>/<n>.dcm``."""
    from pydicom.uid import generate_uid

    header = ["study_id"] + [f"{c}_{level}" for c in _RSNA_CONDITIONS for level in _RSNA_LEVELS]
    lines = [",".join(header)]
    series_lines = ["study_id,series_id,series_description"]
    value = 0
    for study, (canal, series) in studies.items():
        lines.append(",".join([study, *canal, *(["Normal/Mild"] * 20)]))
        for series_id, description in series.items():
            series_lines.append(f"{study},{series_id},{description}")
            uid = generate_uid()
            for number in range(1, slices + 1):
                value += 100
                pixels = np.full((20, 16), value)
                pixels[:, number] += 1000  # a bright column that says which slice this is
                write_dicom_file(
                    root / "train_images" / study / series_id / f"{number}.dcm",
                    pixels,
                    modality="MR",
                    SeriesInstanceUID=uid,
                    SeriesDescription=description,
                    InstanceNumber=number,
                    PatientID=study,
                )
    (root / "train.csv").write_text("\n".join(lines) + "\n")
    (root / "train_series_descriptions.csv").write_text("\n".join(series_lines) + "\n")
    return root
