"""demo.compare (handlers, views), demo.views, demo.distance_plot, demo.inputs, demo.models: the
Compare tab's Python side, no server. (The board's script: tests/test_e2e_page.py.)"""
from __future__ import annotations

import base64
import re
import threading
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

from demo import distance_plot, views
from demo.compare import handlers
from demo.compare import views as compare_views
from demo.examples import example_pairs
from demo.inputs import pad_html, sketch_image
from demo.models import SHIPPED, ModelGone, Models
from demo.retrain.handlers import RetrainHandlers
from demo.teach.common import status_html
from siamese import data, to_mnist
from siamese.config import TrainConfig

from .helpers import bad_files, drawn_png, pad_value


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def offline_models(comparator, tmp_path_factory):
    m = Models(comparator, data_dir=tmp_path_factory.mktemp("no_mnist"), download=False).start()
    assert m.wait(60)
    return m


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def mnist_side(digit: str, version: int = 1) -> dict:
    """A side as the board sends it when the browser made the 28x28 image (784 bytes)."""
    image = to_mnist(drawn_png(digit))
    return {"version": version, "mnist": b64(np.rint(image * 255).astype(np.uint8).tobytes())}


def png_side(digit: str, version: int = 1) -> dict:
    """A side as the board sends it when the browser cannot preprocess: the pad's PNG."""
    return {"version": version, "png": b64(drawn_png(digit))}


def ask(models, a, b, verdict=False, key=SHIPPED, seen=None, session="s1"):
    return handlers.look(models, seen or handlers.Seen(), {"key": key, "verdict": verdict, "sides": {"a": a, "b": b}},
                         session)


# -- look: what the board asks after a stroke --------------------------------------------------
def test_each_side_gets_its_neighbours_from_the_browsers_28x28(models):
    r = ask(models, mnist_side("7", 3), mnist_side("1", 8))
    assert r["key"] == SHIPPED and "verdict" not in r  # the browser gave the verdict: not asked for
    a, b = r["sides"]["a"], r["sides"]["b"]
    assert (a["version"], b["version"]) == (3, 8)  # the board shows an answer only for what it sent
    assert "of 8 are 7s" in a["neighbours"] and a["guess"] == "7"
    assert "are 1s" in b["neighbours"] and b["guess"] == "1"
    assert "image" not in a  # made by the browser: nothing to send back


def test_the_verdict_when_asked_is_the_comparators_on_the_same_images(models):
    r = ask(models, png_side("7", 1), png_side("1", 2), verdict=True)
    cmp = models.comparator(SHIPPED)
    want = cmp.compare(drawn_png("7"), drawn_png("1"))
    v = r["verdict"]
    assert v["versions"] == [1, 2]
    assert v["distance"] == pytest.approx(want.distance, rel=1e-5) and v["probability"] == pytest.approx(want.same_probability, abs=1e-6)
    made = np.frombuffer(base64.b64decode(r["sides"]["a"]["image"]), np.uint8).reshape(28, 28)
    assert np.abs(made / 255 - want.image_a).max() <= 1 / 255  # the view the page shows, made here


def test_the_last_pair_is_kept_per_session_for_the_embedding_map(models):
    seen = handlers.Seen(max_sessions=2)
    ask(models, mnist_side("7"), mnist_side("7"), seen=seen, session="x")
    shown = seen.get("x")
    assert shown.distance <= models.comparator(SHIPPED).threshold and shown.guesses == ("7", "7")
    assert shown.image_a.shape == (28, 28)
    ask(models, mnist_side("7"), None, seen=seen, session="x")  # one side: the pair stays
    assert seen.get("x") is shown
    for s in ("y", "z"):
        ask(models, mnist_side("1"), mnist_side("7"), seen=seen, session=s)
    assert seen.get("x") is None  # bounded: the oldest session went
    seen.forget("z")
    assert seen.get("z") is None and seen.get("y") is not None


@pytest.mark.parametrize("name", ["one_pixel", "blank", "not_an_image", "corrupt", "bomb"])
def test_a_bad_upload_says_which_side_and_why_and_the_other_side_is_served(models, tmp_path_factory, name):
    path, phrase = bad_files(tmp_path_factory.mktemp("bad"))[name]
    r = ask(models, mnist_side("7"), {"version": 5, "file": b64(path.read_bytes())}, verdict=True)
    b = r["sides"]["b"]
    assert b["version"] == 5 and phrase in b["problem"] and b["problem"].startswith("Digit B")
    assert b["kind"] == ("hint" if name in ("blank", "one_pixel") else "error")  # nothing drawn: a hint
    assert str(path.parent) not in b["problem"]  # no server paths on the page
    assert "verdict" not in r and r["sides"]["a"]["guess"] == "7"


def test_nonsense_from_a_client_is_a_message_not_a_traceback(models):
    for side in ({"version": 1, "mnist": "not base64!"}, {"version": 1, "mnist": b64(b"short")},
                 {"version": 1, "png": 12}, {"version": 1, "file": "x" * (30 * 1_400_000)}):
        r = ask(models, side, mnist_side("7"))
        assert r["sides"]["a"]["problem"].startswith("Digit A:"), side
    assert handlers.look(models, handlers.Seen(), "junk") == {"key": SHIPPED, "sides": {}}


def test_a_model_that_left_the_server_is_said_and_the_page_goes_back(models, comparator):
    key = models.add(comparator, label="your retrained model (test)")
    assert ask(models, mnist_side("7"), mnist_side("7"), key=key)["key"] == key
    models.remove(key, "the server keeps 8 retrained models at most, and this one was the oldest")
    r = ask(models, mnist_side("7"), mnist_side("7"), key=key)
    assert r == {"gone": {"label": "your retrained model (test)",
                          "reason": "the server keeps 8 retrained models at most, and this one was the oldest"}}
    new_key, note = handlers.gone_back(SimpleNamespace(_data=r["gone"]))
    assert new_key == SHIPPED
    assert "Your retrained model (test) is no longer on this server" in note and "the oldest" in note
    with pytest.raises(ModelGone, match="oldest"):
        models.comparator(key)


def test_without_mnist_everything_else_works(offline_models):
    m = offline_models
    assert m.status(SHIPPED) == "unavailable" and m.reference(SHIPPED) is None
    assert "\n" not in m.data_error and "no MNIST files under" in m.data_error
    r = ask(m, png_side("7"), png_side("7"), verdict=True)
    assert r["verdict"]["distance"] <= m.comparator(SHIPPED).threshold
    assert "not available" in r["sides"]["a"]["neighbours"] and r["sides"]["a"]["guess"] is None
    assert "not available" in handlers.empty_neighbours(None, "unavailable")["b"]


@pytest.mark.parametrize("pair", range(len(example_pairs())))
def test_every_example_pair_gets_a_verdict(models, pair):
    a, b = example_pairs()[pair]
    r = ask(models, {"version": 1, "file": b64(open(a, "rb").read())}, {"version": 1, "file": b64(open(b, "rb").read())},
            verdict=True)
    assert "verdict" in r


def test_example_pairs_teach_the_obvious_cases(models):
    pairs = example_pairs()
    assert handlers.compare_files(models, *pairs[0])["verdict"] == "same"  # 7 / 7
    assert handlers.compare_files(models, *pairs[1])["verdict"] == "different"  # 7 / 1


def test_while_mnist_downloads_the_page_says_from_where(comparator, tmp_path, monkeypatch):
    """On a Space MNIST comes from the Hub at every start: the page says so while it waits, and
    a retrain asked for meanwhile is told to wait, not that there is no data."""
    started, release = threading.Event(), threading.Event()

    def slow_hub(root):
        started.set()
        release.wait(60)
        raise OSError("offline")

    monkeypatch.setenv("SPACE_ID", "teacher/siamese-digits")
    monkeypatch.delenv(data.SOURCE_ENV, raising=False)
    monkeypatch.setitem(data.FETCHERS, "hub", slow_hub)
    monkeypatch.setitem(data.FETCHERS, "torchvision", lambda root: (_ for _ in ()).throw(OSError("HTTP 403")))
    m = Models(comparator, data_dir=tmp_path, download=True).start()
    try:
        assert started.wait(60)
        assert m.status(SHIPPED) == "loading"
        assert m.loading_text() == "Downloading MNIST from the Hugging Face Hub (ylecun/mnist)"
        assert "Downloading MNIST from the Hugging Face Hub (ylecun/mnist) for the map" in status_html("loading", m, "the map")

        def no_data(*args):
            raise data.DataUnavailableError("not yet")

        h = RetrainHandlers(m, SimpleNamespace(start=no_data), None)
        with pytest.raises(gr.Error) as e:
            h._start(TrainConfig(), "someone", None)
        assert e.value.title == "Not ready yet" and "Downloading MNIST from the Hugging Face Hub" in e.value.message
    finally:
        release.set()
    assert m.wait(60)
    assert m.status(SHIPPED) == "unavailable" and "the download failed" in m.data_error and m.data_step is None


# -- the API function --------------------------------------------------------------------------
def test_compare_files_returns_the_verdict_as_json(models):
    a, b = example_pairs()[1]
    r = handlers.compare_files(models, a, b)
    assert set(r) >= {"distance", "same_probability", "same", "threshold", "verdict"}
    assert r["same"] is False and r["verdict"] == "different" and 0 <= r["same_probability"] <= 1
    assert r["threshold"] == models.comparator(SHIPPED).threshold


@pytest.mark.parametrize("name", ["one_pixel", "blank", "not_an_image", "corrupt", "bomb"])
def test_compare_files_bad_input_is_a_clear_error(models, tmp_path_factory, name):
    path, phrase = bad_files(tmp_path_factory.mktemp("bad"))[name]
    with pytest.raises(gr.Error, match=f"image_a: .*{phrase}"):
        handlers.compare_files(models, str(path), example_pairs()[0][0])


def test_compare_files_needs_two_files(models):
    with pytest.raises(gr.Error, match="two image files"):
        handlers.compare_files(models, example_pairs()[0][0], None)


# -- inputs and the board's HTML ---------------------------------------------------------------------
def test_a_pads_value_is_its_drawing_as_a_png():
    assert sketch_image(None) is None
    value = pad_value("4")
    assert sketch_image(value) == drawn_png("4")
    with pytest.raises(gr.Error, match="draw it again"):
        sketch_image({"png": "%%%"})
    assert sketch_image({"composite": None}) is None and sketch_image("") is None  # an emptied pad
    assert sketch_image({"composite": "/etc/passwd"}) is None and sketch_image("/etc/passwd") is None  # never a path


@pytest.mark.parametrize("html", [compare_views.board_html([("a.png", "b.png")]), pad_html("sketch-x", "draw", "x-clear")],
                         ids=["board", "pad"])
def test_the_templates_hold_the_ids_checks_rely_on_and_nothing_gradio_would_evaluate(html):
    for forbidden in ("`", "${", "{{"):
        assert forbidden not in html  # gr.HTML evaluates its template as a JS template and Handlebars
    if "board" in html:
        for needed in ('id="sketch-a"', 'id="sketch-b"', 'id="clear-a"', 'id="clear-b"', 'id="compare-btn"',
                       'id="verdict"', 'id="view-a"', 'id="upload-b"'):
            assert needed in html
        # the pads' canvases are the script's, made once it listens: a canvas on the page draws
        assert "<canvas" not in html.split('id="view-a"')[0] and 'data-label="Drawing pad for digit A' in html


# -- views -------------------------------------------------------------------------------------
def test_numbers_read_well_and_the_network_view_keeps_every_pixel():
    assert views.fmt(15.834) == "15.8" and views.fmt(-2.3149) == "\u22122.31" and views.fmt(0.01234) == "0.0123"
    assert views.fmt(-3.7e-6) == "0" and views.fmt(12345.6) == "12346"
    img = np.zeros((28, 28), np.float32)
    img[3, 5] = 1.0
    big = views.network_view(img, scale=8)
    assert big.shape == (224, 224) and big[24:32, 40:48].min() == 255 and big.sum() == 255 * 64


def test_the_plot_tells_the_script_how_its_axis_maps_distances():
    svg = distance_plot.distance_svg(2.7, None, ref_range=(-20.0, 40.0))
    attrs = {k: float(v) for k, v in re.findall(r'data-(lo|hi|x0|w|top|base)="([-\d.]+)"', svg)}
    lo, hi, x0, w = attrs["lo"], attrs["hi"], attrs["x0"], attrs["w"]
    # the threshold line is where the script would put a pair at the threshold
    t = float(re.search(r'<line x1="([\d.]+)" y1="[\d.]+" x2="[\d.]+" y2="[\d.]+" stroke="#374151"', svg).group(1))
    assert t == pytest.approx(x0 + (2.7 - lo) / (hi - lo) * w, abs=0.1)
    assert "pair-marker" not in svg  # the pair's mark is the script's


def test_distance_svg_clamps_far_pairs():
    svg = distance_plot.distance_svg(2.7, 1e6, ref_range=(-20.0, 40.0))
    assert "\u25b6" in svg  # off the right edge: an arrow, not a marker outside the plot
    assert "this pair" in svg and "called same" in svg


def test_axis_ticks_are_round_numbers_inside_the_range():
    assert distance_plot.nice_ticks(-20, 45) == [-20, 0, 20, 40]
    assert distance_plot.nice_ticks(-0.05, 1.0) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])


@pytest.mark.parametrize("threshold", [-20.0, 0.0, 40.0])
def test_side_labels_stay_inside_and_apart(threshold):
    svg = distance_plot.distance_svg(threshold, None, ref_range=(-20.0, 40.0))
    end_same = float(re.search(r'x="([\d.]+)"[^>]*class="side same"', svg).group(1))
    start_diff = float(re.search(r'x="([\d.]+)"[^>]*class="side diff"', svg).group(1))
    assert end_same - 88 >= 0 and start_diff + 118 <= distance_plot.W and start_diff > end_same


def test_example_spans_are_computed_once_per_model(comparator):
    first = handlers.example_distance_span(comparator)
    assert first[0] < comparator.threshold < first[1]
    assert handlers.example_distance_span(comparator) is first

