"""The Compare tab: two digit inputs, the verdict and what explains it. Layout and wiring only;
the work is in demo.compare.handlers.

One path to the verdict: every trigger that changes what is compared (either pad, either
upload, either side's Draw/Upload tab, the Compare button, the threshold, the session's model,
the MNIST reference arriving) reaches the one handler `handlers.show` (through two
dependencies: the button's own, and the rest's), with trigger_mode="always_last": Gradio runs
the last trigger last, with the values on the page at that moment. Gradio's in-flight check has
a gap (a trigger while the previous request is still being gathered in the browser starts
another), and two dependencies are not ordered against each other, so the browser numbers every
trigger and demo.compare.order runs a session's requests one at a time on the server and drops
one older than the comparison on screen: an older comparison never lands after a newer one.
What needs no server (clearing a side, noting which tab is in front, bringing the Upload tabs
forward for an example) happens in the browser.
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ..distance_plot import slider_span, slider_value
from ..examples import example_pairs
from ..inputs import CANVAS, DRAW, UPLOAD, digit_pad, digit_upload
from ..models import Models
from . import handlers, views
from .howitworks import how_it_works_html
from .order import Order

SEEN = "its 28\u00d728 input, enlarged"  # the network views' labels and alt text (a11y.js)

# Every trigger first numbers itself in the browser (NUMBER_JS, into the hidden t.seq), then the
# comparison runs (.then): Gradio reads t.seq together with the other inputs as it starts
# gathering them, so a request's number names the newest trigger its values include. (Numbered
# later, in MODES_JS, a request whose gathering started first but ended last, the pads' export
# being slow, carried the newest number with the oldest values: CI saw an upload's error
# replaced by the hint its tab click had started.)
NUMBER_JS = "() => (window.siameseCompareSeq = (window.siameseCompareSeq || 0) + 1)"
# The handler's inputs are (model_key, view, sketch A, upload A, mode A, sketch B, upload B, mode
# B, threshold, seq): the browser fills in each side's mode from the tab in front, as the
# request leaves (a deferred run reads the page afresh). After a tab click the DOM may lag a tick.
MODES_JS = f"""async (...args) => {{
  await new Promise((r) => setTimeout(r, 0));
  const front = (side, was) => {{
    const b = document.querySelector(`#tab-{UPLOAD}-${{side}}-button`);
    return b ? (b.getAttribute('aria-selected') === 'true' ? '{UPLOAD}' : '{DRAW}') : was;
  }};
  args[4] = front('a', args[4]);
  args[7] = front('b', args[7]);
  return args;
}}"""
# A fresh empty value every time: the pad keeps its strokes when handed the value it already
# holds (null after an earlier clear), so a second clear would do nothing.
CLEAR_JS = (f"() => [{{background: null, layers: [], composite: null}}, null, "
            f"{{__type__: 'update', selected: '{DRAW}'}}]")
UPLOAD_TABS_JS = f"() => [{{__type__: 'update', selected: '{UPLOAD}'}}, {{__type__: 'update', selected: '{UPLOAD}'}}]"


@dataclass
class SideInputs:
    sketch: gr.Sketchpad
    upload: gr.Image
    mode: gr.Textbox  # hidden: the browser says which tab is in front (MODES_JS)
    tabs: gr.Tabs
    clear: gr.Button


@dataclass
class CompareTab:
    a: SideInputs
    b: SideInputs
    compare: gr.Button
    threshold: gr.Slider
    verdict: gr.HTML
    view_a: gr.Image
    view_b: gr.Image
    plot: gr.HTML
    neighbours_a: gr.HTML
    neighbours_b: gr.HTML
    view: gr.State  # handlers.CompareView: what the tab shows (the embedding map reads .shown)
    status: gr.Markdown
    reference: gr.Textbox  # hidden: "<model>:<reference status>", whose change redraws the panels
    seq: gr.Number  # hidden: the browser's number for each comparison request (MODES_JS)
    timer: gr.Timer


def _side(name: str) -> SideInputs:
    n = name.lower()
    with gr.Column(min_width=300, elem_classes="side"):
        gr.HTML(f'<div class="side-title">Digit {name}</div>')
        with gr.Tabs(elem_id=f"tabs-{n}") as tabs:
            with gr.Tab("Draw", id=DRAW, elem_id=f"tab-draw-{n}"):
                sketch = digit_pad(f"sketch-{n}")
            with gr.Tab("Upload", id=UPLOAD, elem_id=f"tab-upload-{n}"):
                upload = digit_upload(
                    elem_id=f"upload-{n}", show_label=False, sources=["upload", "clipboard"],
                    height=CANVAS + 80, buttons=[],
                    placeholder="PNG, JPEG or WebP, any size; dark on light or light on dark",
                )
        clear = gr.Button(f"Clear {name}", elem_id=f"clear-{n}", size="sm", variant="secondary")
        mode = gr.Textbox(DRAW, visible="hidden", elem_id=f"mode-{n}")
    return SideInputs(sketch, upload, mode, tabs, clear)


def build_compare_tab(models: Models, model_key: gr.State, model_note: gr.State, blocks: gr.Blocks) -> CompareTab:
    cmp = models.comparator(None)
    lo, hi, step = slider_span(cmp.threshold, handlers.example_distance_span(cmp))

    status = gr.Markdown("", elem_id="data-status")
    with gr.Row(equal_height=False, elem_id="compare-row"):  # screens.css: its narrow layouts
        a = _side("A")
        b = _side("B")
        with gr.Column(min_width=320, elem_classes="result-col"):
            verdict = gr.HTML(views.message_html(handlers.START_HINT), elem_id="verdict")
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
    view = gr.State(handlers.CompareView())
    reference = gr.Textbox("", visible="hidden", elem_id="reference-state")
    seq = gr.Number(None, visible="hidden", precision=0, elem_id="compare-seq")
    timer = gr.Timer(1.0, active=True)

    tab = CompareTab(a, b, compare, threshold, verdict, view_a, view_b, plot, neighbours_a, neighbours_b,
                     view, status, reference, seq, timer)
    _wire(models, model_key, model_note, tab, examples, blocks)
    return tab


def _wire(models: Models, model_key: gr.State, model_note: gr.State, t: CompareTab, examples: gr.Examples,
          blocks: gr.Blocks) -> None:
    a, b = t.a, t.b
    quiet = dict(show_progress="hidden", api_visibility="private")

    order = Order()
    outputs = [t.verdict, t.view_a, t.view_b, t.plot, t.neighbours_a, t.neighbours_b, t.threshold, t.view,
               model_key, model_note]

    def on_trigger(key, view, sa, ua, ma, sb, ub, mb, threshold, seq, evt: gr.EventData, request: gr.Request):
        strict = getattr(evt, "target", None) is t.compare

        def compute(latest):
            out = handlers.show(models, key, latest, sa, ua, ma, sb, ub, mb, threshold, strict=strict)
            return out, out[7]  # outputs[7] is t.view: the CompareView it leaves

        return order.run(getattr(request, "session_hash", None), seq, view, compute,
                         lambda: tuple(gr.skip() for _ in outputs))

    inputs = [model_key, t.view, a.sketch, a.upload, a.mode, b.sketch, b.upload, b.mode, t.threshold, t.seq]
    # The button has its own dependency: one shared with the pads would, while a stroke's
    # comparison is in flight, defer the press and rerun it as the stroke (Gradio reruns a
    # deferred trigger with the event of the request that held it), losing its warning.
    for triggers in ([a.sketch.change, b.sketch.change, a.upload.change, b.upload.change, a.tabs.change,
                      b.tabs.change, t.threshold.input, model_key.change, t.reference.change], [t.compare.click]):
        gr.on(triggers, None, None, t.seq, js=NUMBER_JS, **quiet).then(
            on_trigger, inputs, outputs, js=MODES_JS, trigger_mode="always_last", **quiet)
    for side in (a, b):  # in the browser: the pad and the upload emptied, Draw in front
        side.clear.click(None, None, [side.sketch, side.upload, side.tabs], js=CLEAR_JS, **quiet)
    # An example fills both uploads (each upload's change compares); bring those tabs forward.
    examples.load_input_event.then(None, None, [a.tabs, b.tabs], js=UPLOAD_TABS_JS, **quiet)

    def poll(key):
        """Until the session model's reference is there (or known missing): the status line;
        then the hidden reference state changes, and its change redraws the panels."""
        state = models.status(key)
        if state == "loading":
            msg = (f"\u23f3 {models.loading_text()} for the nearest neighbours and the "
                   f"distance distributions\u2026")
        elif state == "unavailable":
            why = models.data_error or "its reference could not be built"
            msg = (f"\u2139\ufe0f MNIST is not available here ({why}): nearest neighbours and test-pair "
                   f"distributions are off; comparing works as usual.")
        else:  # ready, or gone (the comparison's own handler says that)
            msg = ""
        return gr.Markdown(msg, visible=bool(msg)), f"{key}:{state}", gr.Timer(active=state == "loading")

    # On page load (a session that starts after the reference is ready needs one call), then
    # every second while a reference is being built (a model change restarts it).
    gr.on([blocks.load, t.timer.tick], poll, [model_key], [t.status, t.reference, t.timer], **quiet)
    model_key.change(lambda: gr.Timer(active=True), None, t.timer, **quiet)

    def forget(request: gr.Request):
        order.forget(getattr(request, "session_hash", None))

    blocks.unload(forget)
