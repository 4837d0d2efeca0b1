"""The "Threshold & errors" tab: the ROC curve on the fixed test pairs with the chosen
threshold marked, accuracy / precision / recall there, both pair-distance distributions, and
the pairs the model gets most wrong."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np

from siamese.metrics import PairExample, RocCurve
from siamese.reference import Reference

from ..distance_plot import distance_svg, plot_range, slider_span, slider_value
from ..views import fmt, pct, png_data_uri
from .cache import TeachCache
from .common import status_html, teach_head
from .lessons import Lessons

N_WORST = 8
INTRO = """<div class="teach-intro"><h3>Threshold and errors</h3>
<p>The network gives every pair a distance; the verdict is <b>same</b> when the distance is at most a
threshold. Each threshold trades one kind of mistake for the other. The ROC curve shows every
trade at once: how many <span class="same-word">same pairs</span> are recognised (true-positive
rate) against how many <span class="diff-word">different pairs</span> are wrongly called same
(false-positive rate), over the fixed MNIST test pairs. <b>Move the threshold</b> and watch
the point travel along the curve.</p></div>"""


@dataclass
class ThresholdTab:
    tab: gr.Tab
    threshold: gr.Slider
    reset: gr.Button
    roc: gr.HTML
    scores: gr.HTML
    dist: gr.HTML
    mistakes: gr.HTML
    key_shown: gr.State
    timer: gr.Timer


# -- the ROC plot --------------------------------------------------------------------------------
S = 300  # the plot square, px in the viewBox
ML, MT, MB, MR = 58, 14, 44, 12


def _thin(px: np.ndarray, py: np.ndarray, tol: float = 0.6) -> list[tuple[float, float]]:
    """Drop curve points closer than `tol` px to the last kept one (20,001 -> a few hundred)."""
    out = [(float(px[0]), float(py[0]))]
    for x, y in zip(px[1:-1].tolist(), py[1:-1].tolist()):
        if abs(x - out[-1][0]) + abs(y - out[-1][1]) >= tol:
            out.append((x, y))
    out.append((float(px[-1]), float(py[-1])))
    return out


def _path(points) -> str:
    return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points)


def zoom_span(r: RocCurve, fpr: float, tpr: float) -> float | None:
    """Side of the inset's square (FPR 0..z, TPR 1-z..1): twice the larger error rate at the
    threshold, at least 2 %; None when the curve is poor enough to read without zoom."""
    need = 2 * max(fpr, 1 - tpr)
    z = next((z for z in (0.02, 0.05, 0.1, 0.2, 0.3) if z >= need), None)
    return None if z is None or r.auc < 0.9 else z


def roc_svg(les: Lessons, r: RocCurve, threshold: float) -> str:
    fpr_t, tpr_t = r.at(threshold)
    x0, y0 = ML, MT + S  # the origin, bottom-left

    def px(f):
        return x0 + np.asarray(f) * S

    def py(t):
        return y0 - np.asarray(t) * S

    curve = les.memo("roc-path", lambda: _path(_thin(px(r.fpr), py(r.tpr))))
    parts = [f'<svg class="roc-svg" viewBox="0 0 {ML + S + MR} {MT + S + MB}" role="img" '
             f'aria-label="ROC curve, area {r.auc:.4f}">']
    for v in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<line x1="{px(v):.1f}" y1="{MT}" x2="{px(v):.1f}" y2="{y0}" class="grid"/>'
                     f'<line x1="{x0}" y1="{py(v):.1f}" x2="{x0 + S}" y2="{py(v):.1f}" class="grid"/>'
                     f'<text x="{px(v):.1f}" y="{y0 + 15}" class="tick">{v:g}</text>'
                     f'<text x="{x0 - 6}" y="{py(v) + 4:.1f}" class="tick" text-anchor="end">{v:g}</text>')
    parts.append(f'<text x="{x0 + S / 2}" y="{y0 + 34}" class="axis">false-positive rate: different pairs called same</text>'
                 f'<text transform="translate(14 {MT + S / 2}) rotate(-90)" class="axis">true-positive rate: same pairs called same</text>')
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x0 + S}" y2="{MT}" class="chance"/>'
                 f'<text x="{px(0.62):.1f}" y="{py(0.55):.1f}" class="chance-label" transform="rotate(-45 {px(0.62):.1f} {py(0.55):.1f})">chance</text>')
    parts.append(f'<path d="{curve}L{x0 + S},{y0}L{x0},{y0}Z" class="roc-area"/>'
                 f'<path d="{curve}" class="roc-line" id="roc-curve"/>')
    z = zoom_span(r, fpr_t, tpr_t)
    if z is not None:
        parts.append(f'<rect x="{x0}" y="{MT}" width="{z * S:.1f}" height="{z * S:.1f}" class="zoom-box"/>')
    parts.append(f'<circle cx="{px(fpr_t):.1f}" cy="{py(tpr_t):.1f}" r="6" class="roc-point" id="roc-point"/>')
    if z is not None:  # the top-left corner, enlarged, bottom-right of the plot
        side, ix, iy = S * 0.56, x0 + S * 0.41, MT + S * 0.37
        k = side / z

        def zx(f):
            return ix + np.asarray(f) * k

        def zy(t):
            return iy + (1 - np.asarray(t)) * k

        inset = les.memo(f"roc-inset:{z}", lambda: _path(_thin(zx(np.minimum(r.fpr, z * 1.05)),
                                                            zy(np.maximum(r.tpr, 1 - z * 1.05)))))
        parts.append(f'<g class="inset"><rect x="{ix:.1f}" y="{iy:.1f}" width="{side:.1f}" height="{side:.1f}" class="inset-bg"/>'
                     f'<svg x="{ix:.1f}" y="{iy:.1f}" width="{side:.1f}" height="{side:.1f}" '
                     f'viewBox="{ix:.1f} {iy:.1f} {side:.1f} {side:.1f}" overflow="hidden">'
                     f'<path d="{inset}" class="roc-line"/>'
                     f'<circle cx="{zx(fpr_t):.1f}" cy="{zy(tpr_t):.1f}" r="5" class="roc-point"/></svg>'
                     f'<text x="{ix + side:.1f}" y="{iy - 6:.1f}" class="inset-label" text-anchor="end">the corner, '
                     f'enlarged: FPR 0\u2013{z:.3g}, TPR {1 - z:.3g}\u20131</text></g>')
    # The point's label, kept inside the plot: beside the point, below it near the top edge.
    lx = min(float(px(fpr_t)) + 12, x0 + S - 200)
    ly = float(py(tpr_t)) + (20 if tpr_t > 0.85 else -10)
    parts.append(f'<text x="{lx:.1f}" y="{ly:.1f}" class="roc-point-label">threshold {fmt(threshold)}: '
                 f'TPR {pct(tpr_t)}, FPR {pct(fpr_t, 2)}</text>')
    parts.append("</svg>")
    title = (f'<div class="teach-sub">ROC curve on the {r.positives + r.negatives:,} fixed test pairs \u00b7 '
             f'area under the curve <b>{r.auc:.4f}</b></div>')
    return f'<div class="roc-box" data-ready="1" data-auc="{r.auc:.6f}">{title}{"".join(parts)}</div>'


# -- numbers, distributions, mistakes -----------------------------------------------------------
def scores_html(ref: Reference, threshold: float) -> str:
    c = ref.confusion_at(threshold)
    cmp = ref.comparator
    own = abs(threshold - cmp.threshold) < 1e-9
    n = len(ref.pair_distances)
    tiles = [("accuracy", c["accuracy"], f"of all {n:,} test pairs judged right"),
             ("precision", c["precision"], "of the pairs called <i>same</i> really are the same digit"),
             ("recall", c["recall"], "of the same-digit pairs are called <i>same</i>")]
    cells = "".join(f'<div class="score" data-score="{name}"><b>{pct(v, 2)}</b><span>{name}</span><small>{why}</small></div>'
                    for name, v, why in tiles)
    matrix = f"""<table class="confusion"><thead><tr><th></th><th>called same</th><th>called different</th></tr></thead>
<tbody><tr><th>same digit</th><td class="ok">{c['tp']:,}</td><td class="bad">{c['fn']:,} <small>missed</small></td></tr>
<tr><th>different digits</th><td class="bad">{c['fp']:,} <small>false alarms</small></td><td class="ok">{c['tn']:,}</td></tr></tbody></table>"""
    note = ("This is the model's own threshold, chosen on validation pairs before it ever saw these test pairs."
            if own else f"The model's own threshold is {fmt(cmp.threshold)} (chosen on validation pairs).")
    return f'<div class="scores" data-threshold="{threshold:.6g}"><div class="score-row">{cells}</div>{matrix}<p class="muted">{note}</p></div>'


def dist_html(ref: Reference, threshold: float) -> str:
    lo, hi = plot_range(threshold, None, ref.distance_range())
    svg = distance_svg(threshold, None, ref.histogram(lo, hi, bins=48))
    legend = (f'<div class="plot-legend"><span class="key same"></span>same digit ({len(ref.same_distances):,} pairs)'
              f'<span class="key diff"></span>different digits ({len(ref.different_distances):,} pairs)</div>')
    return (f'<div class="teach-dist"><div class="teach-sub">The same pairs as distances: the threshold cuts '
            f'both piles</div>{legend}{svg}</div>')


def _pair_card(ref: Reference, p: PairExample, threshold: float) -> str:
    called_same = p.distance <= threshold
    wrong = called_same != p.same
    verdict = "called same" if called_same else "called different"
    mark = "\u2717" if wrong else "\u2713"
    badge = f'<span class="mk-badge {"wrong" if wrong else "right"}">{verdict} {mark}</span>'
    a, b = ref.images[p.a].numpy(), ref.images[p.b].numpy()
    return (f'<figure class="mk-card {"wrong" if wrong else "right"}" data-wrong="{int(wrong)}">'
            f'<div class="mk-imgs"><img src="{png_data_uri(a)}" alt="test digit {p.label_a}">'
            f'<img src="{png_data_uri(b)}" alt="test digit {p.label_b}"></div>'
            f'<figcaption><span class="mk-labels">{p.label_a} and {p.label_b}</span>'
            f'<span class="mk-d">d = {fmt(p.distance)}</span>{badge}</figcaption></figure>')


def mistakes_html(ref: Reference, les: Lessons, threshold: float) -> str:
    far, close = les.worst_pairs(N_WORST)
    c = ref.confusion_at(threshold)
    same_cards = "".join(_pair_card(ref, p, threshold) for p in far)
    diff_cards = "".join(_pair_card(ref, p, threshold) for p in close)
    return f"""<div class="mistakes">
<h4>Where it fails: the worst pairs among the {len(ref.pair_distances):,}</h4>
<p class="muted">At threshold {fmt(threshold)} the model misses <b>{c['fn']}</b> same-digit pairs and raises
<b>{c['fp']}</b> false alarms. These are the pairs it gets most wrong, whatever the threshold: often
an unusual handwriting, a digit cut off, or two digits that really do look alike.</p>
<div class="mk-group" id="mk-same"><div class="mk-title"><span class="key same"></span>Same digit, but far apart
(largest distances)</div><div class="mk-grid">{same_cards}</div></div>
<div class="mk-group" id="mk-diff"><div class="mk-title"><span class="key diff"></span>Different digits, but close
(smallest distances)</div><div class="mk-grid">{diff_cards}</div></div></div>"""


def prepare(ref: Reference, les: Lessons) -> None:
    """Compute and keep this model's ROC curve (and its drawn path) and worst pairs."""
    roc_svg(les, les.roc(), ref.comparator.threshold)
    les.worst_pairs(N_WORST)


def render(cache: TeachCache, key: str, threshold: float | None, key_shown: str | None):
    """(slider, roc, scores, distributions, mistakes, key_shown, timer). A new model (or
    key_shown None: Reset forgets it) puts the slider back on that model's own threshold and
    range."""
    ref, status = cache.reference(key)
    if ref is None:
        note = status_html(status, cache.models, "the ROC curve")
        return (gr.skip(), note, "", "", "", key_shown, gr.Timer(active=status == "loading"))
    return cache.run(_render, cache, ref, key, threshold, key_shown)


def _render(cache: TeachCache, ref: Reference, key: str, threshold: float | None, key_shown: str | None):
    les = cache.lessons(ref)
    cache.warm(ref)
    cmp = ref.comparator
    fresh = key_shown != key or threshold is None
    lo, hi, step = slider_span(cmp.threshold, ref.distance_range())
    # The slider shows the threshold to its step; the model's own value is used exactly until
    # the learner moves it (a value within half a step of it counts as the model's own).
    t = float(threshold) if not fresh else cmp.threshold
    if abs(t - cmp.threshold) <= step / 2:
        t = cmp.threshold
    t = min(max(t, lo), hi)
    slider = (gr.Slider(minimum=lo, maximum=hi, step=step, value=slider_value(t, step))
              if fresh else gr.skip())
    return (slider, roc_svg(les, les.roc(), t), scores_html(ref, t), dist_html(ref, t),
            mistakes_html(ref, les, t), key, gr.Timer(active=False))


def build(cache: TeachCache, model_key: gr.State) -> ThresholdTab:
    cmp = cache.models.comparator(None)
    with gr.Tab("Threshold & errors", id="threshold", elem_id="tab-threshold") as tab:
        gr.HTML(INTRO, head=teach_head())
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=340):
                roc = gr.HTML(status_html("loading", cache.models, "the ROC curve"), elem_id="roc",
                              elem_classes="teach-plot")
            with gr.Column(scale=1, min_width=340):
                threshold = gr.Slider(cmp.threshold - 1, cmp.threshold + 1, value=cmp.threshold,
                                      label="Decision threshold", elem_id="teach-threshold",
                                      info="'Same' when the distance is at most this.")
                reset = gr.Button("Back to the model's own threshold", size="sm", variant="secondary",
                                  elem_id="teach-threshold-reset")
                scores = gr.HTML("", elem_id="scores")
                dist = gr.HTML("", elem_id="teach-dist")
        mistakes = gr.HTML("", elem_id="mistakes")
        key_shown = gr.State(None)
        timer = gr.Timer(1.0, active=False)
    t = ThresholdTab(tab, threshold, reset, roc, scores, dist, mistakes, key_shown, timer)
    outputs = [threshold, roc, scores, dist, mistakes, key_shown, timer]
    common = dict(outputs=outputs, show_progress="hidden", api_visibility="private")
    # One path to the views: Reset only forgets which model the slider shows (so the next render
    # puts it back on the model's own threshold), and that change reaches the one handler.
    gr.on([tab.select, timer.tick, threshold.input, model_key.change, key_shown.change],
          lambda k, v, ks: render(cache, k, v, ks), [model_key, threshold, key_shown], trigger_mode="always_last",
          **common)
    reset.click(lambda: None, None, key_shown, show_progress="hidden", api_visibility="private")
    return t
