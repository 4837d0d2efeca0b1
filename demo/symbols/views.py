"""What the "Your symbols" tab shows from the server, as HTML: the board its script brings to
life, the map, the symbols drawn so far and the note on the two models. The ranking with how
sure the model is, is drawn by the script (demo/assets/symbols.js), in the browser. Pure
functions of names, numbers and 28x28 images."""
from __future__ import annotations

import html

import numpy as np

from ..views import fit_frame, pct, png_data_uri

W, H_MIN, H_MAX, PAD = 560, 260, 420, 46  # the map's viewBox and margin (a marker is 44 px)
MARK = 44
GAP = MARK + 36  # between two markers' centres: a marker, its name under it and a margin
MODEL_TITLES = {"symbols": "the symbols model", "digits": "the digit model"}  # what the ranking says judged it


def board_html() -> str:
    """The board: the new drawing's pad and its Clear (the ranking goes into #symbols-result,
    beside it). (A gr.HTML template: no backticks, no dollar-brace, no double braces.)"""
    return ('<div id="sketch-symquery" class="digit-pad" data-label="Drawing pad for the new symbol">'
            '<div class="pad-hint">draw the new symbol here</div></div>'
            '<div class="pad-foot"><button type="button" class="clear-btn" id="symquery-clear">Clear</button></div>')


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def note_html(text: str, kind: str = "hint") -> str:
    return f'<div class="sym-note {kind}" data-state="{kind}" role="status">{_esc(text)}</div>'


def added_html(name: str, count: int, least: int, most: int) -> str:
    more = (f" Add {least - count} more." if count < least
            else " Now draw a new one on the middle pad." if count == least
            else f" Room for {most - count} more." if count < most else " That is the most there can be.")
    return note_html(f"Added \u201c{name}\u201d.{more}", "ok")


def _marker(name: str, image: np.ndarray, at, true_at, cls: str, label: str) -> str:
    """A drawing's marker at `at`; a dot where the map really puts it (`true_at`), joined to the
    marker when the marker had to move aside."""
    x, y = float(at[0]), float(at[1])
    tx, ty = float(true_at[0]), float(true_at[1])
    h = MARK / 2
    leader = (f'<line x1="{tx:.1f}" y1="{ty:.1f}" x2="{x:.1f}" y2="{y:.1f}" class="sym-leader"/>'
              if np.hypot(x - tx, y - ty) > 4 else "")
    return (f'<g class="{cls}" data-name="{_esc(name)}">{leader}<circle cx="{tx:.1f}" cy="{ty:.1f}" r="4"/>'
            f'<rect x="{x - h - 2:.1f}" y="{y - h - 2:.1f}" width="{MARK + 4}" height="{MARK + 4}" rx="4"/>'
            f'<image href="{png_data_uri(image)}" x="{x - h:.1f}" y="{y - h:.1f}" width="{MARK}" height="{MARK}" '
            f'preserveAspectRatio="none" style="image-rendering:pixelated"/>'
            f'<text x="{x:.1f}" y="{y + h + 16:.1f}">{_esc(label)}</text></g>')


def spread(at: np.ndarray, height: float, gap: float = GAP, steps: int = 80) -> np.ndarray:
    """Marker positions (N, 2) in SVG units moved apart until no two are closer than `gap`
    (a marker and its name), staying inside the map: drawings the model puts on top of one
    another stay readable, each joined to its true place. Deterministic."""
    p = np.asarray(at, dtype=np.float64).copy()
    lo, hi = np.array([PAD, PAD]), np.array([W - PAD, height - PAD - 12])
    for _ in range(steps):
        moved = False
        for i in range(len(p)):
            for j in range(i + 1, len(p)):
                d = p[j] - p[i]
                dist = float(np.hypot(*d))
                if dist >= gap:
                    continue
                # coincident points: apart along a direction of their own (the golden angle)
                u = d / dist if dist > 1e-6 else np.array([np.cos(2.39996 * j), np.sin(2.39996 * j)])
                push = (gap - dist) / 2 * u
                p[i] -= push
                p[j] += push
                moved = True
        p = np.clip(p, lo, hi)
        if not moved:
            break
    return p


def map_html(ranking, symbols, points: np.ndarray | None = None) -> str:
    """The symbols (and the query, with a line to its best match) where the model puts them:
    `ranking.xy`, or `points` (C, 2) for the symbols alone. Drawn as their 28x28 images."""
    xy = ranking.xy if ranking is not None else points
    if xy is None or len(symbols) < 2:
        return ('<div class="sym-map empty"><div class="sym-note hint">The map shows your symbols once there are '
                'two: each drawing where the model puts it, alike ones close together.</div></div>')
    to_svg, height = fit_frame(np.asarray(xy), W, H_MIN, H_MAX, PAD)
    true_at = to_svg(np.asarray(xy))
    at = spread(true_at, height)
    parts = []
    if ranking is not None:
        best = [s.name for s in symbols].index(ranking.matches[0].name)
        (qx, qy), (bx, by) = true_at[-1], true_at[best]
        parts.append(f'<line x1="{qx:.1f}" y1="{qy:.1f}" x2="{bx:.1f}" y2="{by:.1f}" class="sym-link"/>')
    parts += [_marker(s.name, s.image, p, t, "sym-pt", s.name) for s, p, t in zip(symbols, at, true_at)]
    if ranking is not None:
        parts.append(_marker("", ranking.query, at[-1], true_at[-1], "sym-pt query", "new"))
    what = "your symbols and the new drawing" if ranking is not None else "your symbols"
    line = "; the line joins the new drawing to its best match" if ranking is not None else ""
    return (f'<div class="sym-map" data-points="{len(at)}"><svg class="sym-svg" viewBox="0 0 {W} {height:.0f}" '
            f'role="img" aria-label="map of {what}, alike ones close together">'
            f'<rect x="0" y="0" width="{W}" height="{height:.0f}" class="sym-bg"/>{"".join(parts)}</svg>'
            f'<div class="muted">Each drawing where the model puts it: its descriptors squeezed into two dimensions '
            f'(PCA), so alike drawings sit close together{line}. '
            f'The ranking uses the full distances.</div></div>')


def symbols_html(symbols, most: int) -> str:
    cells = "".join(f'<figure data-name="{_esc(s.name)}"><img src="{png_data_uri(s.image)}" '
                    f'alt="your symbol {_esc(s.name)}"><figcaption>{_esc(s.name)}</figcaption></figure>'
                    for s in symbols)
    body = cells or '<div class="muted">None yet.</div>'
    return (f'<div class="sym-list" data-count="{len(symbols)}"><div class="sym-sub">Your symbols '
            f'({len(symbols)} of {most}), as the networks see them</div><div class="sym-grid">{body}</div></div>')


def models_html(model: str, accuracies: dict, way: int, missing: str | None = None) -> str:
    """The two models side by side, the one in use marked, each with its measured 10-way
    accuracy on the project's drawn symbols (when measured)."""
    chance = f"guessing would get {pct(1 / way, 0)}"

    def measured(name: str) -> str:
        a = accuracies.get(name)
        if a is None:
            return ""
        return (f' <span class="sym-acc" data-accuracy="{a:.4f}">On the page\'s own hand-drawn test symbols '
                f'({way} symbols, one drawing of each as the reference, the others to find) it picks the right '
                f'one <b>{pct(a, 0)}</b> of the time; {chance}.</span>')

    if missing:
        symbols = f"Not on this server: {_esc(missing)}."
    else:
        symbols = ("Trained on handwritten characters of other alphabets (Omniglot), none of them yours: it "
                   "learned <i>how to compare</i> drawings, whatever they show." + measured("symbols"))
    digits = ("Trained on the ten digits only. It learned what tells a 3 from an 8, not how to compare any two "
              "drawings: a star or a fish lands wherever its strokes happen to look like some digit, so its "
              "distances say little about symbols. Switch to it and watch the same drawings." + measured("digits"))
    cards = "".join(f'<div class="sym-model{" on" if name == model else ""}" data-model="{name}">'
                    f'<b>{title}</b> {text}</div>'
                    for name, title, text in (("symbols", "Symbols model.", symbols), ("digits", "Digit model.", digits)))
    return f'<div class="sym-models" data-model="{_esc(model)}">{cards}</div>'
