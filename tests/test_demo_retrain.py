"""The Retrain tab's Python side without a server: demo.retrain.views and the handlers of
demo.retrain.handlers, called the way Gradio calls them (a request with a session hash)."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import numpy as np
import pandas as pd
import pytest

from demo.banner import banner_update
from demo.browser import BrowserModels
from demo.compare import handlers as compare_handlers
from demo.models import SHIPPED, Models
from demo.retrain import views as rv
from demo.retrain.handlers import RetrainHandlers, presets
from demo.retrain.record import RunRecord
from demo.retrain.sessions import SessionModels
from demo.retrain.slot import TrainingSlot
from siamese import bundle
from siamese.checkpoint import excluded_digits, load_checkpoint
from siamese.job import JobUpdate

from .helpers import drawn_png, pad_value, sketch
from .replay import ReplayRunner


def event(step=10, elapsed=2.0, acc=0.8, done=False, n=50, seed=0, seen=None, unseen=None) -> JobUpdate:
    g = np.random.default_rng(seed)
    return JobUpdate(step=step, epoch=step / 100, elapsed=elapsed, train_seconds=elapsed, loss=0.5,
                     pairs_per_s=5000.0, lr=1e-3, test_pair_accuracy=acc,
                     map_xy=g.uniform(-3, 3, (n, 2)).astype(np.float32), map_labels=np.arange(n) % 10, done=done,
                     reason="time" if done else "", device="cpu", pid=1234, threads=2,
                     seen_pair_accuracy=seen, unseen_pair_accuracy=unseen)


# -- views ---------------------------------------------------------------------------------------
def test_a_record_skips_the_stepless_update_and_keeps_the_last_probe():
    r = RunRecord(30)
    r.add(event(step=0, elapsed=0.1))
    r.add(event(step=5, elapsed=1.0, acc=0.7))
    no_probe = event(step=9, elapsed=2.0, acc=None)
    no_probe.map_xy = no_probe.map_labels = None
    r.add(no_probe)
    loss, acc = rv.curve_frames(r)
    assert list(loss["seconds"]) == [1.0, 2.0] and list(loss.columns) == ["seconds", "loss"]
    assert list(acc.columns) == ["seconds", "accuracy", "pairs"] and list(acc["accuracy"]) == [0.7]
    assert set(acc["pairs"]) == {rv.ALL_PAIRS}  # nothing hidden: one series (no legend)
    assert r.last_accuracy == 0.7 and r.map_xy is not None and r.version == 3 and r.state == "training"
    assert "70.0%" in rv.stats_html(r.last, 30, accuracy=r.last_accuracy)  # between probes: the last one
    r.finish("stopped")
    assert r.finished and r.version == 4


def test_with_hidden_digits_the_curve_has_a_seen_and_a_never_seen_series():
    r = RunRecord(30, (7, 8, 9))
    r.add(event(step=5, elapsed=1.0, acc=0.7, seen=0.75, unseen=0.55))
    no_probe = event(step=9, elapsed=2.0, acc=None)
    r.add(no_probe)
    r.add(event(step=14, elapsed=3.0, acc=0.8, seen=0.9, unseen=0.6))
    loss, acc = rv.curve_frames(r)
    assert list(loss["seconds"]) == [1.0, 2.0, 3.0]
    assert list(acc.columns) == ["seconds", "accuracy", "pairs"]
    seen, unseen = (acc[acc["pairs"] == name] for name in (rv.SEEN_PAIRS, rv.UNSEEN_PAIRS))
    assert list(seen["seconds"]) == [1.0, 3.0] and list(seen["accuracy"]) == [0.75, 0.9]
    assert list(unseen["seconds"]) == [1.0, 3.0] and list(unseen["accuracy"]) == [0.55, 0.6]
    assert set(acc["pairs"]) == {rv.SEEN_PAIRS, rv.UNSEEN_PAIRS}  # no overall line beside them
    assert set(rv.ACC_COLOURS) >= set(acc["pairs"])  # every series has its colour
    # the plot's legend: the two series with digits hidden, none without
    assert rv.accuracy_plot((7, 8, 9))["colors_in_legend"] == [rv.SEEN_PAIRS, rv.UNSEEN_PAIRS]
    assert "never-seen 7, 8, 9" in rv.accuracy_plot((7, 8, 9))["title"]
    assert rv.accuracy_plot()["colors_in_legend"] == []
    # the numbers: seen and never-seen apart, the latest probe's between probes
    r.add(event(step=20, elapsed=4.0, acc=None))
    assert rv.split_of(r) == (0.9, 0.6) and rv.split_of(RunRecord(30)) is None
    html = rv.stats_html(r.last, 30, accuracy=r.last_accuracy, split=rv.split_of(r))
    assert "90.0%" in html and "60.0%" in html and "never-seen pairs" in html and "test pair accuracy" not in html
    assert "never-seen pairs" in rv.stats_html(None, 30, running=False, split=(None, None))
    # no frame until every series has a point: the plot's colours come from the first one it draws
    assert rv.curve_frames(RunRecord(30, (7,)))[1] is None and rv.curve_frames(RunRecord(30))[1] is None
    one_sided = RunRecord(30, (7,))
    one_sided.add(event(step=5, elapsed=1.0, seen=0.8, unseen=None))
    assert rv.curve_frames(one_sided)[1] is None


def test_the_map_names_the_never_seen_digits_in_the_palette_colours():
    ev = event(n=200)
    frame = rv.map_frame(ev.map_xy, ev.map_labels, (7, 8, 9))
    assert list(frame["digit"].unique()) == [*"0123456", "7 (never seen)", "8 (never seen)", "9 (never seen)"]
    assert rv.DIGIT_COLOURS["7 (never seen)"] == rv.DIGIT_COLOURS["7"]  # one palette: the same colour
    assert list(frame[["x", "y"]].values.tolist()) == rv.map_frame(ev.map_xy, ev.map_labels)[["x", "y"]].values.tolist()


def test_map_frame_keeps_each_point_with_its_digit_sorted_by_digit():
    ev = event(n=200)
    frame = rv.map_frame(ev.map_xy, ev.map_labels)
    assert list(frame.columns) == ["x", "y", "digit"] and len(frame) == 200
    assert list(frame["digit"]) == sorted(frame["digit"], key=int)
    k = int(np.flatnonzero(ev.map_labels == 3)[0])  # the first 3 keeps its place on the map
    first3 = frame[frame["digit"] == "3"].iloc[0]
    assert (first3["x"], first3["y"]) == pytest.approx(tuple(ev.map_xy[k].round(3)), abs=1e-3)


def test_stats_and_cards_say_what_happened():
    html = rv.stats_html(event(step=1234, elapsed=12.4, acc=0.9651), 30)
    assert "1,234" in html and "96.5%" in html and "/ 30" in html and 'data-state="running"' in html
    assert 'data-state="idle"' in rv.stats_html(None, 30, running=False)
    s = rv.summary({"loss": "triplet", "lr": 1e-3, "max_seconds": 30}, event(step=300, elapsed=30.2),
                   {"threshold": 0.4, "val_pair_accuracy": 0.95}, "scratch", stopped=False)
    assert rv.describe(s) == "triplet loss, from random weights, trained 30 s (300 steps, lr 0.001)"
    assert 'data-model="mine"' in rv.model_card_html(s, True)
    assert 'data-model="shipped"' in rv.model_card_html(s, False)
    assert 'data-model="shipped"' in rv.model_card_html(None, False)
    hidden = rv.summary({"loss": "bce", "lr": 2e-3, "max_seconds": 30, "exclude_digits": (7, 8, 9)},
                        event(step=300, elapsed=30.2), None, "scratch", stopped=True)
    assert hidden["exclude_digits"] == [7, 8, 9]
    assert rv.describe(hidden).endswith("(300 steps, lr 0.002), trained without 7, 8, 9")
    assert "never saw 7, 8, 9" in rv.model_card_html(hidden, True)


def test_presets_fit_the_server_limit():
    assert list(presets(300)) == ["short \u2248 10 s", "quick \u2248 30 s", "longer \u2248 2 min"]
    assert list(presets(30)) == ["short \u2248 10 s", "quick \u2248 30 s"]
    assert presets(5) == {"up to 5 s": 5}


# -- handlers --------------------------------------------------------------------------------------
def prop(update, name):
    """A property of a component update (Gradio 6 returns components; gr.skip() a dict)."""
    return update[name] if isinstance(update, dict) else getattr(update, name)


def req(name: str):
    return SimpleNamespace(session_hash=name)


def no_progress(*args, **kwargs):
    pass


@pytest.fixture
def h(models, data_root, tmp_path, recordings):
    """The tab's handlers, training with recorded runs replayed four times as fast (the handlers
    are the subject here; the training process has tests of its own)."""
    return RetrainHandlers(models, TrainingSlot(runner=ReplayRunner(recordings)), SessionModels(models, tmp_path),
                           data_root, {"tiny": 3.0, "long": 60.0})


def train(h, owner="alice", length="tiny", loss="bce", init="scratch", key=SHIPPED, on_update=None, hide=None):
    outs = []
    for out in h.train(loss, length, 2e-3, init, key, hide, request=req(owner), progress=no_progress):
        outs.append(out)
        if on_update is not None:
            on_update(out, outs)
    return outs


@pytest.mark.integration
def test_train_streams_plots_and_ends_with_a_session_model(h, models):
    outs = train(h)
    assert all(len(o) == 8 for o in outs)
    plotted = [o for o in outs if isinstance(o[2], type(rv.empty_curve("loss")))]
    assert len(plotted) >= 2
    steps = [o[2]["seconds"].iloc[-1] for o in plotted if len(o[2])]
    assert steps == sorted(steps)
    maps = [o[4] for o in plotted if o[4] is not None and not isinstance(o[4], dict)]
    assert maps and len(maps[-1]) == 1000 and set(maps[-1]["digit"]) == {str(d) for d in range(10)}
    status, stats, *_, key, start, stop = outs[-1]
    assert 'data-kind="done"' in status and 'data-state="idle"' in stats
    assert key != SHIPPED and h.sessions.owns("alice", key)
    assert models.comparator(key) is not models.comparator(SHIPPED)
    assert prop(start, "interactive") is True and prop(stop, "interactive") is False

    # the page: banner on, switch buttons, download of a loadable checkpoint
    row, banner, back, _ = banner_update(models, key)
    assert prop(row, "visible") is True and "Using your retrained model" in banner and prop(back, "visible")
    assert "cross-entropy" in banner
    card, use_shipped, use_mine, download = h.show_model(key, request=req("alice"))
    assert 'data-model="mine"' in card
    assert prop(use_shipped, "visible") is True and prop(use_mine, "visible") is False
    _, ckpt = load_checkpoint(prop(download, "value")["path"])  # Gradio has copied it to its cache
    assert ckpt["train_config"]["loss"] == "bce" and ckpt["train_config"]["max_seconds"] == 3.0
    assert ckpt["train_config"].get("data_dir") is None  # no server paths in a download
    # another session sees nothing of it
    row, banner, _, _ = banner_update(models, SHIPPED)
    card, *_ = h.show_model(SHIPPED, request=req("bob"))
    assert prop(row, "visible") is False and banner == "" and 'data-model="shipped"' in card

    # back to the pretrained model and again
    assert h.use_shipped() == SHIPPED
    card, use_shipped, use_mine, _ = h.show_model(SHIPPED, request=req("alice"))
    assert prop(use_mine, "visible") is True and 'data-model="shipped"' in card
    assert h.use_mine(request=req("alice")) == key and h.use_mine(request=req("bob")) == SHIPPED

    # closing the tab leaves it waiting a while for a reload to take it back
    h.unload(request=req("alice"))
    assert h.sessions.get("alice") is None and key in h.sessions and models.alive(key)
    assert h.sessions.adopt("alice after F5", key) is not None


@pytest.mark.integration
def test_hidden_digits_reach_the_runs_config_curves_map_and_model(h, models):
    outs = train(h, hide=["9", "7", "8"])
    start_plot = outs[0][3]  # the accuracy plot's first update: its legend for this run
    assert prop(start_plot, "colors_in_legend") == [rv.SEEN_PAIRS, rv.UNSEEN_PAIRS]
    frames = [o[3] for o in outs if isinstance(o[3], pd.DataFrame) and len(o[3])]
    assert frames and set(frames[-1]["pairs"]) == {rv.SEEN_PAIRS, rv.UNSEEN_PAIRS}  # the last update probes
    assert frames[-1]["accuracy"].between(0, 1).all()
    maps = [o[4] for o in outs if isinstance(o[4], pd.DataFrame)]
    assert maps and set(maps[-1]["digit"]) == {*"0123456", "7 (never seen)", "8 (never seen)", "9 (never seen)"}
    assert any("never showing it 7, 8, 9" in o[0] for o in outs if isinstance(o[0], str))
    assert "never-seen pairs" in outs[-1][1]
    key = outs[-1][5]
    assert excluded_digits(models.comparator(key).checkpoint) == (7, 8, 9)  # the run's TrainConfig
    row, banner, _, _ = banner_update(models, key)
    assert "trained without 7, 8, 9" in banner
    assert "never saw 7, 8, 9" in h.show_model(key, request=req("alice"))[0]


@pytest.mark.integration
def test_digits_that_cannot_be_hidden_are_clear_errors(h):
    with pytest.raises(gr.Error, match="cannot exclude all ten digits"):
        train(h, hide=[str(d) for d in range(10)])
    with pytest.raises(gr.Error, match="hide at most 8 digits.*at least 2"):
        train(h, hide=[str(d) for d in range(1, 10)])
    with pytest.raises(gr.Error, match="expected digits separated by commas"):
        list(h.retrain_api("bce", 3, 1e-3, "scratch", "7 8 x", request=req("script")))
    with pytest.raises(gr.Error, match="0-9"):
        list(h.retrain_api("bce", 3, 1e-3, "scratch", "7,10", request=req("script")))
    assert h.slot.current is None


@pytest.mark.integration
def test_compare_uses_the_session_model_after_a_retrain(h, models, tmp_path):
    key = train(h)[-1][5]
    new, shipped = models.comparator(key), models.comparator(SHIPPED)
    sides = {"a": {"version": 1, **pad_value("7")}, "b": {"version": 1, **pad_value("1")}}
    before = compare_handlers.look(models, compare_handlers.Seen(), {"key": SHIPPED, "verdict": True, "sides": sides})
    after = compare_handlers.look(models, compare_handlers.Seen(), {"key": key, "verdict": True, "sides": sides})
    expected = new.compare(drawn_png("7"), drawn_png("1")).distance
    assert after["key"] == key and after["verdict"]["distance"] == pytest.approx(expected, rel=1e-4)
    assert after["verdict"]["distance"] != pytest.approx(before["verdict"]["distance"])
    # The board gets the new model's weights and threshold: the browser compares with it.
    info = BrowserModels(models, tmp_path).info(key)
    assert info["key"] == key and info["threshold"] == new.threshold and info["name"] == models.label(key)
    assert info["weights"]["bytes"] == len(bundle.weights_blob(new.model))


@pytest.mark.integration
def test_stop_keeps_the_model_trained_so_far(h):
    def stop_after_two(out, outs):
        if sum(isinstance(o[1], str) and "data-step" in o[1] for o in outs) == 2:
            status, stop = h.stop(request=req("alice"))
            # the click's reply leaves the status alone: the run's own stream says "Stopping",
            # then "Stopped", in that order whatever order the two replies reach the page
            assert status == gr.skip() and prop(stop, "interactive") is False

    outs = train(h, length="long", on_update=stop_after_two)
    said = [o[0] for o in outs if isinstance(o[0], str) and "Stopp" in o[0]]
    assert len(said) == 2 and "Stopping" in said[0] and "Stopped" in said[1]
    status, stats, *_, key, _, _ = outs[-1]
    assert "Stopped" in status and key != SHIPPED
    assert h.sessions.get("alice").summary["stopped"] is True
    assert h.sessions.get("alice").summary["seconds"] < 30


@pytest.mark.integration
def test_a_closed_generator_stops_the_run_and_frees_the_slot(h):
    gen = h.train("bce", "long", 2e-3, "scratch", SHIPPED, request=req("alice"), progress=no_progress)
    for out in gen:
        if isinstance(out[1], str) and "data-step" in out[1] and 'data-step="0"' not in out[1]:
            break
    run = h.slot.current
    assert run is not None and run.owner == "alice"
    gen.close()  # what Gradio does when the event is cancelled
    assert run.join(5) and h.slot.current is None and run.stopped_by == "abandoned"
    assert h.sessions.get("alice") is None


@pytest.mark.integration
def test_unload_stops_a_run_in_progress(h):
    def close_tab(out, outs):
        if len(outs) == 2:  # training has started
            h.unload(request=req("alice"))

    outs = train(h, length="long", on_update=close_tab)
    assert 'data-kind="error"' in outs[-1][0]  # abandoned: nothing kept, said so
    assert h.slot.current is None and h.sessions.get("alice") is None


@pytest.mark.integration
def test_prepare_says_busy_when_someone_else_trains(h):
    seen = {}

    def on_update(out, outs):
        if "bob" not in seen and h.slot.current is not None:
            seen["bob"] = h.prepare(request=req("bob"))
            seen["alice"] = h.prepare(request=req("alice"))
            h.stop(request=req("alice"))

    train(h, length="long", on_update=on_update)
    status, start, stop, progress = seen["bob"]
    assert 'data-kind="busy"' in status and "someone else is training" in status
    assert prop(start, "interactive") is False and prop(stop, "interactive") is True
    assert 'data-kind="running"' in seen["alice"][0]


@pytest.mark.integration
def test_bad_requests_are_errors(h, tmp_path, models):
    with pytest.raises(gr.Error, match="Unknown length"):
        train(h, length="forever")
    with pytest.raises(gr.Error, match="loss must be one of"):
        train(h, loss="hinge")
    no_data = RetrainHandlers(models, TrainingSlot(runner=h.slot.runner), SessionModels(models, tmp_path / "s"),
                              tmp_path / "empty", {"tiny": 3.0})
    with pytest.raises(gr.Error, match="MNIST"):
        train(no_data)
    assert no_data.slot.current is None


@pytest.mark.integration
def test_start_from_the_session_model(h, models):
    key = train(h)[-1][5]
    outs = train(h, init="current", key=key)
    first_acc = next(o[1] for o in outs if isinstance(o[1], str) and "test pair accuracy" in o[1]
                     and 'data-step="0"' not in o[1])
    assert outs[-1][5] != key  # a new model replaced the old one
    assert "a newer run in the same tab replaced it" in models.gone(key).reason
    assert first_acc


@pytest.mark.integration
def test_api_streams_dicts_and_ends_with_a_checkpoint_file(h, monkeypatch):
    monkeypatch.setenv("SIAMESE_MAX_TRAIN_SECONDS", "3")
    outs, ckpt = [], None
    for out in h.retrain_api("contrastive", 600, 1e-3, "scratch", request=req("script")):
        outs.append(out)
        if out[1] is not None:  # Gradio copies the file at this point; it is gone afterwards
            _, ckpt = load_checkpoint(out[1])
    progress = [o[0] for o in outs]
    assert all(o[1] is None for o in outs[:-1]) and outs[-1][1] is not None
    assert [p["step"] for p in progress] == sorted(p["step"] for p in progress)
    assert progress[-1]["status"] == "done" and progress[-1]["seconds"] == 3  # capped by the server
    assert progress[-1]["loss_name"] == "contrastive" and 0 <= progress[-1]["test_pair_accuracy"] <= 1
    assert ckpt["model_config"]["metric"] == "euclidean"
    with pytest.raises(gr.Error, match="init"):
        list(h.retrain_api("bce", 3, 1e-3, "yesterday", request=req("script")))


@pytest.mark.integration
def test_stop_before_the_first_step_keeps_nothing(h):
    def stop_at_once(out, outs):
        if len(outs) == 1:
            h.stop(request=req("alice"))

    outs = train(h, length="long", on_update=stop_at_once)
    assert "nothing to keep" in outs[-1][0]
    assert h.sessions.get("alice") is None and h.slot.current is None
