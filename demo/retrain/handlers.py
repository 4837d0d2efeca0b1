"""The Retrain tab's event handlers and the /retrain_api endpoint, as plain methods of Gradio
values (`RetrainHandlers`, which tests call directly). Who may train when is decided by
demo.retrain.slot; what a run leaves behind is kept by demo.retrain.sessions.

/retrain_api (gradio_client: `client.submit(loss=, seconds=, lr=, init=, exclude_digits=,
api_name="/retrain_api")`) streams progress dicts, the last one with the checkpoint file.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import gradio as gr

from siamese.checkpoint import make_checkpoint, write_checkpoint
from siamese.config import parse_digits
from siamese.data import DataUnavailableError
from siamese.job import JobUpdate

from ..models import SHIPPED, ModelGone, Models, session_of
from .runners import RunnerNote
from .sessions import SessionModels, checkpoint_name
from .slot import PRESETS, Busy, Cancelled, TrainingSlot, max_train_seconds, plan_run
from .views import (
    LOSS_NAMES,
    PROGRESS_IDLE,
    accuracy_plot,
    curve_frames,
    empty_curve,
    map_frame,
    model_card_html,
    split_of,
    stats_html,
    status_html,
    summary,
)
from ..views import digits_text

log = logging.getLogger(__name__)

LEFT_QUEUE = "Left the queue: nothing was trained."


def presets(limit: float | None = None) -> dict[str, float]:
    """The length choices this server allows (a shorter one of the limit's length if none fits)."""
    limit = max_train_seconds() if limit is None else limit
    fit = {k: v for k, v in PRESETS.items() if v <= limit}
    return fit or {f"up to {limit:.0f} s": limit}


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
        owner = session_of(request)
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
        try:
            cmp = self.models.comparator(SHIPPED if init == "shipped" else key)
        except ModelGone as e:
            raise gr.Error(f"The model you use now is no longer on this server: {e.reason}. Start from the "
                           f"pretrained model or from random weights.", title="Cannot train") from None
        return make_checkpoint(cmp.model)  # a copy of the weights: the run never touches the live model

    def _start(self, cfg, owner: str, init_ckpt: dict | None):
        """slot.start, with missing MNIST as a gr.Error."""
        try:
            return self.slot.start(cfg, owner, self.data_dir, init_ckpt)
        except DataUnavailableError as e:
            log.warning("no MNIST for retraining: %s", e)
            if self.models.data_step is not None and self.models.data_step != "embedding":
                raise gr.Error(f"{self.models.loading_text()} first (the server has just started); try again in a "
                               f"minute.", title="Not ready yet") from None
            raise gr.Error("Retraining needs the MNIST training set, which is not available on this server.",
                           title="No training data") from None

    def train(self, loss: str, length: str, lr: float, init: str, key: str | None, hide=None,
              request: gr.Request = None, progress=gr.Progress()):
        """The run, as a stream of page updates (about one a second), ending with the new
        model as this session's `model_key`. hide: the digits ticked to hide from training
        (the CheckboxGroup's strings)."""
        owner = session_of(request)
        seconds = self.presets.get(length)
        if seconds is None:
            raise gr.Error(f"Unknown length {length!r}.", title="Cannot train")
        try:
            cfg = plan_run(loss, seconds, lr, [int(d) for d in hide or ()])
        except (TypeError, ValueError) as e:
            raise gr.Error(str(e), title="Cannot train") from None
        seconds = float(cfg.max_seconds)
        skip = gr.skip()
        try:
            run = self._start(cfg, owner, self._init_checkpoint(init, key))
            run.init_name = init
        except Cancelled:  # Stop pressed while queued
            yield (status_html(LEFT_QUEUE, "info"), skip, skip, skip, skip, skip,
                   gr.Button(interactive=True), gr.Button(interactive=False))
            return
        except Busy as e:
            raise gr.Error(f"{e}; try again in a moment.", title="Busy") from None
        except BaseException:
            self.slot.abandon(owner)  # its place in the queue
            raise
        name = LOSS_NAMES.get(loss, loss)
        where = self.slot.runner.describe()
        hidden = cfg.exclude_digits

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
            quota = getattr(self.slot.runner, "quota_note", None)  # ZeroGPU: what the run costs the visitor
            yield (status_html(f"Starting {where}\u2026" + (f" On ZeroGPU {quota(seconds)}" if quota else ""), "running"),
                   stats_html(None, seconds, split=split_of(run.record)),
                   gr.LinePlot(empty_curve("loss"), x_lim=[0, seconds]),
                   gr.LinePlot(value=None, x_lim=[0, seconds], **accuracy_plot(hidden)), None, skip,
                   gr.Button(interactive=False), gr.Button(interactive=True))
            report()
            shown = stopping = False
            # One update per event (about a second apart): Gradio can cancel at each.
            for ev in run.updates():
                if run.stopped_by == "user" and not stopping:
                    # Said here, in this run's own stream: as the Stop click's own reply it could
                    # land after "Stopped" on a busy server and stay there.
                    stopping = shown = True
                    yield (status_html("Stopping: keeping the model trained so far\u2026", "running"),
                           skip, skip, skip, skip, skip, skip, skip)
                if ev is None:
                    report()
                    continue
                if isinstance(ev, RunnerNote):  # e.g. no GPU for this run: the CPU instead
                    yield (status_html(ev.text, "busy"), skip, skip, skip, skip, skip, skip, skip)
                    continue
                status = skip
                if not shown:  # the first update: say where it trains
                    status = status_html(f"Training with the {name} loss, lr {cfg.lr:g}, for {seconds:.0f} s, "
                                         f"in process {ev.pid} ({ev.device}){_note(run)}{_hidden(hidden, init)}"
                                         f"\u2026", "running")
                    shown = True
                emb_map = map_frame(ev.map_xy, ev.map_labels, hidden) if ev.map_xy is not None else skip
                loss, acc = curve_frames(run.record)
                yield (status, stats_html(ev, seconds, not ev.done, run.record.last_accuracy, split_of(run.record)),
                       loss, skip if acc is None else acc, emb_map, skip, skip, skip)
                report(ev.done)
        finally:
            if run.alive:  # cancelled (the page closed, or the API client's cancel): nothing to keep
                run.abandon()
        if run.error or run.checkpoint is None:
            why = run.error or "it ended before a model was kept"
            yield (status_html(f"Training failed: {why}", "error"), stats_html(run.last, seconds, False, run.record.last_accuracy, split_of(run.record)),
                   skip, skip, skip, skip, gr.Button(interactive=True), gr.Button(interactive=False))
            return
        stopped = run.stopped_by == "user"
        if run.last is None or run.last.step == 0:  # stopped before the first step
            yield (status_html("Stopped before the first training step: nothing to keep.", "info"),
                   stats_html(run.last, seconds, False, run.record.last_accuracy, split_of(run.record)),
                   skip, skip, skip, skip,
                   gr.Button(interactive=True), gr.Button(interactive=False))
            return
        s = summary(cfg.to_dict(), run.last, run.result, init, stopped)
        entry = self.sessions.register(owner, run.checkpoint, s, run.record)
        acc = "" if s["probe_test_pair_accuracy"] is None else f", probe accuracy {s['probe_test_pair_accuracy'] * 100:.1f}%"
        head = "Stopped" if stopped else "Done"
        yield (status_html(f"<b>{head}</b> after {s['seconds']:.0f} s and {s['steps']:,} steps{acc}. "
                           f"Compare now uses this model.", "done"),
               stats_html(run.last, seconds, False, run.record.last_accuracy, split_of(run.record)),
               skip, skip, skip, entry.key,
               gr.Button(interactive=True), gr.Button(interactive=False))

    def stop(self, request: gr.Request = None):
        """Stop pressed: end this session's run cleanly (the model so far is kept) or leave the queue."""
        what = self.slot.stop(session_of(request))
        if what == "stopping":  # the run's stream says so (`train`): a reply here could overtake its end
            return gr.skip(), gr.Button(interactive=False)
        if what == "unqueued":
            # The same words as the run's stream ends with when its turn comes: either may land last
            return status_html(LEFT_QUEUE, "info"), gr.Button(interactive=False)
        return gr.skip(), gr.Button(interactive=False)

    @staticmethod
    def buttons_idle():
        """After a run, whatever happened (an error included): Start on, Stop off."""
        return gr.Button(interactive=True), gr.Button(interactive=False), PROGRESS_IDLE

    # -- which model this session uses -------------------------------------------------------
    def use_mine(self, request: gr.Request = None) -> str:
        entry = self.sessions.get(session_of(request))
        return entry.key if entry is not None else SHIPPED

    @staticmethod
    def use_shipped() -> str:
        return SHIPPED

    def show_model(self, key: str | None, request: gr.Request = None):
        """Model card, switch buttons and download for the session's retrained model."""
        entry = self.sessions.get(session_of(request))
        mine = entry is not None and key == entry.key
        s = entry.summary if entry is not None else None
        return (model_card_html(s, mine), gr.Button(visible=mine), gr.Button(visible=entry is not None and not mine),
                gr.DownloadButton(value=str(entry.path) if entry else None, visible=entry is not None))

    def unload(self, request: gr.Request = None) -> None:
        """The tab closed: stop its run (if any) and free its model."""
        owner = session_of(request)
        self.slot.abandon(owner)
        self.sessions.release(owner)

    # -- the API ----------------------------------------------------------------------------
    def retrain_api(self, loss: str = "bce", seconds: float = 30, lr: float = 2e-3, init: str = "scratch",
                    exclude_digits: str = "", request: gr.Request = None):
        """Retrain and stream progress: one dict per event (status, step, elapsed_s, loss,
        test_pair_accuracy, seen_pair_accuracy, unseen_pair_accuracy, exclude_digits,
        pairs_per_s, ...); the last has status 'done' or 'stopped', the validation threshold and
        the checkpoint file. (Its name and Args name the MCP tool and its parameters, one line
        each, as Gradio reads them; the description is the endpoint's api_description.)

        Args:
            loss: bce (the blog's 2-logit head), contrastive or triplet
            seconds: how long to train; the server caps it ($SIAMESE_MAX_TRAIN_SECONDS)
            lr: peak learning rate (AdamW), e.g. 0.002
            init: scratch (random weights) or pretrained (the shipped model's weights)
            exclude_digits: digits to hide from training, comma-separated, e.g. "7,8,9" (default "": none; at least two digits must stay); progress then reports pair accuracy on seen and on never-seen digits apart
        """
        if init not in ("scratch", "pretrained", "shipped"):
            raise gr.Error("init must be 'scratch' or 'pretrained'", title="Cannot train")
        try:
            cfg = plan_run(loss, seconds, lr, parse_digits(str(exclude_digits or "")))
        except (TypeError, ValueError) as e:
            raise gr.Error(str(e), title="Cannot train") from None
        owner = "api-" + session_of(request)
        init_ckpt = self._init_checkpoint("scratch" if init == "scratch" else "shipped", None)
        try:
            run = self._start(cfg, owner, init_ckpt)
        except (Busy, Cancelled) as e:
            raise gr.Error(f"{e}; try again in a moment.", title="Busy") from None
        folder = None
        try:
            for ev in run.updates():
                if isinstance(ev, JobUpdate):
                    yield _api_progress(ev, cfg, run), None
        finally:
            if run.alive:
                run.abandon()
        try:
            if run.error or run.checkpoint is None:
                raise gr.Error(f"Training failed: {run.error or 'no model was kept'}", title="Training failed")
            folder = Path(tempfile.mkdtemp(prefix="siamese-api-", dir=self.sessions.folder))
            path = write_checkpoint(folder / checkpoint_name(cfg.to_dict(), run.checkpoint["step"]), run.checkpoint)
            out = _api_progress(run.last, cfg, run)
            out.update(status="stopped" if run.stopped_by else "done", threshold=run.result["threshold"],
                       val_pair_accuracy=run.result.get("val_pair_accuracy"))
            yield out, str(path)  # Gradio copies the file into its cache before asking for more
        finally:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)


def _api_progress(ev: JobUpdate, cfg, run) -> dict:
    return {"status": "done" if ev.done else "running", "step": ev.step, "epoch": round(ev.epoch, 3),
            "elapsed_s": round(ev.elapsed, 2), "seconds": cfg.max_seconds, "loss": ev.loss,
            "test_pair_accuracy": ev.test_pair_accuracy, "seen_pair_accuracy": ev.seen_pair_accuracy,
            "unseen_pair_accuracy": ev.unseen_pair_accuracy, "exclude_digits": list(cfg.exclude_digits),
            "pairs_per_s": round(ev.pairs_per_s, 1),
            "lr": ev.lr, "loss_name": cfg.loss, "reason": ev.reason, "device": ev.device, "pid": ev.pid,
            "batch_size": cfg.batch_size,
            "note": run.note}


def _note(run) -> str:
    return f"; {run.note[0].lower()}{run.note[1:].rstrip('.')}" if run.note else ""


def _hidden(digits, init: str) -> str:
    """The status line's word on hidden digits (none: nothing)."""
    if not digits:
        return ""
    if init == "scratch":
        return f", never showing it {digits_text(digits)}"
    return (f", hiding {digits_text(digits)} (but it starts from a model that has seen every digit, "
            f"so they are not new to it)")
