"""The Class tab (students follow the teacher's run, then use its model), the Retrain tab's
Share panel, the /watch_class and /class_retrain_api endpoints, and ?class=CODE links."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ..retrain.tab import CONCURRENCY_ID, RetrainTab, curve_plots_for, map_caption, map_plot_for, retrain_head
from ..retrain.views import stats_html
from .handlers import ClassHandlers
from .views import JOIN_HINT, status_html

INTRO = """<div class="rt-intro"><b>Follow the class's training run.</b> When the teacher shares a run,
type its code here (or open the teacher's link, or scan the QR code): the loss, the accuracy and
the digits' map move on your screen as the network learns. When the run ends, Compare and the
teaching tabs use the model the class trained.</div>"""
# JS for the Share button: the page's address as the teacher's browser sees it, for the link.
PAGE_URL_JS = "(u) => [window.location.origin + window.location.pathname]"


@dataclass
class ClassTab:
    code: gr.Textbox
    join: gr.Button
    status: gr.HTML
    stats: gr.HTML
    map_plot: gr.ScatterPlot
    loss_plot: gr.LinePlot
    acc_plot: gr.LinePlot


def build_share_panel(h: ClassHandlers, retrain: RetrainTab) -> None:
    """Under the Retrain tab's controls: share this tab's run (or its last model) with a class."""
    quiet = dict(show_progress="hidden", api_visibility="private")
    with gr.Row(equal_height=False, elem_id="class-share-row"):
        with gr.Column(scale=1, min_width=220):
            share = gr.Button("Share with the class", elem_id="class-share-btn", variant="secondary")
            gr.HTML('<div class="rt-caption">A code, a link and a QR code: every screen that joins follows '
                    'this run live and gets its model when it ends.</div>', padding=False)
        with gr.Column(scale=4, min_width=320):
            card = gr.HTML("", elem_id="class-share-card", padding=False)
    page_url = gr.Textbox(visible=False)
    timer = gr.Timer(3.0, active=False)
    share.click(h.share, [page_url], [card, timer], js=PAGE_URL_JS, **quiet)
    timer.tick(h.share_status, [page_url], [card, timer], js=PAGE_URL_JS, **quiet)


def build_class_tab(h: ClassHandlers, model_key: gr.State, main_tabs: gr.Tabs, blocks: gr.Blocks,
                    seconds: float) -> ClassTab:
    """The Class tab (call inside the page's gr.Tabs)."""
    with gr.Tab("Class", id="class", elem_id="tab-class"):
        gr.HTML(INTRO, head=retrain_head(), padding=False)
        with gr.Row(equal_height=True, elem_id="class-join-row"):
            code = gr.Textbox(label="Class code", placeholder="e.g. K7PX3M", max_length=200, scale=3,
                              elem_id="class-code-input")
            join = gr.Button("Join", variant="primary", scale=1, elem_id="class-join")
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=320):
                status = gr.HTML(status_html(JOIN_HINT), elem_id="class-status", padding=False)
                stats = gr.HTML(stats_html(None, seconds, running=False), elem_id="class-stats", padding=False)
            with gr.Column(scale=7, min_width=480):
                map_plot = map_plot_for("class-map")
                gr.HTML(map_caption(h.retrain.models), padding=False)
        loss_plot, acc_plot = curve_plots_for("class", seconds)
        with gr.Row(visible=False):  # the API's own inputs and outputs
            api_code = gr.Textbox(label="code")
            api_out = gr.JSON(label="progress")
            api_loss = gr.Textbox("bce", label="loss")
            api_seconds = gr.Number(30, label="seconds")
            api_lr = gr.Number(2e-3, label="lr")
            api_init = gr.Textbox("scratch", label="init")
            api_exclude = gr.Textbox("", label="exclude_digits")
            api_file = gr.File(label="checkpoint")
            watch_button, train_button = gr.Button("watch"), gr.Button("train")
    tab = ClassTab(code, join, status, stats, map_plot, loss_plot, acc_plot)

    outputs = [status, stats, loss_plot, acc_plot, map_plot, model_key]
    # Watching is an async generator that mostly sleeps: no thread each, no limit on how many.
    watch = dict(fn=h.watch, inputs=[code], outputs=outputs, show_progress="hidden", concurrency_limit=None,
                 api_visibility="private")
    gr.on([join.click, code.submit], **watch)
    blocks.load(h.from_link, None, [main_tabs, code], show_progress="hidden", api_visibility="private").then(**watch)

    watch_button.click(h.watch_class, [api_code], [api_out], api_name="watch_class", concurrency_limit=None,
                       api_description="Follow a class's training run by its code: progress dicts about once a "
                                       "second (status, step, elapsed_s, loss, test_pair_accuracy, watchers); the "
                                       "last has status done | stopped | failed | expired.")
    train_button.click(h.class_retrain_api, [api_loss, api_seconds, api_lr, api_init, api_exclude],
                       [api_out, api_file],
                       api_name="class_retrain_api", concurrency_limit=1, concurrency_id=CONCURRENCY_ID,
                       api_description="Like /retrain_api, shared with a class at once: every progress dict "
                                       "carries class_code, which /watch_class and the page's Class tab follow.")
    return tab
