"""Make a small folder of "your own" images: class sub-folders of PNG files, as a clinic's export might be.

    python examples/my_data/make_images.py my_images

writes ``my_images/normal/*.png`` and ``my_images/scoliosis/*.png`` (SynthSpine radiographs, 128 px), named
``<patient>_<k>.png`` since a patient may have several films; use your own folder of class sub-folders
instead. The images are made here, never committed.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def make_images(out: Path, n_images: int = 160) -> Path:
    """Write ``n_images`` PNGs into ``out/<class>/``; returns ``out``."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            sys.executable, "-m", "sdc_bench", "data", "synth", "--out", scratch, "--n", str(n_images),
            "--size", "128", "--classes", "normal,scoliosis", "--modalities", "xray", "--seed", "7",
        ]  # fmt: skip
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        with open(Path(scratch) / "manifest.csv", newline="") as handle:
            for k, row in enumerate(csv.DictReader(handle)):
                target = out / row["label"] / f"{row['patient_id']}_{k}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(scratch) / row["path"], target)
    return out


if __name__ == "__main__":
    folder = make_images(Path(sys.argv[1] if len(sys.argv) > 1 else "my_images"))
    print(f"wrote {sum(1 for _ in folder.rglob('*.png'))} images to {folder}/<class>/")
