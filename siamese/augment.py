"""Training distortions beyond the blog's small jitter (issue 31: a symbols model learns
Omniglot's few thousand drawings by heart within minutes, so it needs more varied ones).

`distort` draws, for every image of a batch, a random affine map (rotation, overall scale,
a stretch of one axis against the other, shear, shift: the distortions of Koch, Zemel &
Salakhutdinov 2015) and optionally a stroke-width change (a blend towards the image's 3x3
dilation or erosion). With no stretch, shear or stroke it is `data.random_affine` exactly,
drawing the same random numbers, so the default training is unchanged.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .data import random_affine


def stroke_width(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Thicker or thinner strokes: x (N, 1, H, W) in [0, 1], t (N,) in [-1, 1] -> x blended
    a share t of the way towards its 3x3 dilation (t > 0) or -t of the way towards its 3x3
    erosion (t < 0). t = 0 leaves an image as it is."""
    dilated = F.max_pool2d(x, 3, stride=1, padding=1)
    eroded = -F.max_pool2d(-x, 3, stride=1, padding=1)
    t = t.to(x.dtype).view(-1, 1, 1, 1)
    return x + torch.where(t >= 0, t * (dilated - x), -t * (eroded - x))


def distort(x: torch.Tensor, generator: torch.Generator | None = None, *, degrees: float = 10.0,
            scale: float = 0.1, stretch: float = 0.0, shear: float = 0.0, shift: float = 2.0,
            stroke: float = 0.0, rows: tuple[int, int] | None = None) -> torch.Tensor:
    """A batch (N, 1, 28, 28) in [0, 1], each image distorted at random, on its device.

    Each parameter is the half-width of a uniform draw: rotation by up to `degrees`; the image
    scaled by 1 +- `scale`, then its x axis by a further 1 +- `stretch` and its y axis by the
    inverse (Koch et al.'s independent x and y scales, less the overall one); x sheared by up
    to `shear` times y (Koch: 0.3); shifted by up to `shift` pixels each way; strokes made up
    to `stroke` of the way to their 3x3 dilation or erosion (`stroke_width`).

    rows=(start, batch): x is rows start..start+N of a batch of `batch` images; the draws are
    made for the whole batch and x gets its rows' share, as in `data.random_affine`, so each
    data-parallel rank distorts its shard as one process distorts the batch."""
    n = x.shape[0]
    start, batch = rows or (0, n)
    if stretch == 0 and shear == 0:
        x = random_affine(x, generator, degrees=degrees, scale=scale, shift=shift, rows=rows)
    else:
        r = torch.rand(batch, 6, device=x.device, generator=generator)[start : start + n] * 2 - 1  # (N, 6)
        ang = r[:, 0] * math.radians(degrees)
        s = 1.0 + r[:, 1] * scale
        k = 1.0 + r[:, 2] * stretch
        sx, sy = s * k, s / k
        sh = r[:, 3] * shear
        tx, ty = r[:, 4] * shift / 14.0, r[:, 5] * shift / 14.0  # affine_grid works in [-1, 1]
        cos, sin = torch.cos(ang), torch.sin(ang)
        # The image is mapped by A = rotation @ shear @ diag(sx, sy); affine_grid wants the map
        # from output to input coordinates, A's inverse: diag(1/sx, 1/sy) @ [[1, -sh], [0, 1]] @ R(-ang).
        a = torch.stack([torch.stack([cos + sh * sin, sin - sh * cos], 1) / sx.unsqueeze(1),
                         torch.stack([-sin, cos], 1) / sy.unsqueeze(1)], 1)  # (N, 2, 2)
        theta = torch.cat([a, torch.stack([tx, ty], 1).unsqueeze(2)], 2)  # (N, 2, 3)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if stroke > 0:
        t = torch.rand(batch, device=x.device, generator=generator)[start : start + n] * 2 - 1  # (N,)
        x = stroke_width(x, t * stroke)
    return x
