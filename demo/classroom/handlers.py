"""The Class tab's handlers, the Retrain tab's Share button, and /watch_class, as plain methods
of Gradio values (sessions told apart by `request.session_hash`).

Watching is an async generator per screen that wakes four times a second and yields only when
the class's RunRecord has moved: forty screens cost forty sleeping coroutines on the event
loop, no threads, and one set of frames per update (cached per class), whatever their number.
"""
from __future__ import annotations

import asyncio
import time

import gradio as gr

from ..models import SHIPPED, session_of
from ..retrain.handlers import RetrainHandlers
from ..retrain.views import LOSS_NAMES, accuracy_plot, curve_frames, map_frame, split_of, stats_html, summary
from .classes import ClassError, ClassRoom, ClassRun, normalise_code
from .views import JOIN_HINT, share_html, status_html, watch_status

POLL_S = 0.25  # how often a watcher looks for news: well under the run's one update a second


class ClassHandlers:
    def __init__(self, room: ClassRoom, retrain: RetrainHandlers):
        self.room, self.retrain = room, retrain
        self._frames: dict[str, tuple] = {}  # code -> (version, frames): drawn once per update

    # -- the teacher ----------------------------------------------------------------------------
    def share(self, page_url: str, request: gr.Request = None):
        """Share the run this session trains now, else the model its last run left."""
        owner = session_of(request)
        run = self.retrain.slot.current
        try:
            if run is not None and run.owner == owner:
                about = summary(run.cfg.to_dict(), None, None, run.init_name, False)
                cls = self.room.share_run(run, owner, about)
            else:
                entry = self.retrain.sessions.get(owner)
                if entry is None:
                    raise ClassError("Start a training run first (or let one finish), then share it.")
                cls = self.room.share_model(entry, owner)
        except ClassError as e:
            raise gr.Error(str(e), title="Cannot share") from None
        return share_html(cls, link(page_url, cls.code)), gr.Timer(active=True)

    def share_status(self, page_url: str, request: gr.Request = None):
        """The teacher's card again (its watcher count), every few seconds while it lasts."""
        cls = self.room.of_owner(session_of(request))
        if cls is None:
            return "", gr.Timer(active=False)
        return share_html(cls, link(page_url, cls.code)), gr.skip()

    def class_retrain_api(self, loss: str = "bce", seconds: float = 30, lr: float = 2e-3, init: str = "scratch",
                          exclude_digits: str = "", request: gr.Request = None):
        """/class_retrain_api: /retrain_api with the run shared at once; every progress dict has
        the class_code watchers follow. (Its name and Args name the MCP tool and its parameters.)

        Args:
            loss: bce (the blog's 2-logit head), contrastive or triplet
            seconds: how long to train; the server caps it ($SIAMESE_MAX_TRAIN_SECONDS)
            lr: peak learning rate (AdamW), e.g. 0.002
            init: scratch (random weights) or pretrained (the shipped model's weights)
            exclude_digits: digits to hide from training, comma-separated, e.g. "7,8,9" (default "": none; at least two digits must stay); progress then reports pair accuracy on seen and on never-seen digits apart
        """
        code = None
        for out, path in self.retrain.retrain_api(loss, seconds, lr, init, exclude_digits, request=request):
            if code is None:  # the run exists once its first update is out
                run = self.retrain.slot.current
                if run is None or run.owner != "api-" + session_of(request):
                    raise gr.Error("The run ended before it could be shared.", title="Cannot share")
                try:
                    code = self.room.share_run(run, run.owner, summary(run.cfg.to_dict(), None, None,
                                                                       run.init_name, False)).code
                except ClassError as e:
                    raise gr.Error(str(e), title="Cannot share") from None
            yield {**out, "class_code": code}, path

    # -- a student ------------------------------------------------------------------------------
    def frames(self, cls: ClassRun):
        """(stats, loss frame, accuracy frame, map frame or None) at the class's version."""
        version = cls.version
        cached = self._frames.get(cls.code)
        if cached is not None and cached[0] == version:
            return cached[1]
        r = cls.record
        loss, acc = curve_frames(r)
        emb = map_frame(r.map_xy, r.map_labels, r.exclude_digits) if r.map_xy is not None else None
        frames = (stats_html(r.last, r.seconds_planned, not r.finished, r.last_accuracy, split_of(r)), loss, acc, emb)
        self._frames[cls.code] = (version, frames)
        return frames

    async def watch(self, code: str, request: gr.Request = None):
        """Follow class `code` until its run ends (then this session uses the class model)
        or the class expires. Outputs: status, stats, loss plot, accuracy plot, map, model key."""
        skip = gr.skip()
        if not normalise_code(code):
            yield status_html(JOIN_HINT), skip, skip, skip, skip, skip
            return
        try:
            cls = self.room.join(code, session_of(request))
        except ClassError as e:
            yield status_html(str(e), "error"), skip, skip, skip, skip, skip
            return
        seen, map_seen, first = None, None, True
        seconds = cls.record.seconds_planned or None
        while True:
            alive = self.room.alive(cls)
            if first or cls.version != seen or not alive:
                stats, loss, acc, emb = self.frames(cls)
                if first:
                    # The time axes fit the run's length, as on the teacher's tab; the map
                    # restarts from None (a scatter plot shown empty takes no new points), so
                    # this screen's second look, a moment later, brings the map so far.
                    loss = gr.LinePlot(loss, x_lim=[0, seconds]) if seconds else loss
                    # The accuracy plot's legend and title fit the run (digits hidden or not); like
                    # the map, it restarts from None and its curve comes with the second look.
                    acc = gr.LinePlot(value=None, **accuracy_plot(cls.record.exclude_digits),
                                      **({"x_lim": [0, seconds]} if seconds else {}))
                    new_map = None
                else:
                    acc = skip if acc is None else acc
                    new_map = emb if emb is not None and emb is not map_seen else skip
                    map_seen, seen = emb, cls.version
                done = cls.finished  # and the class model, if any, registered before it said so
                key = cls.model_key if done and cls.model_key else (SHIPPED if not alive else skip)
                yield watch_status(cls, alive), stats, loss, acc, new_map, key
                if not first and (done or not alive):
                    return
                first = False
            await asyncio.sleep(POLL_S)

    async def watch_class(self, code: str, request: gr.Request = None):
        """/watch_class: stream the class's progress as dicts, about one a second (status,
        step, elapsed_s, loss, test_pair_accuracy, pairs_per_s, points, watchers); the last
        one has status done | stopped | failed | expired. (Its name and Args name the MCP tool.)

        Args:
            code: the class code the teacher's page shows (6 letters and digits), or its link
        """
        try:
            cls = self.room.join(code, "api-" + session_of(request))
        except ClassError as e:
            raise gr.Error(str(e), title="No such class") from None
        seen = None
        while True:
            alive = self.room.alive(cls)
            if cls.version != seen or not alive:
                seen = cls.version
                out = progress(cls, alive)
                yield out
                if out["status"] in ("done", "stopped", "failed", "expired"):
                    return
            await asyncio.sleep(POLL_S)

    def from_link(self, request: gr.Request = None):
        """The page opened with ?class=CODE: bring the Class tab to the front with the code."""
        code = normalise_code((request.query_params.get("class") if request is not None else "") or "")
        if not code:
            return gr.skip(), gr.skip()
        return gr.Tabs(selected="class"), code


def link(page_url: str | None, code: str) -> str:
    """The page's own address (as the teacher's browser sees it) with ?class=CODE."""
    base = (page_url or "").split("?", 1)[0].split("#", 1)[0] or "/"
    return f"{base}?class={code}"


def progress(cls: ClassRun, alive: bool = True) -> dict:
    r = cls.record
    with r.lock:
        ev, points = r.last, len(r.seconds)
        acc, seen, unseen = r.last_accuracy, r.last_seen, r.last_unseen
    if not alive:
        status = "expired"
    elif r.finished:
        status = "failed" if cls.model_key is None else r.state  # done | stopped
    else:
        status = "running" if r.state == "training" else "starting"
    return {"code": cls.code, "status": status, "step": ev.step if ev else 0,
            "elapsed_s": round(ev.elapsed, 2) if ev else 0.0, "seconds": r.seconds_planned,
            "loss": ev.loss if ev else None, "test_pair_accuracy": acc, "seen_pair_accuracy": seen,
            "unseen_pair_accuracy": unseen, "exclude_digits": list(r.exclude_digits),
            "pairs_per_s": round(ev.pairs_per_s, 1) if ev else None, "points": points,
            "watchers": len(cls.watchers), "loss_name": LOSS_NAMES.get(cls.summary.get("loss"), ""),
            "model": cls.model_key is not None, "time": time.time()}
