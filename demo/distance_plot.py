"""The distance axis two tabs share (Compare and Threshold & errors): the same/different
distributions of the fixed test pairs, the threshold and one pair's distance as inline SVG, and
the threshold slider's span over that axis."""
from __future__ import annotations

import math

import numpy as np

from .views import DIFF_COLOUR, PAIR_COLOUR, SAME_COLOUR, fmt

W, H = 640, 210
ML, MR, MT, MB = 18, 18, 30, 44  # margins around the plotting area


def nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def plot_range(threshold: float, distance: float | None, ref_range: tuple[float, float] | None):
    """The distance axis: the reference span and the threshold; without a reference, centred
    on the threshold and wide enough for this pair."""
    if ref_range:
        lo, hi = min(ref_range[0], threshold), max(ref_range[1], threshold)
    else:
        half = max(abs((distance if distance is not None else threshold) - threshold), abs(threshold), 1.0)
        lo, hi = threshold - half, threshold + half
    pad = max((hi - lo) * 0.06, 1e-3)
    return lo - pad, hi + pad


def distance_svg(threshold: float, distance: float | None, hist=None, ref_range=None) -> str:
    """SVG: the two densities (if `hist` = (edges, same, different)), the threshold, and this
    pair's distance, on one distance axis."""
    lo, hi = plot_range(threshold, distance, ref_range)
    if hist is not None:
        lo, hi = float(hist[0][0]), float(hist[0][-1])
    pw, ph = W - ML - MR, H - MT - MB
    base = MT + ph

    def x(v):
        return ML + (min(max(v, lo), hi) - lo) / (hi - lo) * pw

    # data-*: how the axis maps distances to x, for the page's script to mark a pair (board.js)
    parts = [f'<svg class="dist-svg" viewBox="0 0 {W} {H}" role="img" '
             f'aria-label="distance of this pair against MNIST test pair distances" data-lo="{lo}" '
             f'data-hi="{hi}" data-x0="{ML}" data-w="{pw}" data-top="{MT}" data-base="{base}" '
             f'data-colour="{PAIR_COLOUR}">']
    t = x(threshold)
    parts.append(f'<rect x="{ML}" y="{MT}" width="{t - ML:.1f}" height="{ph}" fill="{SAME_COLOUR}" opacity="0.05"/>')
    parts.append(f'<rect x="{t:.1f}" y="{MT}" width="{ML + pw - t:.1f}" height="{ph}" fill="{DIFF_COLOUR}" opacity="0.05"/>')
    if hist is not None:
        edges, same, diff = hist
        top = max(float(np.max(same)), float(np.max(diff)), 1e-12)
        for dens, colour, name in ((diff, DIFF_COLOUR, "different"), (same, SAME_COLOUR, "same")):
            pts = [f"M{x(edges[0]):.1f},{base}"]
            for i, dv in enumerate(dens):
                y = base - dv / top * (ph - 4)
                pts.append(f"L{x(edges[i]):.1f},{y:.1f}L{x(edges[i + 1]):.1f},{y:.1f}")
            pts.append(f"L{x(edges[-1]):.1f},{base}Z")
            parts.append(f'<path class="hist-{name}" d="{"".join(pts)}" fill="{colour}" fill-opacity="0.28" '
                         f'stroke="{colour}" stroke-width="1.4"/>')
    parts.append(f'<line x1="{ML}" y1="{base}" x2="{ML + pw}" y2="{base}" stroke="#9ca3af"/>')
    for v in nice_ticks(lo, hi):
        parts.append(f'<line x1="{x(v):.1f}" y1="{base}" x2="{x(v):.1f}" y2="{base + 4}" stroke="#9ca3af"/>'
                     f'<text x="{x(v):.1f}" y="{base + 16}" class="tick">{fmt(v)}</text>')
    parts.append(f'<text x="{ML + pw / 2}" y="{H - 6}" class="axis">distance (smaller = more alike)</text>')
    # Threshold and the sides it makes.
    parts.append(f'<line x1="{t:.1f}" y1="{MT - 4}" x2="{t:.1f}" y2="{base}" stroke="#374151" '
                 f'stroke-width="1.5" stroke-dasharray="5 4"/>')
    # Labels beside the threshold, or at the plot's edge when the threshold is close to it.
    left = max(t - 6, ML + 88)  # where "<- called same" ends
    right = min(max(t + 6, left + 10), ML + pw - 118)  # where "called different ->" starts
    left = min(left, right - 10)
    parts.append(f'<text x="{left:.1f}" y="{MT - 10}" class="side same" text-anchor="end">\u2190 called same</text>'
                 f'<text x="{right:.1f}" y="{MT - 10}" class="side diff" text-anchor="start">called different \u2192</text>')
    if distance is not None:
        d = x(distance)
        off = "" if lo <= distance <= hi else (" \u25c0" if distance < lo else " \u25b6")
        anchor = "start" if d < ML + pw * 0.75 else "end"
        dx = 7 if anchor == "start" else -7
        parts.append(f'<line id="pair-marker" class="pair-mark" x1="{d:.1f}" y1="{MT + 8}" x2="{d:.1f}" '
                     f'y2="{base}" stroke="{PAIR_COLOUR}" stroke-width="3"/>'
                     f'<circle class="pair-mark" cx="{d:.1f}" cy="{MT + 8}" r="5" fill="{PAIR_COLOUR}"/>'
                     f'<text x="{d + dx:.1f}" y="{MT + 12}" class="pair" text-anchor="{anchor}">'
                     f'this pair {fmt(distance)}{off}</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- the threshold slider over this axis ------------------------------------------------------------
def slider_span(threshold: float, span: tuple[float, float]) -> tuple[float, float, float]:
    """(minimum, maximum, step) of a threshold slider: the plot's axis over `span` (the bulk of
    the test-pair distances, or of the example pairs' before MNIST is there) and the threshold,
    in 1,000 to 10,000 steps, fine enough to walk the ROC curve's steep corner."""
    lo, hi = plot_range(threshold, None, span)
    step = 10.0 ** math.floor(math.log10(max(hi - lo, 1e-9) / 1000))
    digits = step_digits(step)
    return round(math.floor(lo / step) * step, digits), round(math.ceil(hi / step) * step, digits), step


def step_digits(step: float) -> int:
    """Decimal places a value on a slider of this step shows."""
    return max(0, -int(math.floor(math.log10(step))))


def slider_value(value: float, step: float) -> float:
    """`value` as the slider shows it (to its step's precision)."""
    return round(value, step_digits(step))
