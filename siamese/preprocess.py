"""One preprocessing path: any digit image -> the 28x28 float array MNIST is made of.

MNIST was made by scaling each NIST digit into a 20x20 box (keeping its aspect ratio, with
anti-aliasing) and placing that box in a 28x28 field so that its centre of mass sits at the
centre. `to_mnist` repeats those steps for drawings, photos and uploads, in two stages:

1. `siamese.images.load_rgba`: the file, PIL image or array -> a small uint8 RGBA array, in
   bounded memory (large images are reduced while they are decoded);
2. `mnist_from_rgba`: that array -> the 28x28 image, as tensor operations only (no data-
   dependent shapes, no Python branches on pixel values), exported by `siamese.export --graphs`
   as `siamese/graphs/preprocess.onnx`. That one graph runs here (ONNX Runtime, `run_graph`)
   and in the browser (ONNX Runtime Web, on the pad's pixels), so both see the same 28x28.

Training, evaluation, the page and scripts all go through `to_mnist` (for images from outside),
`to_float` (uint8 or float batches to the network's input format) and `normalize` (inside the
network), so the constants below live only here.
"""
from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .images import (MAX_PIXELS, WORK_SIDE, BlankImageError, ImageError, ImageTooLargeError,  # noqa: F401
                     load_rgba, open_image)

# Mean and standard deviation of MNIST training pixels scaled to [0, 1].
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

SIZE = 28  # output side
BOX = 20  # the digit's longest side after scaling, as in MNIST
INK_LEVEL = 0.1  # ink above this (after contrast stretch) counts for the bounding box
MIN_CONTRAST = 0.15  # below this the image is called blank
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 grey, as PIL's convert("L")
LANCZOS_A = 3  # Lanczos window (lobes), as PIL's LANCZOS

GRAPH = Path(__file__).resolve().parent / "graphs" / "preprocess.onnx"  # mnist_from_rgba, exported

# `mnist_from_rgba`'s status: what became of the image.
OK, BLANK, FAINT = 0, 1, 2
STATUS_MESSAGES = {BLANK: "the image looks blank: draw or upload a digit",
                   FAINT: "the digit is too faint to see"}


def to_float(images: torch.Tensor) -> torch.Tensor:
    """(N, 28, 28) or (N, 1, 28, 28), uint8 in 0..255 or float in [0, 1] -> (N, 1, 28, 28)
    float32 in [0, 1]: MNIST tensors, `to_mnist` output and training batches all enter the
    network through here."""
    x = images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()
    return x.unsqueeze(1) if x.dim() == 3 else x


def normalize(x):
    """[0, 1] MNIST-style pixels -> the network's input scale. Works on tensors and arrays."""
    return (x - MNIST_MEAN) / MNIST_STD


# -- the tensor path ----------------------------------------------------------------------------------
def _border(x: torch.Tensor) -> torch.Tensor:
    """(H, W) -> (2H + 2W,) the pixels along the four edges (corners twice, as before)."""
    return torch.cat([x[0], x[-1], x[:, 0], x[:, -1]])


def _median(v: torch.Tensor) -> torch.Tensor:
    """numpy's median of an even-length vector (the border always is): the mean of the two
    middle values."""
    s = torch.sort(v).values
    n = v.shape[0]
    return (s[(n - 1) // 2] + s[n // 2]) * 0.5


def _lanczos(x: torch.Tensor) -> torch.Tensor:
    """PIL's Lanczos kernel: sinc(x) sinc(x / 3) on [-3, 3), 0 elsewhere."""
    zero = x == 0
    safe = torch.where(zero, torch.ones_like(x), x)
    v = torch.sin(math.pi * safe) * torch.sin(math.pi * safe / LANCZOS_A) / (math.pi ** 2 * safe * safe / LANCZOS_A)
    v = torch.where(zero, torch.ones_like(x), v)
    return torch.where((x >= -LANCZOS_A) & (x < LANCZOS_A), v, torch.zeros_like(x))


def _resample_weights(first: torch.Tensor, length: torch.Tensor, n_out: torch.Tensor, n_in: int) -> torch.Tensor:
    """(BOX, n_in): row i < n_out is output pixel i of PIL's Lanczos resize of the input span
    [first, first + length) to n_out pixels (the kernel widened by the scale when shrinking,
    so it averages: anti-aliasing); rows from n_out on are 0. The resize is then a matmul."""
    factor = length / n_out  # input pixels per output pixel
    widen = torch.clamp(factor, min=1.0)
    support = LANCZOS_A * widen
    i = torch.arange(BOX, dtype=torch.float32)
    centre = (i + 0.5) * factor  # (BOX,) in the span's coordinates
    j = (torch.arange(n_in, dtype=torch.float32) - first)[None, :]  # (1, n_in)
    # PIL's taps for output i: input pixels trunc(centre - support + 0.5) .. trunc(centre + support + 0.5),
    # clipped to the span.
    lo = torch.clamp(torch.trunc(centre - support + 0.5), min=0.0)[:, None]
    hi = torch.minimum(torch.trunc(centre + support + 0.5), length)[:, None]
    k = _lanczos((j - centre[:, None] + 0.5) / widen)  # (BOX, n_in)
    k = torch.where((j >= lo) & (j < hi), k, torch.zeros_like(k))
    total = k.sum(1, keepdim=True)
    k = k / torch.where(total == 0, torch.ones_like(total), total)
    return torch.where(i[:, None] < n_out, k, torch.zeros_like(k))


def _extent(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) bool -> (first True index, number from first to last True), as float scalars."""
    m = mask.to(torch.float32)
    first = torch.argmax(m).to(torch.float32)
    last = (mask.shape[0] - 1) - torch.argmax(torch.flip(m, [0])).to(torch.float32)
    return first, last - first + 1


def mnist_from_rgba(rgba: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (H, W, 4) straight RGBA, H and W >= 2 -> ((28, 28) float32 in [0, 1], white digit
    on black; status: OK, BLANK or FAINT as an int64 scalar, the image all 0 unless OK).

    Transparency is composited onto white; the polarity is read from the border (dark ink on
    light paper, or light on dark, as MNIST); the ink is stretched from the border's level to
    its peak; where that leaves no contrast, the alpha channel is the drawing (light strokes on
    a transparent layer). The ink's bounding box is scaled so its longer side is 20 px (PIL's
    Lanczos, as matrices) and placed in 28 x 28 with its centre of mass on pixel (14, 14).
    """
    x = rgba.to(torch.float32)  # (H, W, 4) in 0..255
    alpha = x[..., 3] * (1.0 / 255.0)  # (H, W)
    # Composited onto white, a pixel's grey is 1 - alpha (1 - grey): its darkness is
    # alpha * (1 - grey), the ink on light paper. (Three products, not a matmul with a (3,)
    # vector: ONNX Runtime runs that as H * W tiny matrix products, 30x slower.)
    grey = x[..., 0] * (LUMA[0] / 255.0) + x[..., 1] * (LUMA[1] / 255.0) + x[..., 2] * (LUMA[2] / 255.0)
    dark = (1.0 - grey) * alpha  # (H, W)
    edge_dark, edge_alpha = _border(dark), _border(alpha)

    # Ink = darkness on light paper, 1 - darkness on dark paper (MNIST's own polarity).
    light_paper = _median(edge_dark) <= 0.5
    sign = torch.where(light_paper, 1.0, -1.0)
    offset = torch.where(light_paper, 0.0, 1.0)
    low, high = dark.min(), dark.max()
    peak = torch.where(light_paper, high, 1.0 - low)
    level = _median(edge_dark * sign + offset)  # the paper's ink level
    inked = peak - level >= MIN_CONTRAST
    # Light strokes on a transparent layer vanish on white: then the alpha channel is the ink.
    level_a, peak_a = _median(edge_alpha), alpha.max()
    drawn = peak_a - level_a >= MIN_CONTRAST
    span = torch.clamp(torch.where(inked, peak - level, peak_a - level_a), min=1e-6)
    # One affine map for either source, then clip: (ink - level) / span, 0 below the paper.
    w_dark = torch.where(inked, sign / span, 0.0)
    w_alpha = torch.where(inked, 0.0, 1.0 / span)
    bias = torch.where(inked, (offset - level) / span, -level_a / span)
    ink = torch.clamp(torch.addcmul(dark * w_dark + bias, alpha, w_alpha), 0.0, 1.0)  # (H, W)

    rows = ink.amax(1) > INK_LEVEL  # (H,)
    cols = ink.amax(0) > INK_LEVEL  # (W,)
    found = rows.any() & (inked | drawn)
    top0, tall = _extent(rows)
    left0, wide = _extent(cols)
    scale = BOX / torch.maximum(tall, wide)
    h = torch.clamp(torch.round(tall * scale), min=1.0)
    w = torch.clamp(torch.round(wide * scale), min=1.0)
    wy = _resample_weights(top0, tall, h, x.shape[0])  # (20, H)
    wx = _resample_weights(left0, wide, w, x.shape[1])  # (20, W)
    patch = torch.clamp(wy @ ink @ wx.T, 0.0, 1.0)  # (20, 20): the box, rows >= h and cols >= w 0
    brightest = patch.max()
    visible = brightest > 0
    patch = patch / torch.clamp(brightest, min=1e-12)  # thin strokes shrink to grey; MNIST's peak at 1

    # Place the box so that its centre of mass lands on pixel (14, 14), where MNIST's digits
    # have theirs (measured: mean 13.99, 14.01 over the test set): shift matrices, no slicing.
    mass = patch.sum()
    ar = torch.arange(BOX, dtype=torch.float32)
    cy = (patch.sum(1) * ar).sum() / mass
    cx = (patch.sum(0) * ar).sum() / mass
    top = torch.minimum(torch.clamp(torch.round(SIZE / 2 - cy), min=0.0), SIZE - h)
    left = torch.minimum(torch.clamp(torch.round(SIZE / 2 - cx), min=0.0), SIZE - w)
    out_index = torch.arange(SIZE, dtype=torch.float32)[:, None]  # (28, 1)
    shift_y = (out_index == ar[None, :] + top).to(torch.float32)  # (28, 20)
    shift_x = (out_index == ar[None, :] + left).to(torch.float32)
    out = shift_y @ patch @ shift_x.T  # (28, 28)

    status = torch.where(found, torch.where(visible, OK, FAINT), BLANK).to(torch.int64)
    return torch.where(status == OK, out, torch.zeros_like(out)), status


class MnistFromRGBA(nn.Module):
    """`mnist_from_rgba` as a module, for the ONNX export (siamese.export)."""

    def forward(self, rgba: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return mnist_from_rgba(rgba)


_session, _session_lock = None, threading.Lock()


def run_graph(rgba: np.ndarray) -> tuple[np.ndarray, int]:
    """`mnist_from_rgba` as the browser runs it: GRAPH in ONNX Runtime (one thread; sessions
    run concurrently). 5x faster than the same operations in eager PyTorch, whose per-operation
    overhead dominates at these sizes."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = opts.inter_op_num_threads = 1
                opts.log_severity_level = 3  # warnings about unused initializers are ours to ignore
                _session = ort.InferenceSession(str(GRAPH), opts, providers=["CPUExecutionProvider"])
    image, status = _session.run(None, {"rgba": rgba})
    return image, int(status)


def to_mnist(image) -> np.ndarray:
    """Turn a digit image into MNIST's format: float32 (28, 28) in [0, 1], white digit on black.

    `image` may be a PIL image (any mode, any size), a numpy array (H x W, H x W x 3/4, uint8
    or float), a torch tensor, or a file path / bytes. Transparency is composited onto white,
    polarity is detected from the border, the ink is cropped, scaled so its longest side is
    20 px, and placed in 28 x 28 by its centre of mass.

    Raises BlankImageError (a ValueError) for empty or near-empty input and ImageError for
    anything else that is not a usable image.
    """
    rgba = load_rgba(image)  # (H, W, 4) uint8, small
    if min(rgba.shape[0], rgba.shape[1]) < 2:
        raise BlankImageError(f"the image is only {rgba.shape[1]}x{rgba.shape[0]} pixels: no digit fits")
    out, status = run_graph(rgba)
    if status != OK:
        raise BlankImageError(STATUS_MESSAGES[status])
    return out
