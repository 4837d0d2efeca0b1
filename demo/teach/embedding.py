"""The "Embedding space" tab: MNIST test digits where the model puts them, in 2-D.

An inline SVG (one circle per digit, coloured by class) in a gr.HTML whose `js_on_load` shows
the digit under the pointer: the digits travel once per map as one PNG sprite sheet, and the
tooltip shows the right tile of it. The last comparison's two digits (the Compare tab's
`shown` state) are drawn as the large A and B markers, with their own 28x28 images. Digits the
model was trained without (`siamese.checkpoint.excluded_digits`) are ringed dots, named "never
seen" in the legend and the tooltip.
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
import torch

from siamese.data import NUM_CLASSES
from siamese.projection import MAP_PER_CLASS, EmbeddingMap, map_features
from siamese.reference import Reference

from ..models import session_of
from ..views import DIGIT_COLOURS, digits_text, fit_frame, fmt, png_data_uri, unseen_label
from .cache import TeachCache
from .common import status_html, teach_head, unseen_of
from .lessons import Lessons

METHODS = {"PCA (linear)": "pca", "t-SNE (non-linear)": "tsne"}
W, H, H_MIN, PAD = 720, 560, 360, 26  # the SVG's viewBox (its height fits the map) and margin
ATLAS_COLS = 40
TILE = 84  # px: a tooltip digit (28 x 3)

INTRO = """<div class="teach-intro"><h3>Embedding space</h3>
<p>The tower turns every digit into {dim} numbers, its <i>descriptor</i>. Here are the descriptors
of {n:,} MNIST test digits ({per} of each), squeezed into two dimensions so we can look at them.
A network that learned to compare digits puts the same digit drawn by different people close
together: each colour should form its own island. <b>Hover over a dot</b> to see its digit;
click a digit in the legend to show only that class.</p></div>"""

# Shows the digit under the pointer. `element` is the gr.HTML's root; the template re-renders
# on every new value, so everything is looked up from it at event time.
JS = r"""
const cache = new WeakMap();
const points = (svg) => {
  let p = cache.get(svg);
  if (!p) {
    p = Array.from(svg.querySelectorAll('circle.pt'),
                   (c, k) => [+c.getAttribute('cx'), +c.getAttribute('cy'), c, k]);
    cache.set(svg, p);
  }
  return p;
};
let hot = null;
const hide = () => {
  const tip = element.querySelector('.emb-tip');
  if (tip) tip.style.display = 'none';
  if (hot) { hot.classList.remove('hot'); hot = null; }
};
element.addEventListener('mousemove', (e) => {
  const wrap = element.querySelector('.emb-wrap');
  const svg = wrap && wrap.querySelector('svg.emb-svg');
  const tip = wrap && wrap.querySelector('.emb-tip');
  if (!svg || !tip) return;
  const ctm = svg.getScreenCTM();
  if (!ctm) return;
  const q = new DOMPoint(e.clientX, e.clientY).matrixTransform(ctm.inverse());
  const focus = svg.dataset.focus || '';
  let best = null, bd = Infinity;
  for (const p of points(svg)) {
    if (focus && p[2].dataset.d !== focus) continue;
    const d = (p[0] - q.x) ** 2 + (p[1] - q.y) ** 2;
    if (d < bd) { bd = d; best = p; }
  }
  const reach = 16 / ctm.a;  // 16 screen pixels, in SVG units
  if (!best || bd > reach * reach) { hide(); return; }
  if (hot !== best[2]) { if (hot) hot.classList.remove('hot'); hot = best[2]; hot.classList.add('hot'); }
  const cols = +wrap.dataset.cols, tile = +wrap.dataset.tile, k = best[3];
  const img = tip.querySelector('.emb-tip-img');
  img.style.backgroundImage = 'url(' + wrap.dataset.atlas + ')';
  img.style.backgroundSize = (cols * tile) + 'px auto';
  img.style.backgroundPosition = (-(k % cols) * tile) + 'px ' + (-Math.floor(k / cols) * tile) + 'px';
  tip.querySelector('.emb-tip-txt').innerHTML =
    '<b>' + best[2].dataset.d + '</b> test digit #' + best[2].dataset.t +
    (best[2].classList.contains('unseen') ? '<br><i>never seen in training</i>' : '');
  tip.dataset.digit = best[2].dataset.d;
  const box = wrap.getBoundingClientRect();
  let x = e.clientX - box.left + 14, y = e.clientY - box.top + 14;
  if (x + 120 > box.width) x -= 148;
  if (y + 130 > box.height) y -= 150;
  tip.style.left = x + 'px'; tip.style.top = y + 'px'; tip.style.display = 'block';
});
element.addEventListener('mouseleave', hide);
element.addEventListener('click', (e) => {
  const chip = e.target.closest('[data-focus-digit]');
  const svg = element.querySelector('svg.emb-svg');
  if (!chip || !svg) return;
  const d = chip.dataset.focusDigit;
  svg.dataset.focus = svg.dataset.focus === d ? '' : d;
  element.querySelectorAll('[data-focus-digit]').forEach((c) =>
    c.classList.toggle('off', !!svg.dataset.focus && c.dataset.focusDigit !== svg.dataset.focus));
  hide();
});
"""


@dataclass
class Marker:
    """One of the user's two digits on the map."""

    name: str  # "A" or "B"
    image: np.ndarray  # (28, 28) float, what the network saw
    xy: np.ndarray  # (2,) map coordinates
    near: int  # majority label of its nearest map digits
    near_count: int


@dataclass
class EmbeddingTab:
    tab: gr.Tab
    method: gr.Radio
    map: gr.HTML
    info: gr.HTML
    timer: gr.Timer


# -- computing -----------------------------------------------------------------------------------
def markers(ref: Reference, emap: EmbeddingMap, shown, k: int = 7) -> tuple[list[Marker], dict | None]:
    """The Compare tab's last two digits placed on `emap` by the current model, and that model's
    verdict on them ({distance, same_probability, same}); ([], None) without a comparison."""
    if shown is None:
        return [], None
    cmp = ref.comparator
    images = np.stack([shown.image_a, shown.image_b]).astype(np.float32)  # (2, 28, 28)
    emb = cmp.embed(images)  # (2, D)
    f = map_features(cmp, emb)
    xy = emap.place(f)
    near = emap.nearest(f, k)  # (2, k)
    out = []
    for name, img, p, nn in zip("AB", images, xy, near):
        labels, counts = np.unique(emap.labels[nn], return_counts=True)
        out.append(Marker(name, img, p, int(labels[counts.argmax()]), int(counts.max())))
    d = float(cmp.distance(emb[:1], emb[1:])[0])
    p = float(cmp.same_probability(emb[:1], emb[1:])[0])
    return out, {"distance": d, "same_probability": p, "same": d <= cmp.threshold}


def _frame(xy: np.ndarray):
    """(map coordinates -> SVG coordinates, the SVG's height): `fit_frame` in this map's box."""
    return fit_frame(xy, W, H_MIN, H, PAD)


def atlas_uri(ref: Reference, emap: EmbeddingMap) -> str:
    """All the map's digits as one PNG, ATLAS_COLS per row, in map order."""
    imgs = ref.images[torch.as_tensor(emap.indices)].numpy()  # (n, 28, 28) uint8
    n = len(imgs)
    rows = -(-n // ATLAS_COLS)
    sheet = np.zeros((rows * 28, ATLAS_COLS * 28), np.uint8)
    for k, im in enumerate(imgs):
        r, c = divmod(k, ATLAS_COLS)
        sheet[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28] = im
    return png_data_uri(sheet)


def _points_svg(emap: EmbeddingMap, pos: np.ndarray, unseen=()) -> str:
    hidden = set(unseen)
    return "".join(
        f'<circle class="pt{" unseen" if lab in hidden else ""}" cx="{x:.1f}" cy="{y:.1f}" r="3.6" '
        f'data-d="{lab}" data-t="{t}"/>'
        for (x, y), lab, t in zip(pos, emap.labels.tolist(), emap.indices.tolist()))


def _point_style() -> str:
    """The points' fill per digit, from the page's one palette."""
    rules = " ".join(f'.emb-svg circle.pt[data-d="{d}"] {{ fill: {c}; }}' for d, c in enumerate(DIGIT_COLOURS))
    return f"<style>{rules}</style>"


def _legend(unseen=()) -> str:
    chips = "".join(f'<span class="emb-chip{" unseen" if d in unseen else ""}" data-focus-digit="{d}" '
                    f'title="show only the {d}s"><i style="background:{c}"></i>'
                    f'{unseen_label(d) if d in unseen else d}</span>' for d, c in enumerate(DIGIT_COLOURS))
    return (f'<div class="emb-legend">{chips}<span class="emb-chip-you"><i></i>your digits A and B '
            f'(from Compare)</span></div>')


def _marker_svg(m: Marker, at: np.ndarray, height: float, left: bool = False) -> str:
    """The marker, and its digit beside it (on the left if asked, or if the right edge is near)."""
    x, y = float(at[0]), float(at[1])
    size = 46
    left = (left and x - 12 - size > 0) or x + 12 + size >= W
    ix = x - 12 - size if left else x + 12
    iy = max(min(y - size - 6, height - size - 2), 2)
    return (f'<g class="you" data-marker="{m.name}">'
            f'<rect x="{ix - 2:.1f}" y="{iy - 2:.1f}" width="{size + 4}" height="{size + 4}" rx="4" class="you-frame"/>'
            f'<image href="{png_data_uri(m.image)}" x="{ix:.1f}" y="{iy:.1f}" width="{size}" height="{size}" '
            f'preserveAspectRatio="none" style="image-rendering:pixelated"/>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="11" class="you-dot"/>'
            f'<text x="{x:.1f}" y="{y + 4.5:.1f}" class="you-label">{m.name}</text></g>')


def map_html(ref: Reference, les: Lessons, emap: EmbeddingMap, marks: list[Marker], verdict: dict | None) -> str:
    """The map: points (cached per model and method), then this session's A and B on top."""
    unseen = unseen_of(ref)
    extra = np.stack([m.xy for m in marks]) if marks else np.zeros((0, 2))
    to_svg, height = _frame(np.concatenate([emap.xy, extra]) if marks else emap.xy)
    if marks:  # the frame changes with the markers: the points move too
        points = _points_svg(emap, to_svg(emap.xy), unseen)
    else:
        points = les.memo(f"svg-points:{emap.method}", lambda: _points_svg(emap, to_svg(emap.xy), unseen))
    atlas = les.memo("atlas", lambda: atlas_uri(ref, emap))  # both maps show the same digits
    you = ""
    if marks:
        pa, pb = to_svg(marks[0].xy)[0], to_svg(marks[1].xy)[0]
        colour = "same" if verdict and verdict["same"] else "diff"
        mid = (pa + pb) / 2
        close = bool(np.hypot(*(pa - pb)) < 60)  # the two land together
        ly = min(pa[1], pb[1]) - 18 if close else mid[1] - 8
        you = (f'<line x1="{pa[0]:.1f}" y1="{pa[1]:.1f}" x2="{pb[0]:.1f}" y2="{pb[1]:.1f}" class="you-link {colour}"/>'
               + _marker_svg(marks[0], pa, height)
               + _marker_svg(marks[1], pb, height, left=close)  # B's image on the other side then
               + f'<text x="{mid[0]:.1f}" y="{max(ly, 14):.1f}" class="you-dist {colour}">'
                 f'd = {fmt(verdict["distance"])}</text>')
    method = "PCA" if emap.method == "pca" else "t-SNE"
    return (f'<div class="emb-wrap" data-method="{emap.method}" data-n="{len(emap.labels)}" data-cols="{ATLAS_COLS}" '
            f'data-tile="{TILE}" data-unseen="{",".join(map(str, unseen))}" data-atlas="{atlas}">{_point_style()}{_legend(unseen)}'
            f'<svg class="emb-svg" viewBox="0 0 {W} {height:.0f}" role="img" '
            f'aria-label="{method} map of {len(emap.labels)} MNIST test digit descriptors">'
            f'<rect x="0" y="0" width="{W}" height="{height:.0f}" class="emb-bg"/>'
            f'<g class="pts">{points}</g>{you}</svg>'
            f'<div class="emb-tip" style="display:none"><div class="emb-tip-img" style="width:{TILE}px;height:{TILE}px">'
            f'</div><div class="emb-tip-txt"></div></div></div>')


def info_html(ref: Reference, emap: EmbeddingMap, marks: list[Marker], verdict: dict | None,
              tsne_pending: bool = False) -> str:
    cmp = ref.comparator
    head = cmp.model.config.metric == "head"
    if emap.method == "pca":
        how = ("<b>PCA</b> keeps the two directions along which the descriptors vary most: a faithful "
               "shadow of the full space, so clusters that overlap here may still be apart in "
               f"{cmp.model.config.embedding_dim} dimensions.")
    else:
        how = ("<b>t-SNE</b> moves the points until each one's nearest neighbours in the full space are "
               "its neighbours on the map too. Islands are real; the distances <i>between</i> islands "
               "and their sizes mean little.")
    scale = (" Each of the descriptor's numbers is first scaled by how much the model's head weighs it "
             "(\u221a|v\u1d62|), so the map shows the distance the network decides on."
             if head else " The distance is the plain Euclidean one the model was trained with.")
    parts = [f'<div class="emb-info"><p>{how}{scale}</p>']
    unseen = unseen_of(ref)
    if unseen:
        parts.append(f'<div class="emb-unseen" data-unseen="{",".join(map(str, unseen))}"><b>This model never saw '
                     f'{digits_text(unseen)}</b> while it trained (ringed dots, \u201cnever seen\u201d in the legend). '
                     f'Do they still gather into clusters of their own? Then it learned <i>how</i> to compare, '
                     f'not just the digits it was shown.</div>')
    if marks:
        said = "same" if verdict["same"] else "different"
        where = ("placed by the PCA projection" if emap.method == "pca"
                 else "placed at the centre of its 5 nearest map digits (t-SNE cannot project new points)")
        parts.append(
            f'<div class="emb-you"><b>Your digits</b> from the Compare tab, {where}: '
            f'<b>A</b> lands among the <b>{marks[0].near}s</b>, <b>B</b> among the <b>{marks[1].near}s</b> '
            f'({marks[0].near_count} and {marks[1].near_count} of their 7 nearest map digits). '
            f'Distance {fmt(verdict["distance"])} vs threshold {fmt(cmp.threshold)}: the network says '
            f'<span class="verdict-word {said}">{said}</span> ({verdict["same_probability"] * 100:.0f}% same).</div>')
    else:
        parts.append('<div class="emb-you muted">Compare two digits on the <b>Compare</b> tab and they show up '
                     'here as <b>A</b> and <b>B</b>, among the MNIST digits they resemble.</div>')
    if tsne_pending:
        parts.append('<div class="emb-you muted">The t-SNE map of this model is being computed (a few seconds, '
                     'once per model); the PCA map is shown meanwhile.</div>')
    parts.append("</div>")
    return "".join(parts)


def prepare(ref: Reference, les: Lessons) -> None:
    """Compute and keep this model's PCA map with its rendered points and sprite sheet."""
    map_html(ref, les, les.map("pca"), [], None)


def render(cache: TeachCache, key: str, shown, method_label: str):
    """Tab selected / method changed / model changed / timer: (map html, info html, timer).
    `shown`: the session's last compared pair on the Compare tab (handlers.Shown) or None."""
    ref, status = cache.reference(key)
    if ref is None:
        note = status_html(status, cache.models, "the map")
        return note, "", gr.Timer(active=status == "loading")
    return cache.run(_render, cache, ref, shown, method_label)


def _render(cache: TeachCache, ref: Reference, shown, method_label: str):
    les = cache.lessons(ref)
    method = METHODS.get(method_label, "pca")
    pending = False
    if method == "tsne" and not cache.tsne_ready(ref):
        cache.start_tsne(ref)
        method, pending = "pca", True
    emap = les.map(method)
    marks, verdict = markers(ref, emap, shown)
    cache.warm(ref)  # the other tabs' parts, next on the same worker
    if not pending and method == "pca":
        cache.start_tsne(ref)  # in the background, so the other map is there when asked for
    return (map_html(ref, les, emap, marks, verdict), info_html(ref, emap, marks, verdict, pending),
            gr.Timer(active=pending))


def build(cache: TeachCache, model_key: gr.State, seen) -> EmbeddingTab:
    """`seen` (demo.compare.handlers.Seen): each session's last compared pair, which the map marks."""
    dim = cache.models.comparator(None).model.config.embedding_dim
    with gr.Tab("Embedding space", id="embedding", elem_id="tab-embedding") as tab:
        gr.HTML(INTRO.format(dim=dim, n=MAP_PER_CLASS * NUM_CLASSES, per=MAP_PER_CLASS), head=teach_head())
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                emb_map = gr.HTML(status_html("loading", cache.models, "the map"), elem_id="emb-map",
                                  js_on_load=JS, elem_classes="teach-plot")
            with gr.Column(scale=1, min_width=260):
                method = gr.Radio(list(METHODS), value="PCA (linear)", label="Projection to 2-D",
                                  elem_id="emb-method")
                info = gr.HTML("", elem_id="emb-info")
        timer = gr.Timer(1.0, active=False)
    t = EmbeddingTab(tab, method, emb_map, info, timer)
    def show(key, method_label, request: gr.Request):
        return render(cache, key, seen.get(session_of(request)), method_label)

    gr.on([tab.select, method.change, timer.tick, model_key.change], show,
          [model_key, method], [emb_map, info, timer], show_progress="hidden",
          trigger_mode="always_last", api_visibility="private")
    return t
