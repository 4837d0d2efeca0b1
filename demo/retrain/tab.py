"""The Retrain tab's layout and wiring. The handlers are demo.retrain.handlers."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from siamese.data import NUM_CLASSES
from siamese.projection import LIVE_MAP_LIMIT

from ..models import Models
from .handlers import RetrainHandlers, presets
from .runners import daily_quotas, quota_seconds
from .sessions import SessionModels
from .slot import DEFAULT_PRESET, EVAL_SIZE, LEARNING_RATES, RECIPES, TrainingSlot, machine_slot
from .views import (
    ACC_COLOURS,
    DIGIT_COLOURS,
    PROGRESS_IDLE,
    accuracy_plot,
    empty_accuracy,
    empty_curve,
    empty_map,
    model_card_html,
    stats_html,
    status_html,
)

ASSETS = Path(__file__).resolve().parents[1] / "assets"
CONCURRENCY_ID = "train"  # the UI's and the API's training events share one queue of width 1
INTRO = """<div class="rt-intro"><b>Train the network again, here and now.</b> Pick a loss and a length,
press Start, and watch the loss fall, the accuracy rise and the digits sort themselves into
clusters. When it ends (or you stop it) the new model becomes <i>your</i> model in the Compare tab,
for this browser tab only; everyone else keeps the pretrained one. One training runs at a time
on this machine: if someone else is training, you queue.</div>"""
MAP_CAPTION = ("{n:,} MNIST test digits, each a dot coloured by its true label, placed by the two main "
               "directions (PCA) of the network's {dim}-number descriptors and redrawn every second: "
               "as the network learns, each digit gathers into its own cluster. Digits hidden from training are "
    "named \u201cnever seen\u201d in the legend: do they gather too?")
API_DESCRIPTION = (f"Retrain the network (loss: {' | '.join(RECIPES)}; seconds, capped by the server; lr; "
                   "init: scratch | pretrained; exclude_digits: e.g. \"7,8,9\" to hide them from training) and "
                   "stream progress; the last update carries the checkpoint file.")
SUGGESTED_HIDDEN = (7, 8, 9)  # the classic experiment: train on 0-6, then ask about 7, 8, 9
HIDE_INFO = ("The network never sees them while it trains. The accuracy curve then shows pairs of seen digits "
             "and pairs of never-seen digits apart, and the map names the never-seen ones.")


@dataclass
class RetrainTab:
    loss: gr.Radio
    length: gr.Radio
    lr: gr.Dropdown
    init: gr.Dropdown
    hide: gr.CheckboxGroup
    start: gr.Button
    stop: gr.Button
    progress: gr.HTML
    status: gr.HTML
    stats: gr.HTML
    model_card: gr.HTML
    download: gr.DownloadButton
    use_shipped: gr.Button
    use_mine: gr.Button
    map_plot: gr.ScatterPlot
    loss_plot: gr.LinePlot
    acc_plot: gr.LinePlot
    handlers: "RetrainHandlers"
    seconds: float  # the default length's, for plots that follow a run


def retrain_head() -> str:
    """The run views' stylesheet, for the head of a gr.HTML in each tab that shows them (tabs
    render lazily: the first one a visitor opens must carry it)."""
    return f"<style>{(ASSETS / 'retrain.css').read_text()}</style>"


def map_plot_for(elem_id: str) -> gr.ScatterPlot:
    """The live embedding map of a run (the Retrain tab's, a class's)."""
    return gr.ScatterPlot(
        empty_map(), x="x", y="y", color="digit", color_map=DIGIT_COLOURS,
        x_lim=[-LIVE_MAP_LIMIT, LIVE_MAP_LIMIT], y_lim=[-LIVE_MAP_LIMIT, LIVE_MAP_LIMIT], x_title="PCA axis 1",
        y_title="PCA axis 2", color_title="digit", title="Test digits as the network sees them",
        height=440, tooltip=["digit"], elem_id=elem_id, show_label=False, buttons=["fullscreen"])


def curve_plots_for(prefix: str, seconds: float) -> tuple[gr.LinePlot, gr.LinePlot]:
    """A run's loss and probe accuracy curves, side by side (call inside a layout)."""
    with gr.Row():
        loss_plot = gr.LinePlot(empty_curve("loss"), x="seconds", y="loss", title="Training loss",
                                x_title="seconds", y_title="loss", x_lim=[0, seconds], height=230,
                                elem_id=f"{prefix}-loss-plot", show_label=False, buttons=[])
        # Always a colour column: one series ("test pairs", no legend) or, for a run hiding
        # digits, seen and never-seen pairs with a legend (views.accuracy_plot).
        acc_plot = gr.LinePlot(empty_accuracy(), x="seconds", y="accuracy", color="pairs", color_map=ACC_COLOURS,
                               color_title="pairs of", x_title="seconds", y_title="accuracy", x_lim=[0, seconds],
                               height=230, elem_id=f"{prefix}-acc-plot", show_label=False,
                               buttons=[], **accuracy_plot())
    return loss_plot, acc_plot


def map_caption(models: Models) -> str:
    text = MAP_CAPTION.format(n=EVAL_SIZE, dim=models.comparator(None).model.config.embedding_dim)
    return f'<div class="rt-caption">{text}</div>'


def quota_info(h: RetrainHandlers, choices: dict[str, float]) -> str:
    """On ZeroGPU: what each length takes from a visitor's daily GPU quota ('' elsewhere)."""
    factor = getattr(h.slot.runner, "factor", None)
    if factor is None:
        return ""
    each = ", ".join(f"{name} takes {quota_seconds(s, factor)} s" for name, s in choices.items())
    return (f" On this ZeroGPU Space a run takes more of your daily GPU quota than it trains (set-up, and "
            f"\u00d7{factor:g} on this hardware): {each}; a day has {daily_quotas()}. Beyond it, a run trains on the CPU.")


def build_retrain_tab(models: Models, model_key: gr.State, blocks: gr.Blocks, ui_tab: gr.Tab,
                      data_dir=None, slot: TrainingSlot | None = None,
                      sessions: SessionModels | None = None) -> RetrainTab:
    """The tab's components and events (call inside its gr.Tab, `ui_tab`). Whatever this tab
    does to `model_key`, the rest of the page follows its change (demo.app)."""
    choices = presets()
    h = RetrainHandlers(models, slot or machine_slot(), sessions or SessionModels(models), data_dir, choices)
    default_length = DEFAULT_PRESET if DEFAULT_PRESET in choices else next(iter(choices))
    seconds = choices[default_length]

    gr.HTML(INTRO, head=retrain_head(), padding=False)
    with gr.Row(equal_height=False, elem_id="retrain-top"):
        with gr.Column(scale=4, min_width=320, elem_id="retrain-controls"):
            # One choice per recipe (demo.retrain.slot.RECIPES): a new recipe shows up here.
            loss = gr.Radio([(r.label, k) for k, r in RECIPES.items()], value=next(iter(RECIPES)), label="Loss",
                            elem_id="retrain-loss-choice",
                            info="Cross-entropy on pairs is the blog's; the other two pull same digits together "
                                 "and push different ones at least a margin apart.")
            length = gr.Radio(list(choices), value=default_length, label="Length", elem_id="retrain-length",
                              info=f"Time-based: a run trains that long, in {h.slot.runner.describe()}; "
                                   f"the pairs per second it reaches show below as it trains.{quota_info(h, choices)}")
            with gr.Row(equal_height=True):
                lr = gr.Dropdown([(f"{v:g}", v) for v in LEARNING_RATES], value=2e-3, label="Learning rate (peak)",
                                 elem_id="retrain-lr", min_width=130)
                init = gr.Dropdown([("random weights (from scratch)", "scratch"), ("the pretrained model", "shipped"),
                                    ("the model I use now", "current")], value="scratch", label="Start from",
                                   elem_id="retrain-init", min_width=200, scale=2)
            hide = gr.CheckboxGroup([str(d) for d in range(NUM_CLASSES)], value=[],
                                    label="Hide these digits from training", info=HIDE_INFO, elem_id="retrain-hide")
            with gr.Row():
                hide_suggested = gr.Button(f"Hide {', '.join(map(str, SUGGESTED_HIDDEN))}", size="sm",
                                           elem_id="retrain-hide-suggested", min_width=120)
                hide_none = gr.Button("Hide none", size="sm", variant="secondary", elem_id="retrain-hide-none",
                                      min_width=120)
            with gr.Row():
                start = gr.Button("Start training", variant="primary", elem_id="retrain-start")
                stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="retrain-stop")
            progress = gr.HTML(PROGRESS_IDLE, elem_id="retrain-progress", padding=False)
        with gr.Column(scale=7, min_width=480):
            map_plot = map_plot_for("retrain-map")
            gr.HTML(map_caption(models), padding=False)
    with gr.Row(equal_height=False, elem_id="retrain-bottom"):
        with gr.Column(scale=4, min_width=320):
            status = gr.HTML(status_html("Ready. One run at a time on this machine."), elem_id="retrain-status",
                             padding=False)
            stats = gr.HTML(stats_html(None, seconds, running=False), elem_id="retrain-stats", padding=False)
            model_card = gr.HTML(model_card_html(None, False), elem_id="retrain-model", padding=False)
            with gr.Row():
                download = gr.DownloadButton("Download the checkpoint (.pt)", visible=False, size="sm",
                                             elem_id="retrain-download")
                use_shipped = gr.Button("Back to the pretrained model", visible=False, size="sm",
                                        elem_id="retrain-use-shipped")
                use_mine = gr.Button("Use my retrained model", visible=False, size="sm", variant="primary",
                                     elem_id="retrain-use-mine")
        with gr.Column(scale=7, min_width=480):
            loss_plot, acc_plot = curve_plots_for("retrain", seconds)

    # Hidden: the API's own inputs and outputs.
    with gr.Row(visible=False):
        api_loss = gr.Textbox("bce", label="loss")
        api_seconds = gr.Number(30, label="seconds")
        api_lr = gr.Number(2e-3, label="lr")
        api_init = gr.Textbox("scratch", label="init")
        api_exclude = gr.Textbox("", label="exclude_digits")
        api_out = gr.JSON(label="progress")
        api_file = gr.File(label="checkpoint")
        api_button = gr.Button("retrain")

    tab = RetrainTab(loss, length, lr, init, hide, start, stop, progress, status, stats, model_card, download,
                     use_shipped, use_mine, map_plot, loss_plot, acc_plot, h, seconds)
    _wire(tab, h, model_key, blocks, ui_tab)
    quiet = dict(show_progress="hidden", api_visibility="private")
    hide_suggested.click(lambda: [str(d) for d in SUGGESTED_HIDDEN], None, hide, **quiet)
    hide_none.click(lambda: [], None, hide, **quiet)
    api_button.click(h.retrain_api, [api_loss, api_seconds, api_lr, api_init, api_exclude], [api_out, api_file],
                     api_name="retrain_api", concurrency_limit=1, concurrency_id=CONCURRENCY_ID,
                     api_description=API_DESCRIPTION)
    return tab


def _wire(t: RetrainTab, h: RetrainHandlers, model_key: gr.State, blocks: gr.Blocks, ui_tab: gr.Tab) -> None:
    quiet = dict(show_progress="hidden", api_visibility="private")
    show_outputs = [t.model_card, t.use_shipped, t.use_mine, t.download]
    # The card follows the session's model, wherever it changed (here, the banner, a class).
    gr.on([ui_tab.select, model_key.change], h.show_model, [model_key], show_outputs, trigger_mode="always_last",
          **quiet)

    run = t.start.click(h.prepare, None, [t.status, t.start, t.stop, t.progress], **quiet).then(
        h.train, [t.loss, t.length, t.lr, t.init, model_key, t.hide],
        [t.status, t.stats, t.loss_plot, t.acc_plot, t.map_plot, model_key, t.start, t.stop],
        show_progress="full", show_progress_on=[t.progress], concurrency_limit=1,
        concurrency_id=CONCURRENCY_ID, api_visibility="private",
    )
    run.then(h.buttons_idle, None, [t.start, t.stop, t.progress], **quiet)
    t.stop.click(h.stop, None, [t.status, t.stop], **quiet)
    t.use_shipped.click(h.use_shipped, None, model_key, **quiet)
    t.use_mine.click(h.use_mine, None, model_key, **quiet)
    blocks.unload(h.unload)
