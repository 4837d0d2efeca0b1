"""The "One-shot" tab: a verifier becomes a classifier. One drawn digit is compared with one
reference per class (random MNIST test digits, re-drawable, or the learner's own drawings), and
the ten same-probabilities are ranked as bars; the model's measured one-shot accuracy beside.
The candidate classes can be any two or more digits: for a model trained without some digits
(`siamese.checkpoint.excluded_digits`), one click ranks among those it never saw only, and the
accuracy beside is then N-way among them."""
from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr
import numpy as np
import torch

from siamese import BlankImageError, ImageError
from siamese.data import NUM_CLASSES
from siamese.oneshot import class_references, one_shot_ranking
from siamese.reference import Reference

from ..inputs import digit_pad, sketch_image
from ..views import bar_pct, digits_text, fmt, pct, png_data_uri
from .cache import TeachCache
from .common import status_html, teach_head, unseen_of

INTRO = """<div class="teach-intro"><h3>One-shot classification</h3>
<p>The siamese network was never taught ten classes: it only answers <i>"same digit or not?"</i>.
Yet one example per class is enough to make it a classifier. Show it one reference of each digit,
ask the question ten times, and pick the reference it finds most alike. That is <b>one-shot
learning</b>: a new class needs one example, not thousands, and no retraining.
<b>Draw a digit</b> and see the answers, ranked.</p></div>"""
EMPTY_HINT = "Draw a digit on the left: it is compared with each of the references below."
ALL_CLASSES = [str(c) for c in range(NUM_CLASSES)]
MIN_CLASSES = 2  # a ranking needs a runner-up
FEW_HINT = f"Tick at least {MIN_CLASSES} candidate classes: one-shot classification picks one among them."


@dataclass
class OneShotTab:
    tab: gr.Tab
    sketch: gr.HTML  # demo.inputs.digit_pad: its value is the drawing; its Clear is in it
    label: gr.Dropdown
    use: gr.Button
    redraw: gr.Button
    mnist: gr.Button
    classes: gr.CheckboxGroup
    only_unseen: gr.Button
    all_classes: gr.Button
    result: gr.HTML
    accuracy: gr.HTML
    refs: gr.HTML
    seed: gr.State
    own: gr.State
    timer: gr.Timer


def candidate_classes(chosen) -> list[int]:
    """The CheckboxGroup's ticked digits (strings) -> sorted ints; None: all ten."""
    return list(range(NUM_CLASSES)) if chosen is None else sorted({int(c) for c in chosen})


def references(ref: Reference, seed: int, own: dict | None, classes=None):
    """One reference per candidate class (default all ten): [(label, (28, 28) image, source)]
    and their (C, D) descriptors. source is the MNIST test position (int) or "yours". A class
    keeps its reference for a seed whichever others are candidates."""
    cmp = ref.comparator
    classes = candidate_classes(classes)
    own = {c: x for c, x in (own or {}).items() if c in classes}
    idx = class_references(ref.labels, seed)
    items, emb = [], []
    mine = sorted(own)
    mine_emb = cmp.embed(np.stack([own[c] for c in mine]).astype(np.float32)) if mine else None
    for c in classes:
        if c in own:
            items.append((c, np.asarray(own[c]), "yours"))
            emb.append(mine_emb[mine.index(c)])
        else:
            items.append((c, ref.images[idx[c]].numpy(), idx[c]))
            emb.append(ref.embeddings[idx[c]])
    return items, torch.stack(emb)


def refs_html(items, seed: int) -> str:
    cells = "".join(
        f'<figure class="{"yours" if src == "yours" else "mnist"}" data-label="{c}">'
        f'<img src="{png_data_uri(img)}" alt="reference {c}"><figcaption><b>{c}</b>'
        f'<span>{"yours" if src == "yours" else f"test #{src}"}</span></figcaption></figure>'
        for c, img, src in items)
    n_own = sum(src == "yours" for _, _, src in items)
    mine = f", {n_own} of them drawn by you" if n_own else ""
    return (f'<div class="os-refs" data-seed="{seed}" data-classes="{",".join(str(c) for c, _, _ in items)}">'
            f'<div class="teach-sub">The references: one per candidate class '
            f'(random MNIST test digits, draw #{seed + 1}{mine})</div><div class="os-ref-grid">{cells}</div></div>')


def result_html(query: np.ndarray | None, ranked, items, message: str | None = None, kind: str = "hint") -> str:
    if query is None:
        return (f'<div class="os-result empty" data-state="{kind}"><div class="teach-note {kind}">'
                f'{html.escape(message or EMPTY_HINT)}</div></div>')
    thumbs = {c: img for c, img, _ in items}
    top, second = ranked[0], ranked[1]
    confident = top.same_probability >= 0.5
    guess = (f'Looks like a <b>{top.label}</b>' if confident
             else f'Unsure: closest to a <b>{top.label}</b>, but no reference is a likely match')
    rows = []
    for i, r in enumerate(ranked):
        rows.append(
            f'<div class="os-row{" top" if i == 0 else ""}" data-label="{r.label}" data-p="{r.same_probability:.6f}">'
            f'<img src="{png_data_uri(thumbs[r.label])}" alt="reference {r.label}"><span class="os-label">{r.label}</span>'
            f'<div class="os-bar"><i style="width:{max(r.same_probability * 100, 0.4):.1f}%"></i></div>'
            f'<span class="os-p">{bar_pct(r.same_probability)}</span>'
            f'<span class="os-d">d {fmt(r.distance)}</span></div>')
    return (f'<div class="os-result" data-top="{top.label}">'
            f'<div class="os-head"><img class="os-query" src="{png_data_uri(query)}" alt="your digit as the network sees it">'
            f'<div><div class="os-guess">{guess}</div><div class="muted">chance of <i>same</i> with each reference, '
            f'most likely first; runner-up {second.label} at {bar_pct(second.same_probability)}</div></div></div>'
            f'<div class="os-bars">{"".join(rows)}</div></div>')


def accuracy_html(ref: Reference, accuracy: float, classes=None) -> str:
    """The model's measured one-shot accuracy, N-way among `classes` (default all ten)."""
    classes = candidate_classes(classes)
    unseen = unseen_of(ref)
    way = len(classes)
    note = ""
    if way == NUM_CLASSES:
        source = ("from this model's evaluation" if "one_shot_accuracy" in ref.comparator.metrics
                  else "measured here for this model")
        what, items = "one-shot accuracy on MNIST", f"{len(ref.labels):,} test digits"
        if unseen:
            note = (f' <span class="os-unseen-note">This model never saw {digits_text(unseen)} while it trained: '
                    f'rank among those only to see how it judges classes it never saw.</span>')
    else:
        source = "measured here for this model"
        n = int(np.isin(ref.labels.numpy(), classes).sum())
        names = digits_text(classes)
        if unseen and set(classes) <= set(unseen):
            what = f"{way}-way one-shot accuracy among {names}, digits it never saw"
        elif unseen and set(classes) & set(unseen):
            never = digits_text(sorted(set(classes) & set(unseen)))
            what = f"{way}-way one-shot accuracy among {names} (never seen: {never})"
        else:
            what = f"{way}-way one-shot accuracy among {names}"
        items = f"{n:,} test digits of these classes"
    return (f'<div class="os-acc" data-accuracy="{accuracy:.6f}" data-way="{way}" '
            f'data-classes="{",".join(map(str, classes))}"><b>{pct(accuracy)}</b>'
            f'<span>{what}</span><small>Each of the {items} against one random '
            f'reference per candidate class; the most likely <i>same</i> wins ({source}). Guessing would get '
            f'{pct(1 / way, 0)}.{note}</small></div>')


def prepare(ref: Reference, les) -> None:
    """Compute and keep this model's one-shot accuracy (when its checkpoint has none)."""
    les.one_shot_accuracy()


def unseen_button(comparator):
    """'Only the digits it never saw (7, 8, 9)', for a model trained without some; else hidden."""
    unseen = unseen_of(comparator)
    if len(unseen) < MIN_CLASSES:  # one never-seen digit: nothing to choose among
        return gr.Button(visible=False)
    return gr.Button(f"Only the digits it never saw ({digits_text(unseen)})", visible=True)


def render(cache: TeachCache, key: str, sketch, seed: int, own: dict | None, classes=None):
    """(result, accuracy, references, timer, the never-seen button)."""
    ref, status = cache.reference(key)
    if ref is None:
        note = status_html(status, cache.models, "one-shot classification")
        return note, "", "", gr.Timer(active=status == "loading"), gr.skip()
    return (*cache.run(_render, cache, ref, sketch, seed, own, classes), unseen_button(ref.comparator))


def _render(cache: TeachCache, ref: Reference, sketch, seed: int, own: dict | None, classes=None):
    les = cache.lessons(ref)
    cache.warm(ref)
    classes = candidate_classes(classes)
    if len(classes) < MIN_CLASSES:
        return result_html(None, None, [], FEW_HINT, "error"), "", "", gr.Timer(active=False)
    items, ref_emb = references(ref, int(seed or 0), own, classes)
    image = sketch_image(sketch)
    query, message, kind = None, None, "hint"
    if image is not None:
        try:
            query = ref.comparator.preprocess(image)
        except BlankImageError:
            message = EMPTY_HINT
        except ImageError as e:
            message, kind = str(e), "error"
    if query is None:
        result = result_html(None, None, items, message, kind)
    else:
        q = ref.comparator.embed(query[None])  # (1, D)
        result = result_html(query, one_shot_ranking(ref.comparator, q, ref_emb, classes), items)
    return (result, accuracy_html(ref, les.one_shot_accuracy(classes), classes), refs_html(items, int(seed or 0)),
            gr.Timer(active=False))


def keep_drawing(cache: TeachCache, key: str, sketch, label, own: dict | None) -> dict:
    """'Use as reference': the drawing, as the network sees it, becomes the reference of `label`."""
    image = sketch_image(sketch)
    if image is None:
        raise gr.Error("Draw a digit first, then make it a reference.", title="Nothing drawn")
    try:
        x = cache.models.comparator(key).preprocess(image)
    except ImageError as e:
        raise gr.Error(str(e), title="Cannot use this drawing") from None
    out = dict(own or {})
    out[int(label)] = x
    return out


def build(cache: TeachCache, model_key: gr.State) -> OneShotTab:
    with gr.Tab("One-shot", id="oneshot", elem_id="tab-oneshot") as tab:
        gr.HTML(INTRO, head=teach_head())
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300, elem_classes="side"):
                gr.HTML('<div class="side-title">Your digit</div>')
                sketch = digit_pad("sketch-oneshot", "draw a digit here", clear_id="oneshot-clear")
                with gr.Group(elem_classes="os-own"):
                    gr.HTML('<div class="os-own-title">Teach it your handwriting: make this drawing the '
                            'reference of its class</div>')
                    with gr.Row(equal_height=True):
                        label = gr.Dropdown([str(c) for c in range(NUM_CLASSES)], value="0", min_width=90, scale=1,
                                            show_label=False, container=False, elem_id="oneshot-label")
                        use = gr.Button("Use as the reference", elem_id="oneshot-use", size="sm", scale=2)
            with gr.Column(scale=3, min_width=360):
                result = gr.HTML(result_html(None, None, []), elem_id="oneshot-result")
                accuracy = gr.HTML("", elem_id="oneshot-accuracy")
        with gr.Row(equal_height=True, elem_id="oneshot-classes-row"):
            classes = gr.CheckboxGroup(ALL_CLASSES, value=ALL_CLASSES, label="Candidate classes",
                                       info="The digits it chooses among, one reference each. A model trained "
                                            "without some digits can be asked about those only.",
                                       elem_id="oneshot-classes", scale=3)
            with gr.Column(scale=1, min_width=200):
                only_unseen = gr.Button("Only the digits it never saw", visible=False, size="sm", variant="primary",
                                        elem_id="oneshot-only-unseen")
                all_classes = gr.Button("All ten", size="sm", variant="secondary", elem_id="oneshot-all-classes")
        refs = gr.HTML("", elem_id="oneshot-refs")
        with gr.Row():
            redraw = gr.Button("New random references", elem_id="oneshot-redraw", size="sm", scale=0,
                               min_width=220)
            mnist = gr.Button("Forget my references", elem_id="oneshot-mnist", size="sm", variant="secondary",
                              scale=0, min_width=200)
        seed, own = gr.State(0), gr.State({})
        timer = gr.Timer(1.0, active=False)
    t = OneShotTab(tab, sketch, label, use, redraw, mnist, classes, only_unseen, all_classes, result,
                   accuracy, refs, seed, own, timer)

    inputs = [model_key, sketch, seed, own, classes]
    outputs = [result, accuracy, refs, timer, only_unseen]
    again = dict(fn=lambda k, s, sd, o, c: render(cache, k, s, sd, o, c), inputs=inputs, outputs=outputs,
                 show_progress="hidden", trigger_mode="always_last", api_visibility="private")
    # One path to the result: the buttons only change an input (in the browser where they can),
    # and every input's change reaches the one handler.
    gr.on([tab.select, sketch.change, timer.tick, classes.change, seed.change, own.change, model_key.change],
          **again)
    private = dict(api_visibility="private", show_progress="hidden")
    only_unseen.click(lambda k: [str(d) for d in unseen_of(cache.models.comparator(k))]
                      if cache.models.alive(k) else gr.skip(), model_key, classes, **private)
    all_classes.click(None, None, classes, js=f"() => {ALL_CLASSES!r}", **private)
    redraw.click(lambda s: int(s or 0) + 1, seed, seed, **private)
    mnist.click(lambda: {}, None, own, **private)
    use.click(lambda k, s, lab, o: keep_drawing(cache, k, s, lab, o), [model_key, sketch, label, own], own,
              **private)
    return t
