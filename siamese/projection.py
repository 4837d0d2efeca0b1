"""2-D maps of embeddings for people to look at."""
from __future__ import annotations

import torch


class PCA2:
    """The two principal axes of a set of embeddings, to project it and new points onto.

    PCA fixes each axis only up to its sign; `align_to` flips the axes to agree with an earlier
    projection, so a map refreshed during training does not jump to its mirror image.
    """

    def __init__(self, emb: torch.Tensor, align_to: "PCA2 | None" = None):
        x = emb.detach().float().cpu()  # (N, D)
        self.mean = x.mean(0)  # (D,)
        # Top-2 right singular vectors of the centred data: (D, 2)
        _, _, v = torch.linalg.svd(x - self.mean, full_matrices=False)
        axes = v[:2].T.clone()
        if axes.shape[1] < 2:  # fewer than 2 points: pad with a zero axis
            axes = torch.cat([axes, torch.zeros(x.shape[1], 2 - axes.shape[1])], 1)
        if align_to is not None and align_to.axes.shape == axes.shape:
            signs = torch.sign((axes * align_to.axes).sum(0))  # (2,)
            axes = axes * torch.where(signs == 0, torch.ones_like(signs), signs)
        self.axes = axes

    def __call__(self, emb: torch.Tensor) -> torch.Tensor:
        """(M, D) -> (M, 2)."""
        return (emb.detach().float().cpu() - self.mean) @ self.axes
