"""The "Losses" tab: the three training losses with their formulas, and a 2-D toy that shows
what each one pulls together and pushes apart. The toy's forces are the gradients of the real
`siamese.losses` functions (siamese.toy.toy_losses); "Step" moves the points by them."""
from __future__ import annotations

import time
from dataclasses import dataclass

import gradio as gr
import numpy as np

from siamese.toy import ToyLoss, toy_losses, toy_step

from .common import teach_head

LOSSES = {"Cross-entropy (the blog's)": "bce", "Contrastive": "contrastive", "Triplet": "triplet"}
LAYOUTS = {
    "Negative too close": [[-0.7, 0.2], [1.0, 0.9], [-0.3, -0.35]],
    "Positive far, negative close": [[-1.4, 0.1], [1.7, 0.9], [-0.7, -0.5]],
    "Already well apart": [[-0.9, 0.3], [-0.35, 0.75], [1.9, -1.3]],
}
LR = 0.1  # one step: points - LR * gradient
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]

INTRO = """<div class="teach-intro"><h3>Losses: what training pulls together and pushes apart</h3>
<p>Training shows the network pairs (or triplets) of digits and nudges the tower's weights so
that the descriptors of the same digit move closer and those of different digits move apart.
The loss decides how hard each pair is pulled or pushed. Below, each loss on a toy: three
descriptors in 2-D instead of {dim}-D. <b>A</b> and <b>P</b> show the same digit,
<b>N</b> another. The arrows are the real gradients of this project's loss functions.</p></div>"""

CARDS = {
    "bce": r"""#### Cross-entropy (the blog's loss)
A small head turns the squared difference into the chance of *same*:
$$p(a,b) = \sigma\Big(c - \sum_i v_i\,(a_i - b_i)^2\Big)$$
$$\mathcal{L} = -\log p(A,P) \;-\; \log\big(1 - p(A,N)\big)$$
Every pair always pulls or pushes a little: the force fades as the head grows confident, but
never stops. The network learns the distance (the weights $v_i$) too.""",
    "contrastive": r"""#### Contrastive (Hadsell et al. 2006)
With $d = \lVert a - b\rVert$, the Euclidean distance:
$$\mathcal{L} = d(A,P)^2 \;+\; \max\big(0,\; m - d(A,N)\big)^2$$
Same pairs are pulled all the way to distance 0; different pairs are pushed only while they
are closer than the margin $m$, then left alone.""",
    "triplet": r"""#### Triplet (Schroff et al. 2015, FaceNet)
One anchor, one positive, one negative:
$$\mathcal{L} = \max\big(0,\; d(A,P) - d(A,N) + m\big)$$
Only the *order* matters: N must be at least $m$ farther from A than P is. Once it is,
nothing moves, however far P still is.""",
}

# -- the toy's picture ----------------------------------------------------------------------------
W, H = 560, 420
SCALE = 84.0  # px per unit: the visible world is x in [-3.3, 3.3], y in [-2.5, 2.5]
ARROW = 0.42  # arrow length per unit of gradient (world units), capped at MAX_ARROW
MAX_ARROW = 1.5
DISC = 13  # px, a point's radius


@dataclass
class LossesTab:
    tab: gr.Tab
    loss: gr.Radio
    margin: gr.Slider
    layout: gr.Dropdown
    step: gr.Button
    run: gr.Button
    reset: gr.Button
    toy: gr.HTML
    readout: gr.HTML
    points: gr.State


def _px(p) -> tuple[float, float]:
    return W / 2 + float(p[0]) * SCALE, H / 2 - float(p[1]) * SCALE


def _arrow(p, move, cls: str) -> str:
    """An arrow along `move` (world units) from the edge of point p's disc, or nothing when
    the force is (nearly) zero."""
    length = float(np.hypot(*move))
    if length < 1e-3:
        return ""
    unit = np.asarray(move) / length
    length = min(max(length, 0.12), MAX_ARROW)  # a weak force still shows
    x0, y0 = _px(p)
    start = (x0 + unit[0] * DISC, y0 - unit[1] * DISC)
    end = (start[0] + unit[0] * length * SCALE, start[1] - unit[1] * length * SCALE)
    return (f'<line x1="{start[0]:.1f}" y1="{start[1]:.1f}" x2="{end[0]:.1f}" y2="{end[1]:.1f}" '
            f'class="force {cls}" marker-end="url(#tip-{cls})"/>')


def toy_svg(points, t: ToyLoss, margin: float) -> str:
    pts = np.asarray(points, dtype=np.float32).reshape(3, 2)
    a, p, n = pts
    ax, ay = _px(a)
    parts = [f'<svg class="toy-svg" viewBox="0 0 {W} {H}" role="img" aria-label="{t.loss} loss on three points">',
             '<defs>' + "".join(
                 f'<marker id="tip-{c}" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="6" markerHeight="6" '
                 f'orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" class="tip-{c}"/></marker>'
                 for c in ("pull", "push")) + '</defs>',
             f'<rect x="0" y="0" width="{W}" height="{H}" class="toy-bg"/>']
    for gx in range(-3, 4):
        x, _ = _px((gx, 0))
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{H}" class="toy-grid"/>')
    for gy in range(-2, 3):
        _, y = _px((0, gy))
        parts.append(f'<line x1="0" y1="{y:.1f}" x2="{W}" y2="{y:.1f}" class="toy-grid"/>')
    # The margin ring around A: where the loss stops (or starts) caring about N.
    if t.loss == "contrastive":
        r, what = margin, "margin m: N is pushed only inside"
    elif t.loss == "triplet":
        r, what = t.d_ap + margin, "d(A,P) + m: N must be outside"
    else:
        r, what = margin, "p(same) = \u00bd here"
    parts.append(f'<circle cx="{ax:.1f}" cy="{ay:.1f}" r="{r * SCALE:.1f}" class="ring" id="toy-ring"/>'
                 f'<text x="{ax:.1f}" y="{ay - r * SCALE - 6:.1f}" class="ring-label">{what}</text>')
    for q, cls, d in ((p, "pull", t.d_ap), (n, "push", t.d_an)):
        qx, qy = _px(q)
        # The distance label beside the line's middle, off to one side by 14 px.
        dx, dy = qx - ax, qy - ay
        norm = max(float(np.hypot(dx, dy)), 1e-9)
        side = 1 if cls == "pull" else -1
        off = 14 if norm > 3 * DISC else 2 * DISC  # clear of the discs when the points are close
        lx, ly = (ax + qx) / 2 - side * dy / norm * off, (ay + qy) / 2 + side * dx / norm * off + 4
        parts.append(f'<line x1="{ax:.1f}" y1="{ay:.1f}" x2="{qx:.1f}" y2="{qy:.1f}" class="pair-line {cls}"/>'
                     f'<text x="{lx:.1f}" y="{ly:.1f}" class="pair-d {cls}">{d:.2f}</text>')
    for i, q in enumerate(pts):  # the forces: minus each part's gradient
        parts.append(_arrow(q, -ARROW * t.pull[i], "pull") + _arrow(q, -ARROW * t.push[i], "push"))
    for q, name, cls in ((a, "A", "same"), (p, "P", "same"), (n, "N", "diff")):
        qx, qy = _px(q)
        parts.append(f'<g class="toy-pt {cls}" data-point="{name}"><circle cx="{qx:.1f}" cy="{qy:.1f}" r="{DISC}"/>'
                     f'<text x="{qx:.1f}" y="{qy + 5:.1f}">{name}</text></g>')
    parts.append('</svg>')
    legend = ('<div class="plot-legend"><span class="key same"></span>A, P: the same digit'
              '<span class="key diff"></span>N: another digit<span class="key pull-key"></span>pull (same pair)'
              '<span class="key push-key"></span>push (different pair)</div>')
    return f'<div class="toy-box" data-loss="{t.loss}" data-value="{t.value:.6f}">{legend}{"".join(parts)}</div>'


def readout_html(t: ToyLoss, margin: float) -> str:
    m = f"{margin:.2f}"
    if t.loss == "contrastive":
        pull = (f"A and P are pulled together (force 2\u00b7d = {2 * t.d_ap:.2f}): contrastive wants same pairs at "
                f"distance 0.")
        push = (f"N is inside the margin (d(A,N) = {t.d_an:.2f} &lt; m = {m}): pushed out, harder the deeper it is."
                if t.d_an < margin else
                f"N is beyond the margin (d(A,N) = {t.d_an:.2f} \u2265 m = {m}): this pair costs nothing and nothing "
                f"pushes it.")
        parts = f"d(A,P)\u00b2 = {t.terms['pull']:.3f} + max(0, m \u2212 d(A,N))\u00b2 = {t.terms['push']:.3f}"
    elif t.loss == "triplet":
        v = t.terms["violation"]
        if v > 0:
            pull = (f"d(A,P) \u2212 d(A,N) + m = {v:.2f} &gt; 0: the triplet is violated, so P is pulled in with a "
                    f"force of 1, whatever its distance.")
            push = ("N is pushed out with the same force of 1, until it is m farther from A than P is: only the "
                    "order of the two distances counts.")
        else:
            pull = (f"d(A,P) \u2212 d(A,N) + m = {v:.2f} \u2264 0: N is already m farther than P. The loss is 0 and "
                    f"nothing moves, although A and P are {t.d_ap:.2f} apart.")
            push = "None either: triplet training stops caring about a triplet once its order is right by a margin."
        parts = f"max(0, {t.d_ap:.2f} \u2212 {t.d_an:.2f} + {m}) = {max(v, 0):.3f}"
    else:
        pa, pn = t.terms["p_same_AP"], t.terms["p_same_AN"]
        pull = (f"For A, P the head says p(same) = {pa * 100:.0f}%: \u2212log p = {t.terms['pull']:.3f} pulls them "
                f"together, less as p nears 100%.")
        push = (f"For A, N it says {pn * 100:.0f}%: \u2212log(1 \u2212 p) = {t.terms['push']:.3f} pushes them apart, "
                f"less as p nears 0%, but never exactly 0.")
        parts = (f"\u2212log {pa:.3f} \u2212 log(1 \u2212 {pn:.3f}); in the toy the head is "
                 f"p = \u03c3(m\u00b2 \u2212 d\u00b2), so the ring (d = m) is where p = \u00bd.")
    return (f'<div class="toy-readout" data-loss="{t.loss}"><div class="toy-loss"><b id="toy-loss-value">{t.value:.3f}</b>'
            f'<span>loss</span></div><div class="toy-ds"><span>d(A,P) = <b>{t.d_ap:.2f}</b></span>'
            f'<span>d(A,N) = <b>{t.d_an:.2f}</b></span><span>m = <b>{m}</b></span></div>'
            f'<p class="muted">{parts}</p><p><span class="pull-word">Pull.</span> {pull}</p>'
            f'<p><span class="push-word">Push.</span> {push}</p></div>')


def render(points, loss_label: str, margin: float):
    """(toy picture, readout) for the points as they are."""
    loss = LOSSES.get(loss_label, "contrastive")
    t = toy_losses(points, loss, float(margin))
    return toy_svg(points, t, float(margin)), readout_html(t, float(margin))


def step(points, loss_label: str, margin: float, n: int = 1):
    """Gradient steps on the toy; yields (picture, readout, points) after each."""
    loss = LOSSES.get(loss_label, "contrastive")
    pts = np.asarray(points, dtype=np.float32)
    for i in range(n):
        pts = np.clip(toy_step(pts, loss, float(margin), LR), -3.2, 3.2)
        if n > 1 and i:
            time.sleep(0.05)  # an animation, not a jump
        yield (*render(pts, loss_label, margin), pts.tolist())


def reset(layout: str, loss_label: str, margin: float):
    pts = LAYOUTS.get(layout, next(iter(LAYOUTS.values())))
    return (*render(pts, loss_label, margin), [list(p) for p in pts])


def build(embedding_dim: int = 512) -> LossesTab:
    first_loss, first_layout = "Contrastive", next(iter(LAYOUTS))
    pts0 = LAYOUTS[first_layout]
    svg0, readout0 = render(pts0, first_loss, 1.0)
    with gr.Tab("Losses", id="losses", elem_id="tab-losses") as tab:
        gr.HTML(INTRO.format(dim=embedding_dim), head=teach_head())
        with gr.Row(equal_height=True, elem_classes="loss-cards"):
            for key in ("bce", "contrastive", "triplet"):
                gr.Markdown(CARDS[key], latex_delimiters=LATEX, elem_classes="loss-card",
                            elem_id=f"loss-card-{key}")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=380):
                toy = gr.HTML(svg0, elem_id="toy", elem_classes="teach-plot")
            with gr.Column(scale=2, min_width=300):
                loss = gr.Radio(list(LOSSES), value=first_loss, label="Loss", elem_id="toy-loss")
                margin = gr.Slider(0.2, 3.0, value=1.0, step=0.05, label="Margin m", elem_id="toy-margin")
                layout = gr.Dropdown(list(LAYOUTS), value=first_layout, label="Starting positions",
                                     elem_id="toy-layout")
                with gr.Row():
                    one = gr.Button("One step", elem_id="toy-step", variant="primary", size="sm")
                    many = gr.Button("20 steps", elem_id="toy-run", size="sm")
                    again = gr.Button("Reset", elem_id="toy-reset", size="sm", variant="secondary")
                readout = gr.HTML(readout0, elem_id="toy-readout")
        points = gr.State([list(p) for p in pts0])
    t = LossesTab(tab, loss, margin, layout, one, many, again, toy, readout, points)
    private = dict(api_visibility="private", show_progress="hidden")
    gr.on([loss.change, margin.input], render, [points, loss, margin], [toy, readout],
          trigger_mode="always_last", **private)

    def one_step(p, lo, m):
        yield from step(p, lo, m, 1)

    def many_steps(p, lo, m):
        yield from step(p, lo, m, 20)

    one.click(one_step, [points, loss, margin], [toy, readout, points], **private)
    many.click(many_steps, [points, loss, margin], [toy, readout, points], **private)
    gr.on([again.click, layout.change], reset, [layout, loss, margin], [toy, readout, points], **private)
    return t
