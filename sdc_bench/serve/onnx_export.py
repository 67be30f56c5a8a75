"""``export --onnx``: one ``models/<member>.onnx`` per member, checked against PyTorch on the run's own images.

The ONNX graph takes the normalised float batch ``(N, 1, size, size)`` and returns logits; preprocessing
(decode, resize, ``/255``, mean/std) stays in ``package.json``. The check runs both on real images of the
run (``samples.npz``: a few per class) and fails in one line when a probability differs by more than 1e-4.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from sdc_bench.core.errors import ConfigError, ModelError
from sdc_bench.serve.package import ModelPackage, as_batch, input_shape, member_proba
from sdc_bench.zoo.augment import normalize, to_float

__all__ = ["ONNX_TOLERANCE", "check_onnx", "export_onnx"]

ONNX_TOLERANCE = 1e-4


def _real_images(run_dir: Path, shape: tuple[int, ...]) -> np.ndarray:
    path = run_dir / "samples.npz"
    if not path.is_file():
        raise ModelError(f"{path}: the run's sample images are missing; --onnx checks the graph on them")
    with np.load(path, allow_pickle=False) as samples:
        images = np.asarray(samples["images"])
    if images.shape[1:] != shape:
        raise ModelError(
            f"{path}: sample images of shape {images.shape} do not match the input shape {shape}"
        )
    return images


def _onnx_proba(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"images": x.astype(np.float32)})[0]
    proba = torch.softmax(torch.from_numpy(logits).float(), dim=1).double().numpy()
    return proba / proba.sum(axis=1, keepdims=True)


def check_onnx(path: Path, package: ModelPackage, member: str, images: np.ndarray) -> float:
    """Largest absolute probability difference between the ONNX graph and the PyTorch member."""
    spec = package.info["input"]
    model = package.member(member).model
    expected = member_proba(model, images, spec["mean"], spec["std"])
    x = normalize(to_float(as_batch(images)), spec["mean"], spec["std"]).numpy()
    difference = float(np.abs(_onnx_proba(path, x) - expected).max())
    if difference > ONNX_TOLERANCE:
        raise ModelError(
            f"{path}: ONNX probabilities differ from PyTorch by {difference:.2e} (> {ONNX_TOLERANCE:g}) on the run's images"
        )
    return difference


def export_onnx(package: ModelPackage, run_dir: Path) -> dict[str, Any]:
    """Write and check one ONNX file per member; returns the package.json ``onnx`` block."""
    try:
        import onnx  # noqa: F401  (torch.onnx.export needs it)
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ConfigError("--onnx needs onnx and onnxruntime: pip install 'sdc-bench[export]'") from None
    shape = input_shape(package.info["input"])
    images = _real_images(run_dir, shape)
    files: dict[str, Any] = {}
    for member in package.members:
        path = package.root / "models" / f"{member.name}.onnx"
        example = torch.zeros(2, int(package.info["backbone"]["in_chans"]), *shape[-2:])
        torch.onnx.export(
            member.model.cpu().eval(),
            (example,),
            str(path),
            input_names=["images"],
            output_names=["logits"],
            dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
        files[member.name] = {
            "file": f"models/{member.name}.onnx",
            "max_abs_difference": check_onnx(path, package, member.name, images),
        }
    return {
        "input": "float32 (N, channels, H, W), already scaled and normalised",
        "output": "logits",
        "members": files,
        "tolerance": ONNX_TOLERANCE,
    }
