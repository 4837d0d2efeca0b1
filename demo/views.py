"""Results -> what the page shows: HTML snippets (verdict card, distance plot as inline SVG,
neighbour galleries) and the enlarged 28x28 images. Pure functions of numbers and arrays."""
from __future__ import annotations

import base64
import html
import io
import math
from collections import Counter

import numpy as np
from PIL import Image

SAME_COLOUR, DIFF_COLOUR, PAIR_COLOUR = "#0f9d8a", "#e0663a", "#1e3a8a"


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


def message_html(text: str, kind: str = "hint") -> str:
    """A card in place of the verdict: kind 'hint' (what to do next) or 'error'."""
    icon = "\u26a0\ufe0f" if kind == "error" else "\u270f\ufe0f"
    return (f'<div class="verdict-card {kind}" data-verdict="{kind}">'
            f'<div class="verdict-msg"><span class="msg-icon">{icon}</span>{html.escape(text)}</div></div>')


def verdict_text(distance: float, p_same: float, threshold: float) -> tuple[str, str, str]:
    """(verdict 'same'/'different', headline, one plain sentence) for a pair."""
    same = distance <= threshold
    if same:
        if p_same >= 0.9:
            head, say = "Same digit", "The network is confident both images show the same digit."
        elif p_same >= 0.5:
            head, say = "Probably the same digit", "The network leans towards the same digit, without much margin."
        else:
            head, say = ("Same digit, only just",
                         "The distance is under the threshold, but the head on its own would call them "
                         "different: a borderline pair.")
    else:
        if p_same <= 0.1:
            head, say = "Different digits", "The network is confident these are two different digits."
        elif p_same <= 0.5:
            head, say = "Probably different digits", "The network leans towards different digits, without much margin."
        else:
            head, say = ("Different digits, only just",
                         "The distance is over the threshold, but the head on its own would call them "
                         "the same: a borderline pair.")
    return ("same" if same else "different"), head, say


def verdict_html(distance: float, p_same: float, threshold: float, guesses: tuple[str, str] | None = None) -> str:
    verdict, head, say = verdict_text(distance, p_same, threshold)
    rel = "\u2264" if verdict == "same" else ">"
    why = (f"Distance {fmt(distance)} {rel} threshold {fmt(threshold)}, so the verdict is "
           f"\u201c{verdict}\u201d. Smaller distance means more alike.")
    guess = ""
    if guesses:
        guess = (f'<div class="verdict-guess">Nearest MNIST digits say: A looks like a <b>{guesses[0]}</b>, '
                 f'B like a <b>{guesses[1]}</b>.</div>')
    return f"""<div class="verdict-card {verdict}" data-verdict="{verdict}">
<div class="verdict-head">{head}</div>
<div class="verdict-say">{say}</div>
<div class="verdict-nums">
  <div><b id="distance-value">{fmt(distance)}</b><span>distance</span></div>
  <div><b id="probability-value">{p_same * 100:.0f}%</b><span>chance of same digit</span></div>
  <div><b>{fmt(threshold)}</b><span>threshold</span></div>
</div>
<div class="verdict-why">{why}</div>{guess}
</div>"""


def majority(neighbours) -> tuple[int, int]:
    """(most common label, how many of the neighbours have it)."""
    label, count = Counter(n.label for n in neighbours).most_common(1)[0]
    return label, count


def neighbours_html(side: str, neighbours, status: str = "ready") -> str:
    """A small labelled gallery of one digit's nearest MNIST test digits."""
    title = f'<div class="nn-title">Closest MNIST test digits to {side}'
    if neighbours is None:
        note = ("loading the 10,000 test digits\u2026" if status == "loading"
                else "needs MNIST, which is not available here")
        return f'<div class="nn-box" data-side="{side}">{title}</div><div class="nn-note">{note}</div></div>'
    if not neighbours:
        return f'<div class="nn-box" data-side="{side}">{title}</div><div class="nn-note">compare two digits to see them</div></div>'
    label, count = majority(neighbours)
    title += f' <span class="nn-vote">\u2014 {count} of {len(neighbours)} are {label}s</span></div>'
    cells = "".join(
        f'<figure><img src="{png_data_uri(n.image)}" alt="MNIST test digit {n.label}">'
        f'<figcaption><b>{n.label}</b><span>{fmt(n.distance)}</span></figcaption></figure>'
        for n in neighbours
    )
    return f'<div class="nn-box" data-side="{side}">{title}<div class="nn-grid">{cells}</div></div>'


# -- the distance plot -------------------------------------------------------------------------
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

    parts = [f'<svg class="dist-svg" viewBox="0 0 {W} {H}" role="img" '
             f'aria-label="distance of this pair against MNIST test pair distances">']
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


def plot_html(threshold: float, distance: float | None, ref=None, status: str = "ready") -> str:
    """The plot with its legend and a line on how the test pairs fare at this threshold."""
    if ref is None:
        note = ("Loading the MNIST test pairs for the distributions\u2026" if status == "loading"
                else "The same/different distributions need MNIST, which is not available here.")
        return (f'<div class="plot-box" data-ready="0">{distance_svg(threshold, distance)}'
                f'<div class="plot-note">{note}</div></div>')
    lo, hi = plot_range(threshold, None, ref.distance_range())
    hist = ref.histogram(lo, hi, bins=48)
    c = ref.confusion_at(threshold)
    n_same, n_diff = len(ref.same_distances), len(ref.different_distances)
    same_ok = c["tp"] / max(n_same, 1)
    diff_ok = c["tn"] / max(n_diff, 1)
    legend = (f'<div class="plot-legend"><span class="key same"></span>same digit ({n_same:,} test pairs)'
              f'<span class="key diff"></span>different digits ({n_diff:,} test pairs)'
              f'<span class="key pair"></span>this pair</div>')
    caption = (f'<div class="plot-caption">At this threshold, <b>{c["accuracy"] * 100:.1f}%</b> of the '
               f'{n_same + n_diff:,} fixed MNIST test pairs are judged right: {same_ok * 100:.1f}% of same pairs '
               f'are called same, {diff_ok * 100:.1f}% of different pairs are called different.</div>')
    return f'<div class="plot-box" data-ready="1">{legend}{distance_svg(threshold, distance, hist)}{caption}</div>'
