"""The Compare tab: the board (two digit pads or uploads, the verdict, what the network sees),
the threshold, the distance plot, each digit's nearest MNIST neighbours. Layout and wiring only;
the server's work is in demo.compare.handlers, the browser's in demo/assets/board.js.

The verdict follows the pen: the board runs the network in the browser at every stroke, so
nothing here is on the path from a stroke to its verdict. The server keeps what only it has:
the MNIST reference (neighbours, the test pairs' distances on the plot), the session's model
(sent to the board as `model`: its weights' URL and numbers, demo.browser), and the verdict for
a browser that cannot compute it (`look`, a server function the board calls after a stroke).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ..browser import ASSETS, BrowserModels, engine_config, url
from ..distance_plot import slider_span, slider_value
from ..examples import example_pairs
from ..inputs import BRUSH_RADIUS, CANVAS
from ..limits import MAX_UPLOAD_MB
from ..models import SHIPPED, Models, session_of
from . import handlers, views
from .howitworks import how_it_works_html

# The board's scripts, loaded before its js_on_load (Gradio's `head`, deduplicated by src).
SCRIPTS = ("vendor/onnxruntime-web/ort.wasm.min.js", "engine.js", "views.js", "pad.js", "board.js")
INIT_JS = "window.SiameseBoard.init(element, props, trigger, watch, server);"


@dataclass
class CompareTab:
    board: gr.HTML
    threshold: gr.Slider
    plot: gr.HTML
    neighbours: gr.HTML
    status: gr.Markdown
    timer: gr.Timer
    slider_of: gr.State  # the model whose threshold the slider holds (its key)
    seen: handlers.Seen  # each session's last pair (the embedding map marks it)
    browser: BrowserModels


def board_config(models: Models) -> dict:
    from siamese.images import MAX_PIXELS, WORK_SIDE

    return {"engine": engine_config(), "paper": CANVAS, "brush": 2 * BRUSH_RADIUS, "max_pixels": MAX_PIXELS,
            "work_side": WORK_SIDE, "max_upload_mb": MAX_UPLOAD_MB}


def build_compare_tab(models: Models, model_key: gr.State, model_note: gr.State, blocks: gr.Blocks,
                      browser: BrowserModels) -> CompareTab:
    cmp = models.comparator(None)
    lo, hi, step = slider_span(cmp.threshold, handlers.example_distance_span(cmp))
    seen = handlers.Seen()

    def look(data: dict):
        """The board's question after a stroke (handlers.look): neighbours, and the verdict
        while the browser cannot give it. (A server function gets no session of its own: the
        board names its session, which the page load told it.)"""
        session = data.get("session") if isinstance(data, dict) else None
        return handlers.look(models, seen, data, str(session)[:64] if session else None)

    status = gr.Markdown("", elem_id="data-status")
    examples = [(url(Path(a)), url(Path(b))) for a, b in example_pairs()]
    # The WebAssembly module's loader is imported by ONNX Runtime once it starts: fetched early.
    head = "".join(f'<script src="{url(ASSETS / name)}"></script>' for name in SCRIPTS) + (
        f'<link rel="modulepreload" href="{url(ASSETS / "vendor/onnxruntime-web/ort-wasm-simd-threaded.mjs")}">')
    board = gr.HTML("", html_template=views.board_html(examples), js_on_load=INIT_JS, head=head,
                    elem_id="compare-board", server_functions=[look], apply_default_css=False,
                    config=board_config(models), model=browser.info(SHIPPED),
                    reference={"status": "loading", "empty": handlers.empty_neighbours(None, "loading")}, session=None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=360):
            threshold = gr.Slider(lo, hi, value=slider_value(cmp.threshold, step), step=step, label="Decision threshold",
                                  info="'Same' when the distance is at most this. Default: the model's own.",
                                  elem_id="threshold", buttons=["reset"])
            plot = gr.HTML(views.plot_html(cmp.threshold, None, None, "loading"), elem_id="plot")
            # Filled by the board's script from its looks (never by the server: see board.js).
            neighbours = gr.HTML('<div id="neighbours-a" class="nn-slot"></div><div id="neighbours-b" class="nn-slot"></div>',
                                 elem_id="neighbours")
        with gr.Column(scale=2, min_width=300):
            gr.HTML(how_it_works_html(cmp), elem_id="how-it-works")
    timer = gr.Timer(1.0, active=True)
    tab = CompareTab(board, threshold, plot, neighbours, status, timer, gr.State(SHIPPED), seen, browser)
    _wire(models, model_key, model_note, tab, blocks)
    return tab


def _panels(models: Models, key: str, threshold: float | None):
    """(board model, slider, plot) for the session's model; the slider at the model's own
    threshold when `threshold` is None."""
    cmp = models.comparator(key)
    ref = models.reference(key)
    status = "ready" if ref is not None else models.status(key)
    lo, hi, step = slider_span(cmp.threshold, ref.distance_range() if ref is not None
                               else handlers.example_distance_span(cmp))
    value = slider_value(cmp.threshold if threshold is None else min(max(float(threshold), lo), hi), step)
    return ref, status, gr.Slider(minimum=lo, maximum=hi, step=step, value=value), views.plot_html(value, None, ref, status)


def _wire(models: Models, model_key: gr.State, model_note: gr.State, t: CompareTab, blocks: gr.Blocks) -> None:
    quiet = dict(show_progress="hidden", api_visibility="private")

    def on_model(key):
        """The session's model changed (a retrain, a class, back to the shipped one): the board
        gets its weights and numbers, the slider its threshold, the plot its distances."""
        key = key or SHIPPED
        if models.gone(key) is not None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        _, _, slider, plot = _panels(models, key, None)
        return gr.HTML(model=t.browser.info(key)), slider, plot, key

    model_key.change(on_model, [model_key], [t.board, t.threshold, t.plot, t.slider_of], trigger_mode="always_last",
                     **quiet)

    def on_threshold(key, threshold):
        key = key if models.alive(key) else SHIPPED
        cmp = models.comparator(key)
        ref = models.reference(key)
        status = "ready" if ref is not None else models.status(key)
        return views.plot_html(float(threshold if threshold is not None else cmp.threshold), None, ref, status)

    t.threshold.change(on_threshold, [model_key, t.threshold], [t.plot], trigger_mode="always_last", **quiet)
    t.board.input(handlers.gone_back, None, [model_key, model_note], **quiet)  # the board found its model gone

    def poll(key, threshold, slider_of, request: gr.Request):
        """Until the session model's reference is there (or known missing): the status line;
        then the board (neighbours can come now), the slider's span and the plot follow. The
        board also learns its session, to name it in its looks."""
        key = key if models.alive(key) else SHIPPED
        state = models.status(key)
        if state == "loading":
            msg = (f"\u23f3 {models.loading_text()} for the nearest neighbours and the "
                   f"distance distributions\u2026")
        elif state == "unavailable":
            why = models.data_error or "its reference could not be built"
            msg = (f"\u2139\ufe0f MNIST is not available here ({why}): nearest neighbours and test-pair "
                   f"distributions are off; comparing works as usual.")
        else:
            msg = ""
        ref, status, slider, plot = _panels(models, key, threshold)
        reference = gr.HTML(reference={"status": f"{key}:{status}", "empty": handlers.empty_neighbours(ref, status)},
                            session=session_of(request))
        # The slider's value is another model's while on_model's reply is on its way (a tick
        # between a model change and that reply): written now, it would land after and stay.
        keep = state == "loading" or (slider_of or SHIPPED) != key
        return (gr.Markdown(msg, visible=bool(msg)), reference, gr.skip() if keep else slider,
                gr.skip() if keep else plot, gr.Timer(active=state == "loading"))

    # On page load (a session that starts after the reference is ready needs one call), then
    # every second while a reference is being built (a model change restarts it).
    gr.on([blocks.load, t.timer.tick], poll, [model_key, t.threshold, t.slider_of],
          [t.status, t.board, t.threshold, t.plot, t.timer], **quiet)
    model_key.change(lambda: gr.Timer(active=True), None, t.timer, **quiet)
    def forget(request: gr.Request):
        t.seen.forget(session_of(request))

    blocks.unload(forget)
