"""The conformance kit: the checks every registry entry passes, for the package's entries and for plugins'.

In the spirit of scikit-learn's ``check_estimator``: a plugin author writes ``check_method("my_method")``
(or ``check_backbone``, ``check_augmentation``, ``check_imbalance``) in a test, and the package's own
registry tests call the same functions over its own entries. Each check runs on tiny data in a second or
two on a CPU and raises :class:`ConformanceError` with a message that says what is wrong and what to fix.
:mod:`sdc_bench.plugins` runs the quick ones on every entry a plugin registers, so a broken entry stops a
run before any work.

>>> check_registry("methods")
>>> check_imbalance("weighted_ce")
"""

from __future__ import annotations

import inspect
import math
from dataclasses import replace
from typing import Any

import numpy as np

from sdc_bench.core.errors import SdcBenchError, UnknownNameError
from sdc_bench.zoo.catalog import registry

__all__ = [
    "ConformanceError",
    "check_augmentation",
    "check_backbone",
    "check_feature_extractor",
    "check_imbalance",
    "check_method",
    "check_method_kind",
    "check_registry",
]


class ConformanceError(AssertionError):
    """An entry breaks a contract of its registry; the message names the entry, the rule and the fix."""


def _require(condition: bool, entry: str, problem: str, fix: str) -> None:
    if not condition:
        raise ConformanceError(f"{entry}: {problem}; {fix}")


def check_registry(cli_name: str) -> None:
    """Every entry of registry ``cli_name`` (``sdc-bench list <cli_name>``) has a clean name and a one-line
    description, is found under its name, and an unknown name fails pointing at ``sdc-bench list``."""
    reg = registry(cli_name)
    _require(
        reg.cli_name == cli_name, f"registry {cli_name}", f"lists as {reg.cli_name!r}", "fix its cli_name"
    )
    for spec in reg.specs():
        _check_entry_metadata(reg.kind, spec)
        _require(
            reg.get(spec.name) is spec, f"{reg.kind} {spec.name!r}", "not found under its name", "re-add it"
        )
    try:
        reg.get("no_such_entry")
    except UnknownNameError as error:
        _require(
            f"`sdc-bench list {cli_name}`" in str(error),
            f"registry {cli_name}",
            "an unknown name does not point at its `sdc-bench list`",
            "keep Registry.get's message",
        )


def _check_entry_metadata(kind: str, spec: Any) -> None:
    entry = f"{kind} {spec.name!r}"
    _require(
        bool(spec.name) and spec.name == spec.name.strip() and " " not in spec.name,
        entry,
        "the name is empty or has spaces",
        "name it like a Python identifier, e.g. my_method",
    )
    _require(
        bool(spec.description) and "\n" not in spec.description,
        entry,
        "no one-line description",
        "give description='what it is, in one line'",
    )


# ---------------------------------------------------------------- backbones


def check_backbone(name: str, *, img_size: int = 32, num_classes: int = 3) -> None:
    """A registered backbone builds without weights for 1 and 3 channels and keeps the fit loop's contract.

    The contract (:class:`~sdc_bench.zoo.backbones.BackboneSpec`): ``(N, C, H, W)`` floats in, finite
    logits ``(N, num_classes)`` out, square and non-square; ``get_classifier()`` is a sub-module holding
    parameters of the model; the normalisation has one mean and std per channel.
    """
    import torch
    from torch import nn

    from sdc_bench.zoo.backbones import BACKBONES, create_backbone

    spec = BACKBONES.get(name)
    entry = f"backbone {name!r}"
    _check_entry_metadata("backbone", spec)
    for in_chans in (1, 3):
        torch.manual_seed(0)
        try:
            built = create_backbone(name, num_classes=num_classes, in_chans=in_chans, img_size=img_size)
        except SdcBenchError as error:
            raise ConformanceError(f"{entry}: cannot be built ({error})") from None
        model = built.model
        _require(
            isinstance(model, nn.Module), entry, "the factory did not return a torch.nn.Module", "return one"
        )
        model.eval()
        for rows, columns in ((img_size, img_size), (img_size, img_size + 16)):
            if spec.fixed_size and (rows, columns) != (img_size, img_size):
                continue
            with torch.no_grad():
                out = model(torch.rand(2, in_chans, rows, columns))
            _require(
                isinstance(out, torch.Tensor) and tuple(out.shape) == (2, num_classes),
                entry,
                f"a batch (2, {in_chans}, {rows}, {columns}) gave {tuple(getattr(out, 'shape', ()))}, "
                f"not logits (2, {num_classes})",
                "end the network in a head of num_classes outputs and return its logits",
            )
            _require(
                bool(torch.isfinite(out).all()), entry, "the logits are not finite", "check the forward pass"
            )
        classifier = getattr(model, "get_classifier", None)
        _require(
            callable(classifier),
            entry,
            "no get_classifier()",
            "add get_classifier() returning the head module (the head warm-up trains only it)",
        )
        assert callable(classifier)
        head = classifier()
        own = {id(p) for p in model.parameters()}
        head_params = list(head.parameters()) if isinstance(head, nn.Module) else []
        _require(
            bool(head_params) and all(id(p) in own for p in head_params),
            entry,
            "get_classifier() is not a sub-module with parameters of the model",
            "return the model's own head layer (e.g. self.head)",
        )
        _require(
            len(built.mean) == len(built.std) == in_chans,
            entry,
            f"{len(built.mean)} means for {in_chans} channels",
            "give mean and std of 3 (RGB) values",
        )


# ---------------------------------------------------------------- augmentations


def _images(batch: int = 8, channels: int = 1, rows: int = 32, columns: int = 32, seed: int = 0) -> Any:
    import torch

    return torch.rand(batch, channels, rows, columns, generator=torch.Generator().manual_seed(seed))


def _one_hot(batch: int = 8, classes: int = 8) -> Any:
    import torch

    return torch.eye(classes)[torch.arange(batch) % classes]


def check_augmentation(name: str, *, device: str = "cpu") -> None:
    """A registered policy keeps shape, dtype, device and the [0, 1] range, returns valid soft targets, draws
    per sample and only from its generator (same seed, same batch; another seed, another batch; the global
    RNG untouched), is the identity at strength 0 and changes the batch at full strength."""
    import torch

    from sdc_bench.zoo.augment import AUGMENTATIONS, build_augmentation

    spec = AUGMENTATIONS.get(name)
    entry = f"augmentation {name!r}"
    _check_entry_metadata("augmentation", spec)
    for key in ("mixes_labels", "geometric", "photometric"):
        _require(
            isinstance(getattr(spec, key), bool),
            entry,
            f"{key} is not true/false",
            f"set {key}=True or False",
        )
    _require(
        build_augmentation(name).mixes_labels == spec.mixes_labels,
        entry,
        "the policy's mixes_labels differs from its registry entry",
        "make them agree",
    )

    def run(policy: Any, images: Any, targets: Any, seed: int) -> tuple[Any, Any]:
        return policy(images, targets, torch.Generator(device=images.device).manual_seed(seed))  # type: ignore[no-any-return]

    for channels in (1, 3):
        images = _images(channels=channels).to(device)
        targets = torch.softmax(torch.randn(8, 3, generator=torch.Generator().manual_seed(1)), 1).to(device)
        out, out_targets = run(build_augmentation(name), images, targets, 0)
        _require(
            out.shape == images.shape and out.dtype == images.dtype and out.device == images.device,
            entry,
            f"a {tuple(images.shape)} {images.dtype} batch came back {tuple(out.shape)} {out.dtype} on {out.device}",
            "return images of the input's shape, dtype and device",
        )
        _require(
            bool(torch.isfinite(out).all()) and float(out.min()) >= 0.0 and float(out.max()) <= 1.0,
            entry,
            "images left the [0, 1] range",
            "clamp the output to [0, 1]",
        )
        _require(
            out_targets.shape == targets.shape
            and bool((out_targets >= 0).all())
            and bool(torch.allclose(out_targets.sum(1), torch.ones(8, device=device))),
            entry,
            "targets are not (N, K) probabilities summing to 1",
            "return the targets unchanged, or mixed with weights summing to 1",
        )
    wide = _images(batch=4, rows=24, columns=40)
    out, _ = run(build_augmentation(name, allow_hflip=True), wide, _one_hot(4, 2), 0)
    _require(out.shape == wide.shape, entry, "a non-square batch changed shape", "keep (H, W) as given")
    half, _ = run(build_augmentation(name), _images().to(torch.bfloat16), _one_hot(), 0)
    _require(
        half.dtype == torch.bfloat16, entry, "bfloat16 images came back as another dtype", "keep the dtype"
    )

    images, targets = _images(), _one_hot()
    first = run(build_augmentation(name), images, targets, 7)
    again = run(build_augmentation(name), images, targets, 7)
    _require(
        torch.equal(first[0], again[0]) and torch.equal(first[1], again[1]),
        entry,
        "the same generator seed gave different batches",
        "draw every random number from the `generator` argument, never from torch's global RNG",
    )
    before = torch.get_rng_state()
    run(build_augmentation(name, allow_hflip=True), images, targets, 0)
    _require(
        torch.equal(before, torch.get_rng_state()),
        entry,
        "it used torch's global random generator",
        "draw every random number from the `generator` argument (e.g. torch.rand(..., generator=generator))",
    )
    out, out_targets = run(build_augmentation(name, strength=0.0), images, targets, 0)
    _require(
        bool(torch.allclose(out, images)) and bool(torch.allclose(out_targets, targets)),
        entry,
        "strength 0 changed the batch",
        "scale every magnitude by strength, so 0 is the identity",
    )
    if name == "none":
        return
    other = run(build_augmentation(name), images, targets, 8)
    _require(
        not (torch.equal(first[0], other[0]) and torch.equal(first[1], other[1])),
        entry,
        "generator seeds 7 and 8 gave the same batch: the policy ignores its generator",
        "draw every random number from the `generator` argument",
    )
    _require(
        not (torch.allclose(first[0], images) and torch.allclose(first[1], targets)),
        entry,
        "at full strength the batch came back unchanged",
        "apply the policy when strength > 0",
    )
    same = _images(batch=1).expand(8, -1, -1, -1).contiguous()
    out, out_targets = run(build_augmentation(name), same, _one_hot(), 3)
    rows = torch.cat([out.flatten(1), out_targets], dim=1)
    _require(
        not torch.allclose(rows, rows[:1].expand_as(rows)),
        entry,
        "all samples of a batch got the same draw",
        "draw parameters per sample (shape (N, ...)), not once per batch",
    )


# ---------------------------------------------------------------- imbalance strategies


def check_imbalance(name: str) -> None:
    """A registered strategy matches its registry entry, gives a finite differentiable loss (also with a class
    missing from the fold), valid and reproducible sample indices, and resampled features of the same width."""
    import torch
    import torch.nn.functional as F

    from sdc_bench.zoo.imbalance import IMBALANCE, ImbalanceStrategy, build_imbalance

    spec = IMBALANCE.get(name)
    entry = f"imbalance strategy {name!r}"
    _check_entry_metadata("imbalance strategy", spec)
    strategy = build_imbalance(name)
    _require(
        isinstance(strategy, ImbalanceStrategy),
        entry,
        "the factory did not return an ImbalanceStrategy",
        "subclass ImbalanceStrategy",
    )
    _require(
        set(spec.hooks) <= {"loss", "sampler", "features"},
        entry,
        f"unknown hooks {spec.hooks}",
        "use loss, sampler or features",
    )
    _require(
        tuple(spec.hooks) == strategy.hooks,
        entry,
        "the entry's hooks differ from the strategy's",
        "make them agree",
    )
    _require(
        strategy.name == name,
        entry,
        f"the strategy calls itself {strategy.name!r}",
        "give it the registry name",
    )
    defaults = {p.name: p.default for p in inspect.signature(spec.factory).parameters.values()}
    _require(
        build_imbalance(name, **defaults) == strategy,
        entry,
        "its defaults build another strategy",
        "make the factory's defaults the strategy's",
    )

    generator = torch.Generator().manual_seed(0)
    for counts in (np.array([50, 30, 5]), np.array([40, 0, 5])):
        criterion = strategy.loss(counts)
        _require(
            isinstance(criterion, torch.nn.Module),
            entry,
            "loss() is not a torch.nn.Module",
            "return a module",
        )
        for targets in (
            torch.softmax(torch.randn(6, 3, generator=generator), 1),
            F.one_hot(torch.arange(6) % 3, 3).float(),
        ):
            logits = torch.randn(6, 3, generator=generator).requires_grad_(True)
            loss = criterion(logits, targets)
            _require(
                loss.ndim == 0 and bool(torch.isfinite(loss)),
                entry,
                f"the loss on class counts {counts.tolist()} is not a finite scalar",
                "reduce to a mean and guard empty classes",
            )
            loss.backward()
            _require(
                logits.grad is not None
                and bool(torch.isfinite(logits.grad).all())
                and float(logits.grad.abs().sum()) > 0,
                entry,
                "the loss gives no finite gradient to the logits",
                "compute it from the logits with torch operations",
            )
    labels = np.array([0] * 90 + [1] * 10)
    indices = strategy.sample_indices(labels, np.random.default_rng(0))
    _require(
        indices.ndim == 1 and indices.size > 0 and np.issubdtype(indices.dtype, np.integer)
        and indices.min() >= 0 and indices.max() < labels.size,
        entry,
        "sample_indices() gave no valid 1-D integer indices into the labels",
        "return indices in [0, len(labels))",
    )  # fmt: skip
    _require(
        np.array_equal(indices, strategy.sample_indices(labels, np.random.default_rng(0))),
        entry,
        "sample_indices() differs under the same generator",
        "draw only from the `rng` argument",
    )
    named = strategy.sample_indices(np.where(labels == 1, "scoliosis", "normal"), np.random.default_rng(0))
    _require(
        named.min() >= 0 and named.max() < labels.size,
        entry,
        "sample_indices() fails on class names",
        "accept any label values",
    )
    features = np.random.default_rng(0).normal(size=(labels.size, 5))
    resampled, new_labels = strategy.resample_features(features, labels, seed=3)
    again, again_labels = strategy.resample_features(features, labels, seed=3)
    _require(
        resampled.ndim == 2 and resampled.shape[1] == 5 and resampled.shape[0] == new_labels.shape[0]
        and set(np.unique(new_labels)) == {0, 1},
        entry,
        "resample_features() changed the feature width or lost a class",
        "return (features (M, D), labels (M,)) with every class",
    )  # fmt: skip
    _require(
        np.array_equal(resampled, again) and np.array_equal(new_labels, again_labels),
        entry,
        "resample_features() differs under the same seed",
        "draw only from the `seed` argument",
    )


# ---------------------------------------------------------------- methods, kinds, features


class _Trial:
    """A stand-in for ``optuna.Trial``: each suggestion is the middle of its range."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        value = math.sqrt(low * high) if log else (low + high) / 2
        self.params[name] = value
        return value

    def suggest_int(self, name: str, low: int, high: int) -> int:
        self.params[name] = (low + high) // 2
        return int(self.params[name])


def check_method(name: str, *, backbone: str = "resnet10t", fit: bool = True) -> None:
    """A registered method names a registered kind, augmentation and imbalance strategy; its defaults and
    a search trial's parameters are accepted; with ``fit``, its kind trains it for one epoch on 24 tiny
    images (``backbone`` for a CNN, from random weights: the kit checks the recipe, not the weights) and
    predicts probabilities."""
    from sdc_bench.benchmark.kinds import METHOD_KINDS
    from sdc_bench.zoo.augment import AUGMENTATIONS
    from sdc_bench.zoo.imbalance import IMBALANCE
    from sdc_bench.zoo.methods import METHODS

    method = METHODS.get(name)
    entry = f"method {name!r}"
    _check_entry_metadata("method", method)
    for registry_, value, what in (
        (METHOD_KINDS, method.kind, "kind"),
        (AUGMENTATIONS, method.augment, "augment"),
        (IMBALANCE, method.imbalance, "imbalance"),
    ):
        _require(
            value in registry_,
            entry,
            f"its {what} {value!r} is not registered",
            f"choose one of `sdc-bench list {registry_.cli_name}` or register it first",
        )
    _require(
        method.role in ("proposed", "baseline", "ablation"),
        entry,
        f"role {method.role!r}",
        "use proposed, baseline or ablation",
    )
    try:
        method.params()
        trial = _Trial()
        searched = method.search_space(trial, method)
        method.params(searched)
    except SdcBenchError as error:
        raise ConformanceError(
            f"{entry}: its search space suggests a parameter it does not accept ({error}); add it to defaults"
        ) from None
    if fit:
        short = {key: 1 for key in ("epochs", "head_epochs") if key in method.defaults}
        _fit_tiny(replace(method, pretrained=False), backbone, method.params({**searched, **short}))


def _fit_tiny(method: Any, backbone: str, params: dict[str, Any]) -> None:
    from sdc_bench.benchmark.fit import ArraySet
    from sdc_bench.benchmark.kinds import FitRequest, kind_of
    from sdc_bench.benchmark.suite import Suite, TrainSpec

    entry = f"method {method.name!r}"
    rng = np.random.default_rng(0)
    labels = np.arange(24) % 2
    images = rng.integers(0, 256, size=(24, 32, 32), dtype=np.uint8)
    kind = kind_of(method)
    request = FitRequest(
        method=method,
        backbone=kind.plan_backbone(method, backbone),
        params=params,
        train=ArraySet(images[:16], labels[:16]),
        val=ArraySet(images[16:], labels[16:]),
        seed=0,
        num_classes=2,
        in_chans=1,
        img_size=32,
        suite=Suite(train=TrainSpec(batch_size=8, device="cpu", max_epochs=1)),
        device="cpu",
    )
    fitted = kind.fit(request)
    proba = np.asarray(fitted.predict(images[:5]))
    _require(
        proba.shape == (5, 2)
        and bool(np.isfinite(proba).all())
        and bool(np.allclose(proba.sum(1), 1, atol=1e-4)),
        entry,
        f"predict() gave {proba.shape}, not probabilities (5, 2) summing to 1",
        "return softmax probabilities, one row per image",
    )


def check_method_kind(name: str) -> None:
    """A registered method kind has a name and description and overrides ``fit``."""
    from sdc_bench.benchmark.kinds import METHOD_KINDS, MethodKind

    kind = METHOD_KINDS.get(name)
    entry = f"method kind {name!r}"
    _check_entry_metadata("method kind", kind)
    _require(
        isinstance(kind, MethodKind),
        entry,
        "not a MethodKind",
        "subclass sdc_bench.benchmark.kinds.MethodKind",
    )
    _require(
        type(kind).fit is not MethodKind.fit,
        entry,
        "fit() is not implemented",
        "override fit(request) -> Fitted",
    )


def check_feature_extractor(name: str) -> None:
    """A registered extractor maps uint8 images (N, H, W) to finite float features (N, D), the same each call."""
    from sdc_bench.zoo.features import FEATURES

    spec = FEATURES.get(name)
    entry = f"feature extractor {name!r}"
    _check_entry_metadata("feature extractor", spec)
    images = np.random.default_rng(0).integers(0, 256, size=(3, 32, 32), dtype=np.uint8)
    features = np.asarray(spec.extract(images))
    _require(
        features.ndim == 2 and features.shape[0] == 3,
        entry,
        f"3 images gave features {features.shape}",
        "return (N, D)",
    )
    _require(bool(np.isfinite(features).all()), entry, "features are not finite", "guard divisions")
    _require(
        np.array_equal(features, np.asarray(spec.extract(images))),
        entry,
        "two calls differ",
        "make it deterministic",
    )
