"""The Compare tab: two digit inputs, the verdict and what explains it. Layout and wiring only;
the work is in demo.compare.handlers."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import gradio as gr

from ..distance_plot import slider_span, slider_value
from ..examples import example_pairs
from ..inputs import CANVAS, DRAW, EMPTY_SKETCH, UPLOAD, digit_pad, digit_upload
from ..models import SHIPPED, Models
from . import handlers, views
from .howitworks import how_it_works_html

START_HINT = "Draw or upload two digits, one on each side."
SEEN = "its 28\u00d728 input, enlarged"  # the network views' labels and alt text (a11y.js)


@dataclass
class Side:
    sketch: gr.Sketchpad
    upload: gr.Image
    mode: gr.State
    tabs: gr.Tabs
    draw_tab: gr.Tab
    upload_tab: gr.Tab
    clear: gr.Button


@dataclass
class CompareTab:
    a: Side
    b: Side
    compare: gr.Button
    threshold: gr.Slider
    verdict: gr.HTML
    view_a: gr.Image
    view_b: gr.Image
    plot: gr.HTML
    neighbours_a: gr.HTML
    neighbours_b: gr.HTML
    shown: gr.State
    status: gr.Markdown
    timer: gr.Timer
    shown_key: gr.State  # the model whose threshold and verdict the tab shows

    def model_inputs(self, model_key: gr.State) -> list:
        """What handlers.switch_model reads when the session's model changes..."""
        return [model_key, self.a.sketch, self.a.upload, self.a.mode, self.b.sketch, self.b.upload, self.b.mode,
                self.shown_key]

    def model_outputs(self) -> list:
        """...and what it redraws."""
        return [self.threshold, self.verdict, self.view_a, self.view_b, self.plot, self.neighbours_a,
                self.neighbours_b, self.shown, self.timer, self.shown_key]


def _side(name: str) -> Side:
    n = name.lower()
    with gr.Column(min_width=300, elem_classes="side"):
        gr.HTML(f'<div class="side-title">Digit {name}</div>')
        with gr.Tabs(elem_id=f"tabs-{n}") as tabs:
            with gr.Tab("Draw", id=DRAW, elem_id=f"tab-draw-{n}") as draw_tab:
                sketch = digit_pad(f"sketch-{n}")
            with gr.Tab("Upload", id=UPLOAD, elem_id=f"tab-upload-{n}") as upload_tab:
                upload = digit_upload(
                    elem_id=f"upload-{n}", show_label=False, sources=["upload", "clipboard"],
                    height=CANVAS + 80, buttons=[],
                    placeholder="PNG, JPEG or WebP, any size; dark on light or light on dark",
                )
        clear = gr.Button(f"Clear {name}", elem_id=f"clear-{n}", size="sm", variant="secondary")
    return Side(sketch, upload, gr.State(DRAW), tabs, draw_tab, upload_tab, clear)


def build_compare_tab(models: Models, model_key: gr.State, blocks: gr.Blocks) -> CompareTab:
    cmp = models.comparator(None)
    lo, hi, step = slider_span(cmp.threshold, handlers.example_distance_span(cmp))

    status = gr.Markdown("", elem_id="data-status")
    with gr.Row(equal_height=False, elem_id="compare-row"):  # screens.css: its narrow layouts
        a = _side("A")
        b = _side("B")
        with gr.Column(min_width=320, elem_classes="result-col"):
            verdict = gr.HTML(views.message_html(START_HINT), elem_id="verdict")
            # The views' alt text rides on their title (gr.Image renders no alt, a11y.js sets it).
            alts = " ".join(f'data-alt-{n}="Digit {n.upper()} as the network sees it: {SEEN}"' for n in "ab")
            gr.HTML(f'<div class="views-title" {alts}>What the network sees: A and B as 28\u00d728 inputs</div>')
            with gr.Row(equal_height=True):
                view_a = gr.Image(label=f"Digit A as the network sees it: {SEEN}", show_label=False,
                                  elem_id="view-a", elem_classes="network-view", interactive=False, height=150, format="png",
                                  buttons=["download"])
                view_b = gr.Image(label=f"Digit B as the network sees it: {SEEN}", show_label=False,
                                  elem_id="view-b", elem_classes="network-view", interactive=False, height=150, format="png",
                                  buttons=["download"])
            compare = gr.Button("Compare", variant="primary", size="lg", elem_id="compare-btn")
    examples = gr.Examples(example_pairs(), inputs=[a.upload, b.upload], elem_id="examples",
                           label="Example pairs made for this page (drawn strokes and font digits): click one",
                           examples_per_page=8, api_visibility="private")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=360):
            threshold = gr.Slider(lo, hi, value=slider_value(cmp.threshold, step), step=step, label="Decision threshold",
                                  info="'Same' when the distance is at most this. Default: the model's own.",
                                  elem_id="threshold", buttons=["reset"])
            plot = gr.HTML(views.plot_html(cmp.threshold, None, None, "loading"), elem_id="plot")
            neighbours_a = gr.HTML(views.neighbours_html("A", []), elem_id="neighbours-a")
            neighbours_b = gr.HTML(views.neighbours_html("B", []), elem_id="neighbours-b")
        with gr.Column(scale=2, min_width=300):
            gr.HTML(how_it_works_html(cmp), elem_id="how-it-works")
    shown = gr.State(None)
    timer = gr.Timer(1.0, active=True)

    tab = CompareTab(a, b, compare, threshold, verdict, view_a, view_b, plot, neighbours_a, neighbours_b,
                     shown, status, timer, gr.State(SHIPPED))
    _wire(models, model_key, tab, examples, blocks)
    return tab


def _wire(models: Models, model_key: gr.State, t: CompareTab, examples: gr.Examples, blocks: gr.Blocks) -> None:
    a, b = t.a, t.b
    inputs = [model_key, a.sketch, a.upload, a.mode, b.sketch, b.upload, b.mode, t.threshold]
    outputs = [t.verdict, t.view_a, t.view_b, t.plot, t.neighbours_a, t.neighbours_b, t.shown]
    auto = dict(fn=partial(handlers.compare_sides, models, strict=False), inputs=inputs, outputs=outputs,
                show_progress="hidden", trigger_mode="always_last", api_visibility="private")

    t.compare.click(partial(handlers.compare_sides, models, strict=True), inputs, outputs,
                    show_progress="minimal", api_visibility="private")
    for side in (a, b):
        side.sketch.change(**auto)
        side.upload.upload(lambda: UPLOAD, None, side.mode, api_visibility="private").then(**auto)
        side.upload.clear(**auto)
        side.draw_tab.select(lambda: DRAW, None, side.mode, api_visibility="private").then(**auto)
        side.upload_tab.select(lambda: UPLOAD, None, side.mode, api_visibility="private").then(**auto)
        side.clear.click(lambda: (EMPTY_SKETCH, None, DRAW, gr.Tabs(selected=DRAW)), None,
                         [side.sketch, side.upload, side.mode, side.tabs], show_progress="hidden",
                         api_visibility="private").then(**auto)
    # An example fills both uploads: bring those tabs to the front, then compare.
    examples.load_input_event.then(
        lambda: (UPLOAD, UPLOAD, gr.Tabs(selected=UPLOAD), gr.Tabs(selected=UPLOAD)), None,
        [a.mode, b.mode, a.tabs, b.tabs], show_progress="hidden", api_visibility="private",
    ).then(**auto)

    t.threshold.input(partial(handlers.rethreshold, models), [model_key, t.shown, t.threshold],
                      [t.verdict, t.plot], show_progress="hidden", trigger_mode="always_last",
                      api_visibility="private")

    def poll(key, threshold, shown):
        """Until the reference is there (or known missing): keep the status line; then show it."""
        state = models.status(key)
        if state == "loading":
            msg = ("\u23f3 Loading the MNIST test digits for the nearest neighbours and the "
                   "distance distributions\u2026")
            return (gr.Markdown(msg, visible=True),) + (gr.skip(),) * 5 + (gr.Timer(active=True),)
        cmp = models.comparator(key)
        if state == "unavailable":
            why = models.data_error or "its reference could not be built"
            msg = (f"\u2139\ufe0f MNIST is not available here ({why}): nearest neighbours and test-pair "
                   f"distributions are off; comparing works as usual.")
            ref = None
        else:
            msg, ref = "", models.reference(key)
        span = ref.distance_range() if ref is not None else handlers.example_distance_span(cmp)
        lo, hi, step = slider_span(cmp.threshold, span)
        threshold = slider_value(min(max(float(threshold), lo), hi), step)
        slider = gr.Slider(minimum=lo, maximum=hi, step=step, value=threshold)
        if shown is None:
            panels = handlers.idle_outputs(models, key, START_HINT, threshold)
            panels = (gr.skip(),) + panels[3:6]  # keep whatever message the card shows
        else:
            panels = handlers.shown_outputs(models, key, shown, threshold)
            panels = (panels[0],) + panels[3:6]
        return (gr.Markdown(msg, visible=bool(msg)), slider) + panels + (gr.Timer(active=False),)

    poll_outputs = [t.status, t.threshold, t.verdict, t.plot, t.neighbours_a, t.neighbours_b, t.timer]
    # On page load (a session that starts after the reference is ready needs one call), then
    # every second until the reference is there.
    gr.on([blocks.load, t.timer.tick], poll, [model_key, t.threshold, t.shown], poll_outputs,
          show_progress="hidden", api_visibility="private")
