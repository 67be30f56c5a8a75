"""Loss modules of the imbalance strategies: logits (B, K), soft or one-hot float targets (B, K) -> scalar.

Private to :mod:`sdc_bench.zoo.imbalance`, which re-exports them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FocalLoss", "SoftTargetCrossEntropy"]


def _check_logits_targets(logits: Tensor, targets: Tensor) -> None:
    if logits.ndim != 2 or targets.shape != logits.shape:
        raise ValueError(
            f"losses expect logits and targets of the same (B, K) shape, got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}; one-hot encode integer labels first"
        )


class SoftTargetCrossEntropy(nn.Module):
    """Cross-entropy for soft or one-hot targets, optionally class-weighted and with logit offsets.

    ``loss_i = -sum_k w_k t_ik log softmax(z_i + offset)_k``, averaged as PyTorch does for weighted
    cross-entropy: divided by ``sum_i sum_k w_k t_ik`` (the batch size when unweighted), so on one-hot
    targets it equals ``F.cross_entropy(z + offset, y, weight=w)``.

    Parameters
    ----------
    class_weights : Tensor, optional
        ``(K,)`` per-class weights.
    logit_offsets : Tensor, optional
        ``(K,)`` added to the logits before the softmax (training loss only; logit adjustment).
    """

    def __init__(self, class_weights: Tensor | None = None, logit_offsets: Tensor | None = None) -> None:
        super().__init__()
        self.class_weights: Tensor | None
        self.logit_offsets: Tensor | None
        self.register_buffer("class_weights", class_weights)
        self.register_buffer("logit_offsets", logit_offsets)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        _check_logits_targets(logits, targets)
        if self.logit_offsets is not None:
            logits = logits + self.logit_offsets.to(logits.device, logits.dtype)
        log_probs = F.log_softmax(logits, dim=1)
        targets = targets.to(log_probs.dtype)
        if self.class_weights is None:
            return -(targets * log_probs).sum(dim=1).mean()
        weighted = targets * self.class_weights.to(log_probs.device, log_probs.dtype)
        return -(weighted * log_probs).sum() / weighted.sum().clamp_min(torch.finfo(log_probs.dtype).tiny)


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017) for soft or one-hot targets, averaged over the batch.

    ``loss_i = -sum_k a_k t_ik (1 - p_ik)^gamma log p_ik``; with ``gamma = 0`` and no ``alpha`` this is
    the cross-entropy.

    Parameters
    ----------
    gamma : float
        Focusing parameter (>= 0).
    alpha : Tensor, optional
        ``(K,)`` per-class weights.
    """

    def __init__(self, gamma: float = 2.0, alpha: Tensor | None = None) -> None:
        super().__init__()
        self.gamma = float(gamma)
        self.alpha: Tensor | None
        self.register_buffer("alpha", alpha)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        _check_logits_targets(logits, targets)
        log_probs = F.log_softmax(logits, dim=1)
        modulating = (1.0 - log_probs.exp()).clamp_min(0.0) ** self.gamma
        per_class = targets.to(log_probs.dtype) * modulating * log_probs
        if self.alpha is not None:
            per_class = per_class * self.alpha.to(log_probs.device, log_probs.dtype)
        return -per_class.sum(dim=1).mean()

    def extra_repr(self) -> str:
        return f"gamma={self.gamma:g}"
