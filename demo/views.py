"""What every tab shows the same way: numbers as text, the 28x28 images enlarged, PNGs inlined,
and the page's colours. Pure functions of numbers and arrays."""
from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image

SAME_COLOUR, DIFF_COLOUR, PAIR_COLOUR = "#0f9d8a", "#e0663a", "#1e3a8a"
UNSEEN_COLOUR = "#c2185b"  # what concerns digits a model never saw in training (curves, notes)
# One colour per digit, 0-9, for every map and legend on the page: Petroff's 10-colour
# sequence (M. Petroff, "Accessible Color Sequences for Data Visualization", 2021; matplotlib's
# "petroff10"), chosen to stay apart under colour blindness. Tableau 10, used before, put the 2s
# and the 4s (red, green) within CIEDE2000 1 of each other for a deuteranope; here every pair
# stays over 11 apart for protan, deutan and tritan vision (tests/test_demo_views.py).
DIGIT_COLOURS = ("#3f90da", "#ffa90e", "#bd1f01", "#94a4a2", "#832db6",
                 "#a96b59", "#e76300", "#b9ac70", "#717581", "#92dadd")


def digits_text(digits) -> str:
    """(7, 8, 9) -> '7, 8, 9'."""
    return ", ".join(str(int(d)) for d in digits)


def unseen_label(digit: int) -> str:
    """How maps and legends name a digit the model never saw in training: '7 (never seen)'."""
    return f"{int(digit)} (never seen)"


def fmt(x: float) -> str:
    """Three significant digits and a real minus sign: 15.8, -2.31, 0.0123; 0 below 0.001."""
    if abs(x) < 1e-3:
        return "0"
    s = f"{x:.3g}" if abs(x) < 1e3 else f"{x:.0f}"
    return s.replace("-", "\u2212")


def network_view(image: np.ndarray, scale: int = 8) -> np.ndarray:
    """(28, 28) float in [0, 1] -> (28*scale, 28*scale) uint8, each pixel a scale x scale block,
    so the page shows exactly the pixels the network gets."""
    u8 = np.clip(np.rint(np.asarray(image, dtype=np.float32) * 255), 0, 255).astype(np.uint8)
    return np.kron(u8, np.ones((scale, scale), dtype=np.uint8))


def png_data_uri(image: np.ndarray) -> str:
    """(H, W) uint8 or float in [0, 1] -> a data: URI of a PNG."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def pct(x: float, digits: int = 1) -> str:
    """0.9612 -> '96.1%'."""
    return f"{x * 100:.{digits}f}%"


def bar_pct(p: float) -> str:
    """A probability as the bars show it (HTML): 96.1%, 100%, <0.1% (not a misleading 0.0%)."""
    if p < 0.0005:
        return "&lt;0.1%"
    return pct(p, 0) if p >= 0.9995 else pct(p)


def fit_frame(xy: np.ndarray, width: float, min_height: float, max_height: float, pad: float):
    """Points (N, 2) of a 2-D map -> (map coordinates -> SVG coordinates, the SVG's height) for a
    viewBox `width` wide with `pad` of margin. One scale for both axes, so distances stay
    honest; a flat map (a weak model's PCA) gets a lower SVG (down to `min_height`), not empty
    space. y points up on screen."""
    lo, hi = xy.min(0), xy.max(0)
    span = np.maximum(hi - lo, 1e-9)
    height = float(np.clip((width - 2 * pad) * span[1] / span[0] + 2 * pad, min_height, max_height))
    s = min((width - 2 * pad) / span[0], (height - 2 * pad) / span[1])
    off = np.array([width, height]) / 2 - (lo + hi) / 2 * s * np.array([1, -1])

    def to_svg(p: np.ndarray) -> np.ndarray:
        p = np.atleast_2d(p)
        return np.stack([p[:, 0] * s + off[0], -p[:, 1] * s + off[1]], 1)
    return to_svg, height


def clean_message(error: Exception) -> str:
    """An error's message without server paths (a file is named by its base name), for people."""
    msg = str(error)
    for word in msg.split():
        w = word.strip("'\"(),:")
        if w.startswith("/") and len(w) > 1:
            msg = msg.replace(w, Path(w).name)
    return msg
