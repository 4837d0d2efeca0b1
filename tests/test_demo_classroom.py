"""demo.classroom: class codes, a class following a real run from many screens, the class model
for everyone who joined, limits and expiry; handlers called the way Gradio calls them."""
from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

from demo.classroom.classes import CODE_ALPHABET, CODE_LENGTH, ClassError, ClassRoom, new_code, normalise_code
from demo.classroom.handlers import ClassHandlers, link, progress
from demo.classroom.views import qr_svg, share_html
from demo.models import SHIPPED, ModelGone, Models
from demo.retrain.handlers import RetrainHandlers
from demo.retrain.record import RunRecord
from demo.retrain.sessions import SessionModel, SessionModels
from demo.retrain.slot import TrainingSlot
from siamese.job import JobUpdate

from .conftest import CHECKPOINT
from .replay import ReplayRunner


def req(session: str, query: dict | None = None):
    return SimpleNamespace(session_hash=session, query_params=query or {})


def update(step: int, elapsed: float, acc: float | None = 0.8, n: int = 20) -> JobUpdate:
    xy = np.random.default_rng(step).uniform(-3, 3, (n, 2)).astype(np.float32)
    return JobUpdate(step=step, epoch=step / 100, elapsed=elapsed, train_seconds=elapsed, loss=1.0 / (1 + step),
                     pairs_per_s=4000.0, lr=1e-3, test_pair_accuracy=acc, map_xy=xy, map_labels=np.arange(n) % 10)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def finished_entry(tmp_path) -> SessionModel:
    """A session's model as a finished run leaves it: the shipped checkpoint and its record."""
    record = RunRecord(30)
    for k in range(1, 4):
        record.add(update(10 * k, float(k)))
    record.finish("done")
    return SessionModel("unused", Path(CHECKPOINT), {"loss": "bce", "lr": 2e-3, "init": "scratch", "seconds": 3.0,
                                                     "steps": 30}, record)


# -- codes ------------------------------------------------------------------------------------------
def test_codes_are_random_unambiguous_and_typed_any_way():
    codes = {new_code() for _ in range(500)}
    assert len(codes) == 500  # no repeats in 500 draws of 887 million
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set("0O1IL") & set(CODE_ALPHABET)
    assert normalise_code(" k7px 3m ") == "K7PX3M"
    assert normalise_code("https://host/space/?class=k7px3m&projector=1") == "K7PX3M"
    assert new_code(taken={"AAAAAA"}) != "AAAAAA"


def test_link_keeps_the_page_path_and_adds_the_code():
    assert link("https://x.hf.space/", "ABC234") == "https://x.hf.space/?class=ABC234"
    assert link("http://127.0.0.1:7860/?class=OLD#top", "ABC234") == "http://127.0.0.1:7860/?class=ABC234"
    svg = qr_svg("http://127.0.0.1:7860/?class=ABC234")
    assert svg.startswith("<svg") and "path" in svg


# -- the registry ------------------------------------------------------------------------------------
def test_a_shared_model_is_every_joiners_model_until_the_class_expires(comparator, tmp_path):
    models, clock = Models(comparator), Clock()
    room = ClassRoom(models, tmp_path, hours=2, clock=clock)
    cls = room.share_model(finished_entry(tmp_path), owner="teacher")
    assert room.share_model(finished_entry(tmp_path), owner="teacher") is not cls  # another record
    assert cls.model_key is not None and models.label(cls.model_key).startswith(f"class model {cls.code}")
    assert room.join(cls.code.lower(), "alice") is cls and room.join(cls.code, "bob") is cls
    assert cls.watchers == {"alice", "bob"} and cls.path.exists()
    assert progress(cls)["status"] == "done" and progress(cls)["points"] == 3
    assert "2 screens following" in share_html(cls, link("http://h/", cls.code))

    clock.now += 2 * 3600  # two hours on: the class, its model and its file are gone
    with pytest.raises(ClassError, match="No class"):
        room.join(cls.code, "carol")
    assert models.label(cls.model_key) is None and not models.alive(cls.model_key)
    with pytest.raises(ModelGone, match=f"class {cls.code} has ended"):  # a page showing it says why
        models.comparator(cls.model_key)
    assert not cls.path.exists() and len(room) <= 1


def test_limits_on_classes_and_screens(comparator, tmp_path):
    room = ClassRoom(Models(comparator), tmp_path, max_classes=1, max_watchers=2)
    cls = room.share_model(finished_entry(tmp_path), owner="teacher")
    with pytest.raises(ClassError, match="already hosts 1 classes"):
        room.share_model(finished_entry(tmp_path), owner="other teacher")
    room.join(cls.code, "a")
    room.join(cls.code, "b")
    room.join(cls.code, "a")  # the same screen again is no new one
    with pytest.raises(ClassError, match="full"):
        room.join(cls.code, "c")
    with pytest.raises(ClassError, match="Type the class code"):
        room.join("  ", "d")


# -- a class following a run (recorded, replayed as slowly as it trained) -----------------------------------
@pytest.fixture
def setup(comparator, data_root, tmp_path, recordings):
    models = Models(comparator)
    retrain = RetrainHandlers(models, TrainingSlot(runner=ReplayRunner(recordings, pace=1.0)),
                              SessionModels(models, tmp_path / "s"), data_root, {"tiny": 4.0, "long": 60.0})
    return models, ClassHandlers(ClassRoom(models, tmp_path / "c"), retrain)


def collect(agen) -> list:
    async def run():
        return [out async for out in agen]
    return asyncio.run(run())


def teacher_trains(h: ClassHandlers, length: str, on_update=None, hide=None) -> list:
    outs = []
    for out in h.retrain.train("bce", length, 2e-3, "scratch", SHIPPED, hide, request=req("teacher"),
                               progress=lambda *a, **k: None):
        outs.append(out)
        if on_update is not None:
            on_update(outs)
    return outs


def test_students_follow_the_teachers_run_live_and_then_use_its_model(setup):
    models, h = setup
    screens = {}

    def share_once(outs):
        if "card" not in screens and h.retrain.slot.current is not None:
            card, timer = h.share("http://127.0.0.1:7860/", request=req("teacher"))
            screens["card"], screens["code"] = card, h.room.of_owner("teacher").code
            # a student who joins at once, in their own thread, like a browser tab
            screens["alice"] = threading.Thread(
                target=lambda: screens.update(alice_out=collect(h.watch(screens["code"], request=req("alice")))))
            screens["alice"].start()

    teacher_trains(h, "tiny", share_once)
    screens["alice"].join(30)
    code, outs = screens["code"], screens["alice_out"]
    assert f'data-code="{code}"' in screens["card"] and "?class=" + code in screens["card"]
    steps = [int(o[1].split('data-step="')[1].split('"')[0]) for o in outs if isinstance(o[1], str)]
    assert len(outs) >= 3 and steps == sorted(steps) and steps[-1] > 0  # live, in order
    key = outs[-1][5]
    cls = h.room.get(code)
    assert key == cls.model_key and models.label(key).startswith(f"class model {code}")
    assert 'data-kind="done"' in outs[-1][0]
    assert outs[0][4] is None and any(isinstance(o[4], type(outs[-1][2])) for o in outs)  # the map came
    # a late joiner gets the whole curve at once, and the model
    late = collect(h.watch(code.lower(), request=req("bob")))
    assert len(late[-1][2]) == len(cls.record.seconds) >= 2 and late[-1][5] == cls.model_key
    assert cls.watchers == {"alice", "bob"}
    # the teacher's own session model is separate: closing the teacher's tab leaves the class's
    h.retrain.unload(request=req("teacher"))
    assert models.comparator(cls.model_key) is not models.comparator(SHIPPED)


def test_a_class_sees_the_never_seen_digits_as_the_teacher_does(setup):
    import pandas as pd

    from demo.classroom.handlers import progress
    from demo.retrain import views as rv

    models, h = setup
    screens = {}

    def share_once(outs):
        if "code" not in screens and h.retrain.slot.current is not None:
            h.share("http://127.0.0.1:7860/", request=req("teacher"))
            screens["code"] = h.room.of_owner("teacher").code

    teacher = teacher_trains(h, "tiny", share_once, hide=["7", "8", "9"])
    cls = h.room.get(screens["code"])
    outs = collect(h.watch(screens["code"], request=req("alice")))  # a late joiner: the whole run
    first = outs[0][3]
    assert first.value is None and first.colors_in_legend == [rv.SEEN_PAIRS, rv.UNSEEN_PAIRS]
    acc = [o[3] for o in outs if isinstance(o[3], pd.DataFrame)]
    assert acc and acc[-1].equals([o[3] for o in teacher if isinstance(o[3], pd.DataFrame)][-1])  # the same curve
    assert set(acc[-1]["pairs"]) == {rv.SEEN_PAIRS, rv.UNSEEN_PAIRS}
    maps = [o[4] for o in outs if isinstance(o[4], pd.DataFrame)]
    assert maps and "7 (never seen)" in set(maps[-1]["digit"])
    assert "never-seen pairs" in outs[-1][1]
    p = progress(cls)
    assert p["exclude_digits"] == [7, 8, 9] and 0 <= p["unseen_pair_accuracy"] <= 1
    assert "trained without 7, 8, 9" in models.label(cls.model_key)


def test_closing_the_teachers_tab_ends_a_shared_run_and_the_class_keeps_its_model(setup):
    models, h = setup
    shared = {}

    def share_then_close(outs):
        run = h.retrain.slot.current
        if run is not None and run.last is not None and run.last.step > 0 and "code" not in shared:
            h.share("http://h/", request=req("teacher"))
            shared["code"] = h.room.of_owner("teacher").code
            h.retrain.unload(request=req("teacher"))  # the tab closes mid-run

    teacher_trains(h, "long", share_then_close)
    cls = h.room.get(shared["code"])
    assert cls.record.state == "stopped" and cls.model_key is not None
    assert models.comparator(cls.model_key) is not models.comparator(SHIPPED)


def test_unknown_codes_and_sharing_nothing_are_clear_messages(setup):
    _, h = setup
    outs = collect(h.watch("ZZZZZZ", request=req("alice")))
    assert len(outs) == 1 and 'data-kind="error"' in outs[0][0] and "No class ZZZZZZ" in outs[0][0]
    with pytest.raises(gr.Error, match="Start a training run first"):
        h.share("http://h/", request=req("nobody"))
    with pytest.raises(gr.Error, match="No class ZZZZZZ"):
        collect(h.watch_class("ZZZZZZ", request=req("script")))
    tabs, code = h.from_link(request=req("x", {"class": "abc234"}))
    assert code == "ABC234" and tabs.selected == "class"
