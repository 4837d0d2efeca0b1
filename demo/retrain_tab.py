"""The Retrain tab: train the network again from the page and watch it learn; the result becomes
this browser session's model in the Compare tab. Layout, wiring and the handlers (plain
methods of `RetrainHandlers`, which tests call directly); runs are managed by demo.training,
training itself is siamese.train.Trainer.

Also the /retrain_api endpoint (gradio_client: `client.submit(loss=, seconds=, lr=, init=,
api_name="/retrain_api")` streams progress dicts, the last one with the checkpoint file) and
the Compare tab's "you are using your retrained model" banner (`build_model_banner`).
"""
from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from siamese.checkpoint import make_checkpoint, write_checkpoint
from siamese.data import DataUnavailableError

from . import handlers
from .compare_tab import CompareTab, _slider_span, _slider_value
from .models import SHIPPED, Models
from .retrain_views import (DIGIT_COLOURS, LOSS_NAMES, MAP_LIMIT, Curves, MapView, banner_html,
                            empty_curve, empty_map, model_card_html, stats_html, status_html, summary)
from .training import (DEFAULT_PRESET, LEARNING_RATES, PRESETS, Busy, Cancelled, SessionModels, TrainingSlot,
                       checkpoint_name, machine_slot, max_train_seconds, plan_run)

log = logging.getLogger(__name__)
ASSETS = Path(__file__).resolve().parent / "assets"
CONCURRENCY_ID = "train"  # the UI's and the API's training events share one queue of width 1
INTRO = """<div class="rt-intro"><b>Train the network again, here and now.</b> Pick a loss and a length,
press Start, and watch the loss fall, the accuracy rise and the digits sort themselves into
clusters. When it ends (or you stop it) the new model becomes <i>your</i> model in the Compare tab,
for this browser tab only; everyone else keeps the pretrained one. One training runs at a time
on this machine: if someone else is training, you queue.</div>"""
PROGRESS_IDLE = '<div class="rt-progress-idle">The progress bar shows here while a model trains.</div>'
MAP_CAPTION = ("1,000 MNIST test digits, each a dot coloured by its true label, placed by the two main "
               "directions (PCA) of the network's 512-number descriptors and redrawn every second: "
               "as the network learns, each digit gathers into its own cluster.")


def presets(limit: float | None = None) -> dict[str, float]:
    """The length choices this server allows (a shorter one of the limit's length if none fits)."""
    limit = max_train_seconds() if limit is None else limit
    fit = {k: v for k, v in PRESETS.items() if v <= limit}
    return fit or {f"up to {limit:.0f} s": limit}


def _owner(request: gr.Request | None) -> str:
    return (getattr(request, "session_hash", None) or "anonymous") if request is not None else "anonymous"


@dataclass
class ModelBanner:
    """In the Compare tab: shown while this session uses its retrained model."""

    row: gr.Row
    text: gr.HTML
    back: gr.Button


def build_model_banner() -> ModelBanner:
    with gr.Row(visible=False, elem_id="model-banner", equal_height=True) as row:
        text = gr.HTML("", elem_id="model-banner-text", padding=False)
        back = gr.Button("Back to the pretrained model", size="sm", variant="secondary",
                         elem_id="banner-back", scale=0, min_width=230)
    return ModelBanner(row, text, back)


@dataclass
class RetrainTab:
    loss: gr.Radio
    length: gr.Radio
    lr: gr.Dropdown
    init: gr.Dropdown
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


class RetrainHandlers:
    """The tab's event handlers as plain methods of Gradio values (sessions are told apart by
    `request.session_hash`)."""

    def __init__(self, models: Models, slot: TrainingSlot, sessions: SessionModels, data_dir=None,
                 length_choices: dict[str, float] | None = None):
        self.models, self.slot, self.sessions, self.data_dir = models, slot, sessions, data_dir
        self.presets = length_choices or presets()

    # -- starting ---------------------------------------------------------------------------
    def prepare(self, request: gr.Request = None):
        """Start pressed: say whether the run starts now or queues; swap the buttons."""
        owner = _owner(request)
        self.slot.wait(owner)
        cur = self.slot.current
        if cur is not None and cur.owner != owner:
            left = max(cur.seconds - cur.elapsed, 0)
            msg = status_html(
                f"<b>Busy:</b> someone else is training a model ({cur.elapsed:.0f} s in, about {left:.0f} s "
                f"to go). Yours starts as soon as it ends; your place in the queue shows above. "
                f"Compare keeps working meanwhile.", "busy")
        else:
            msg = status_html("Starting\u2026", "running")
        return msg, gr.Button(interactive=False), gr.Button(interactive=True), ""

    def _init_checkpoint(self, init: str, key: str | None) -> dict | None:
        if init == "scratch":
            return None
        cmp = self.models.comparator(SHIPPED if init == "shipped" else key)
        return make_checkpoint(cmp.model)  # a copy of the weights: the run never touches the live model

    def _data(self):
        try:
            return self.slot.data(self.data_dir)
        except (DataUnavailableError, OSError, RuntimeError) as e:
            log.warning("no MNIST for retraining: %s", e)
            raise gr.Error("Retraining needs the MNIST training set, which is not available on this server.",
                           title="No training data") from None

    def train(self, loss: str, length: str, lr: float, init: str, key: str | None,
              request: gr.Request = None, progress=gr.Progress()):
        """The run, as a stream of page updates (about one a second), ending with the new
        model as this session's `model_key`."""
        owner = _owner(request)
        seconds = self.presets.get(length)
        if seconds is None:
            raise gr.Error(f"Unknown length {length!r}.", title="Cannot train")
        try:
            cfg = plan_run(loss, seconds, lr)
        except (TypeError, ValueError) as e:
            raise gr.Error(str(e), title="Cannot train") from None
        seconds = float(cfg.max_seconds)
        skip = gr.skip()
        try:
            init_ckpt = self._init_checkpoint(init, key)
            data = self._data()
            run = self.slot.start(cfg, data, owner, init_ckpt)
        except Cancelled:  # Stop pressed while queued
            yield (status_html("Left the queue: nothing was trained.", "info"), skip, skip, skip, skip, skip,
                   gr.Button(interactive=True), gr.Button(interactive=False))
            return
        except Busy as e:
            raise gr.Error(f"{e}; try again in a moment.", title="Busy") from None
        except BaseException:
            self.slot.abandon(owner)  # its place in the queue
            raise
        curves, view = Curves(), MapView()
        name = LOSS_NAMES.get(loss, loss)

        def report(done: bool = False):
            # Gradio hides the bar at every yield until fresh progress arrives: so report right
            # after each yield (when Gradio asks for the next update) and between events.
            if done:
                progress(1.0, desc="choosing the threshold on validation pairs")
            else:
                t = run.wall_elapsed
                progress(min(t / seconds, 0.999), desc=f"{t:.0f} s of {seconds:.0f} s")

        try:
            # The map restarts from None: a scatter plot shown empty does not take new points.
            yield (status_html(f"Training with the {name} loss, lr {cfg.lr:g}, for {seconds:.0f} s\u2026", "running"),
                   stats_html(None, seconds), gr.LinePlot(empty_curve("loss"), x_lim=[0, seconds]),
                   gr.LinePlot(empty_curve("accuracy"), x_lim=[0, seconds]), None, skip,
                   gr.Button(interactive=False), gr.Button(interactive=True))
            report()
            # One update per event (about a second apart): Gradio can cancel at each.
            for ev in run.updates():
                if ev is None:
                    report()
                    continue
                curves.add(ev)
                emb_map = view.frame(ev.embeddings, ev.labels) if ev.embeddings is not None else skip
                yield (skip, stats_html(ev, seconds, not ev.done), curves.loss_frame(), curves.accuracy_frame(),
                       emb_map, skip, skip, skip)
                report(ev.done)
        finally:
            if run.alive:  # cancelled (the page closed, or the API client's cancel): nothing to keep
                run.abandon()
        if run.error or run.checkpoint is None:
            why = run.error or "it ended before a model was kept"
            yield (status_html(f"Training failed: {why}", "error"), stats_html(run.last, seconds, False),
                   skip, skip, skip, skip, gr.Button(interactive=True), gr.Button(interactive=False))
            return
        stopped = run.stopped_by == "user"
        if run.last is None or run.last.step == 0:  # stopped before the first step
            yield (status_html("Stopped before the first training step: nothing to keep.", "info"),
                   stats_html(run.last, seconds, False), skip, skip, skip, skip,
                   gr.Button(interactive=True), gr.Button(interactive=False))
            return
        s = summary(cfg.to_dict(), run.last, run.result, init, stopped)
        entry = self.sessions.register(owner, run.checkpoint, s)
        acc = "" if s["probe_test_pair_accuracy"] is None else f", probe accuracy {s['probe_test_pair_accuracy'] * 100:.1f}%"
        head = "Stopped" if stopped else "Done"
        yield (status_html(f"<b>{head}</b> after {s['seconds']:.0f} s and {s['steps']:,} steps{acc}. "
                           f"Compare now uses this model.", "done"),
               stats_html(run.last, seconds, False), skip, skip, skip, entry.key,
               gr.Button(interactive=True), gr.Button(interactive=False))

    def stop(self, request: gr.Request = None):
        """Stop pressed: end this session's run cleanly (the model so far is kept) or leave the queue."""
        what = self.slot.stop(_owner(request))
        if what == "stopping":
            return status_html("Stopping: keeping the model trained so far\u2026", "running"), gr.Button(interactive=False)
        if what == "unqueued":
            return status_html("Leaving the queue\u2026", "info"), gr.Button(interactive=False)
        return gr.skip(), gr.Button(interactive=False)

    @staticmethod
    def buttons_idle():
        """After a run, whatever happened (an error included): Start on, Stop off."""
        return gr.Button(interactive=True), gr.Button(interactive=False), PROGRESS_IDLE

    # -- which model this session uses -------------------------------------------------------
    def use_mine(self, request: gr.Request = None) -> str:
        entry = self.sessions.get(_owner(request))
        return entry.key if entry is not None else SHIPPED

    @staticmethod
    def use_shipped() -> str:
        return SHIPPED

    def show_model(self, key: str | None, request: gr.Request = None):
        """Banner (Compare), model card, switch buttons and download for the session's model."""
        entry = self.sessions.get(_owner(request))
        mine = entry is not None and key == entry.key
        s = entry.summary if entry is not None else None
        return (gr.Row(visible=mine), banner_html(s) if mine else "", model_card_html(s, mine),
                gr.Button(visible=mine), gr.Button(visible=entry is not None and not mine),
                gr.DownloadButton(value=str(entry.path) if entry else None, visible=entry is not None))

    def refresh_compare(self, key, sketch_a, upload_a, mode_a, sketch_b, upload_b, mode_b):
        """The model changed: the Compare tab's threshold becomes the new model's own, the
        comparison on screen is redone with it, and the tab's poll fetches its reference."""
        key = key if key is not None else SHIPPED
        cmp = self.models.comparator(key)
        lo, hi, step = _slider_span(cmp.threshold, handlers.example_distance_span(cmp))
        threshold = _slider_value(cmp.threshold, step)
        outs = handlers.compare_sides(self.models, key, sketch_a, upload_a, mode_a, sketch_b, upload_b, mode_b,
                                      threshold, strict=False)
        return (gr.Slider(minimum=lo, maximum=hi, step=step, value=threshold), *outs, gr.Timer(active=True))

    def unload(self, request: gr.Request = None) -> None:
        """The tab closed: stop its run (if any) and free its model."""
        owner = _owner(request)
        self.slot.abandon(owner)
        self.sessions.release(owner)

    # -- the API ----------------------------------------------------------------------------
    def api(self, loss: str = "bce", seconds: float = 30, lr: float = 2e-3, init: str = "scratch",
            request: gr.Request = None):
        """Retrain and stream progress: one dict per event (status, step, elapsed_s, loss,
        test_pair_accuracy, pairs_per_s, ...); the last has status 'done' or 'stopped', the
        validation threshold and the checkpoint file. Seconds are capped by the server
        ($SIAMESE_MAX_TRAIN_SECONDS). init: 'scratch' or 'pretrained'."""
        if init not in ("scratch", "pretrained", "shipped"):
            raise gr.Error("init must be 'scratch' or 'pretrained'", title="Cannot train")
        try:
            cfg = plan_run(loss, seconds, lr)
        except (TypeError, ValueError) as e:
            raise gr.Error(str(e), title="Cannot train") from None
        owner = "api-" + _owner(request)
        init_ckpt = self._init_checkpoint("scratch" if init == "scratch" else "shipped", None)
        data = self._data()
        try:
            run = self.slot.start(cfg, data, owner, init_ckpt)
        except (Busy, Cancelled) as e:
            raise gr.Error(f"{e}; try again in a moment.", title="Busy") from None
        folder = None
        try:
            for ev in run.updates():
                if ev is not None:
                    yield _api_progress(ev, cfg), None
        finally:
            if run.alive:
                run.abandon()
        try:
            if run.error or run.checkpoint is None:
                raise gr.Error(f"Training failed: {run.error or 'no model was kept'}", title="Training failed")
            folder = Path(tempfile.mkdtemp(prefix="siamese-api-", dir=self.sessions.folder))
            path = write_checkpoint(folder / checkpoint_name(cfg.to_dict(), run.checkpoint["step"]), run.checkpoint)
            out = _api_progress(run.last, cfg)
            out.update(status="stopped" if run.stopped_by else "done", threshold=run.result["threshold"],
                       val_pair_accuracy=run.result.get("val_pair_accuracy"))
            yield out, str(path)  # Gradio copies the file into its cache before asking for more
        finally:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)


def _api_progress(ev, cfg) -> dict:
    return {"status": "done" if ev.done else "running", "step": ev.step, "epoch": round(ev.epoch, 3),
            "elapsed_s": round(ev.elapsed, 2), "seconds": cfg.max_seconds, "loss": ev.loss,
            "test_pair_accuracy": ev.test_pair_accuracy, "pairs_per_s": round(ev.pairs_per_s, 1),
            "lr": ev.lr, "loss_name": cfg.loss, "reason": ev.reason}


def build_retrain_tab(models: Models, model_key: gr.State, blocks: gr.Blocks, compare_tab: CompareTab,
                      banner: ModelBanner, data_dir=None, slot: TrainingSlot | None = None,
                      sessions: SessionModels | None = None) -> RetrainTab:
    """The tab's components and events (call inside its gr.Tab)."""
    choices = presets()
    h = RetrainHandlers(models, slot or machine_slot(), sessions or SessionModels(models), data_dir, choices)
    default_length = DEFAULT_PRESET if DEFAULT_PRESET in choices else next(iter(choices))
    seconds = choices[default_length]
    css = (ASSETS / "retrain.css").read_text()

    gr.HTML(INTRO, head=f"<style>{css}</style>", padding=False)
    with gr.Row(equal_height=False, elem_id="retrain-top"):
        with gr.Column(scale=4, min_width=320, elem_id="retrain-controls"):
            loss = gr.Radio([(LOSS_NAMES["bce"], "bce"), ("contrastive", "contrastive"), ("triplet", "triplet")],
                            value="bce", label="Loss", elem_id="retrain-loss-choice",
                            info="Cross-entropy on pairs is the blog's; the other two pull same digits together "
                                 "and push different ones at least a margin apart.")
            length = gr.Radio(list(choices), value=default_length, label="Length", elem_id="retrain-length",
                              info="Time-based: this 2-core CPU does about 5,000 pairs a second; a GPU does "
                                   "far more in the same time.")
            with gr.Row(equal_height=True):
                lr = gr.Dropdown([(f"{v:g}", v) for v in LEARNING_RATES], value=2e-3, label="Learning rate (peak)",
                                 elem_id="retrain-lr", min_width=130)
                init = gr.Dropdown([("random weights (from scratch)", "scratch"), ("the pretrained model", "shipped"),
                                    ("the model I use now", "current")], value="scratch", label="Start from",
                                   elem_id="retrain-init", min_width=200, scale=2)
            with gr.Row():
                start = gr.Button("Start training", variant="primary", elem_id="retrain-start")
                stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="retrain-stop")
            progress = gr.HTML(PROGRESS_IDLE, elem_id="retrain-progress", padding=False)
        with gr.Column(scale=7, min_width=480):
            map_plot = gr.ScatterPlot(
                empty_map(), x="x", y="y", color="digit", color_map=DIGIT_COLOURS,
                x_lim=[-MAP_LIMIT, MAP_LIMIT], y_lim=[-MAP_LIMIT, MAP_LIMIT], x_title="PCA axis 1",
                y_title="PCA axis 2", color_title="digit", title="Test digits as the network sees them",
                height=440, tooltip=["digit"], elem_id="retrain-map", show_label=False, buttons=["fullscreen"])
            gr.HTML(f'<div class="rt-caption">{MAP_CAPTION}</div>', padding=False)
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
            with gr.Row():
                loss_plot = gr.LinePlot(empty_curve("loss"), x="seconds", y="loss", title="Training loss",
                                        x_title="seconds", y_title="loss", x_lim=[0, seconds], height=230,
                                        elem_id="retrain-loss-plot", show_label=False, buttons=[])
                acc_plot = gr.LinePlot(empty_curve("accuracy"), x="seconds", y="accuracy",
                                       title="Test pair accuracy (2,000-pair probe)", x_title="seconds",
                                       y_title="accuracy", x_lim=[0, seconds], y_lim=[0.5, 1.0], height=230,
                                       elem_id="retrain-acc-plot", show_label=False, buttons=[])

    # Hidden: the API's own inputs and outputs.
    with gr.Row(visible=False):
        api_loss = gr.Textbox("bce", label="loss")
        api_seconds = gr.Number(30, label="seconds")
        api_lr = gr.Number(2e-3, label="lr")
        api_init = gr.Textbox("scratch", label="init")
        api_out = gr.JSON(label="progress")
        api_file = gr.File(label="checkpoint")
        api_button = gr.Button("retrain")

    tab = RetrainTab(loss, length, lr, init, start, stop, progress, status, stats, model_card, download,
                     use_shipped, use_mine, map_plot, loss_plot, acc_plot, h)
    _wire(tab, h, model_key, blocks, compare_tab, banner)
    api_button.click(h.api, [api_loss, api_seconds, api_lr, api_init], [api_out, api_file],
                     api_name="retrain_api", concurrency_limit=1, concurrency_id=CONCURRENCY_ID,
                     api_description="Retrain the network (loss: bce | contrastive | triplet; seconds, capped by "
                                     "the server; lr; init: scratch | pretrained) and stream progress; the "
                                     "last update carries the checkpoint file.")
    return tab


def _wire(t: RetrainTab, h: RetrainHandlers, model_key: gr.State, blocks: gr.Blocks, ct: CompareTab,
          banner: ModelBanner) -> None:
    quiet = dict(show_progress="hidden", api_visibility="private")
    show_outputs = [banner.row, banner.text, t.model_card, t.use_shipped, t.use_mine, t.download]
    cmp_inputs = [model_key, ct.a.sketch, ct.a.upload, ct.a.mode, ct.b.sketch, ct.b.upload, ct.b.mode]
    cmp_outputs = [ct.threshold, ct.verdict, ct.view_a, ct.view_b, ct.plot, ct.neighbours_a, ct.neighbours_b,
                   ct.shown, ct.timer]

    def after_switch(event):
        """Whatever changed model_key: say which model is in use, redo Compare with it."""
        return (event.then(h.show_model, [model_key], show_outputs, **quiet)
                .then(h.refresh_compare, cmp_inputs, cmp_outputs, **quiet))

    run = t.start.click(h.prepare, None, [t.status, t.start, t.stop, t.progress], **quiet).then(
        h.train, [t.loss, t.length, t.lr, t.init, model_key],
        [t.status, t.stats, t.loss_plot, t.acc_plot, t.map_plot, model_key, t.start, t.stop],
        show_progress="full", show_progress_on=[t.progress], concurrency_limit=1,
        concurrency_id=CONCURRENCY_ID, api_visibility="private",
    )
    after_switch(run.then(h.buttons_idle, None, [t.start, t.stop, t.progress], **quiet))
    t.stop.click(h.stop, None, [t.status, t.stop], **quiet)
    for button in (t.use_shipped, banner.back):
        after_switch(button.click(h.use_shipped, None, model_key, **quiet))
    after_switch(t.use_mine.click(h.use_mine, None, model_key, **quiet))
    blocks.unload(h.unload)
