"""demo.symbols (handlers, views, models) and demo.symbol_examples: the Your symbols tab's Python
side, no server. A stub model whose descriptor is the first three pixels of row 0 makes the
rankings and confidences checkable by hand."""
from __future__ import annotations

import math
import re

import gradio as gr
import numpy as np
import pytest
import torch

from demo import symbol_examples
from demo.symbols import handlers as H
from demo.symbols import views as V
from demo.symbols.models import DIGITS, SYMBOLS, SymbolModels, episodes
from siamese import to_mnist

from .helpers import StubComparator, blank_sketch, png_bytes


class Stub(StubComparator):
    """StubComparator with the page's preprocessing; a (28, 28) image passes as it is, so a
    test sets its descriptor in row 0. Counts the images it embeds."""

    def __init__(self):
        super().__init__()
        self.embedded = 0

    def preprocess(self, image):
        a = np.asarray(image)
        return a.astype(np.float32) if a.shape == (28, 28) else to_mnist(image)

    def embed(self, images, fast=None):
        self.embedded += len(images)
        return super().embed(images, fast)


def image(*descriptor) -> np.ndarray:
    """A (28, 28) image whose stub descriptor is `descriptor` (and a pixel of ink elsewhere)."""
    x = np.zeros((28, 28), np.float32)
    x[0, : len(descriptor)] = descriptor
    x[14, 14] = 1
    return x


def pad(img) -> dict:
    return {"background": None, "layers": [], "composite": img}


def drawn(name: str, variation: int = 0) -> dict:
    return pad(np.asarray(symbol_examples.draw_symbol(name, variation)))


@pytest.fixture
def sm():
    return SymbolModels(Stub(), Stub())


ABC = (H.symbol("a", image(0, 0, 0)), H.symbol("b", image(3, 4, 0)), H.symbol("c", image(1, 0, 0)))
# The same, with every pixel a whole number of 255ths, as images travel to and from the board.
ABC8 = (H.symbol("a", image(0, 0, 0)), H.symbol("b", image(0.6, 0.8, 0)), H.symbol("c", image(0.2, 0, 0)))


def look(sm, symbols, model, query=None, rank=True) -> dict:
    """The board's question: its symbols, and the query as the browser's 28x28 image."""
    q = None if query is None else {"mnist": H.encode_image(query)}
    return H.look(sm, {"model": model, "symbols": H.board_symbols(symbols), "query": q, "rank": rank})


# -- ranking and confidence ----------------------------------------------------------------------
def test_the_ranking_is_nearest_first_with_the_softmax_of_the_log_odds_by_hand(sm):
    cmp = sm.comparator(SYMBOLS)
    r = H.rank(cmp, SYMBOLS, sm.descriptors(SYMBOLS, ABC), ABC, image(0.8, 0, 0))
    d = {"a": 0.8, "b": math.hypot(2.2, 4), "c": 0.2}  # from (0.8, 0, 0)
    assert [m.name for m in r.matches] == ["c", "a", "b"]
    assert [m.distance for m in r.matches] == pytest.approx([d["c"], d["a"], d["b"]])
    z = sum(math.exp(1 - v) for v in d.values())  # the stub's log-odds of "same": 1 - d
    assert [m.confidence for m in r.matches] == pytest.approx([math.exp(1 - d[n]) / z for n in "cab"])
    assert r.matches[0].same_probability == pytest.approx(1 / (1 + math.exp(-0.8)))
    assert r.xy.shape == (4, 2)  # three symbols and the query on the map

    r = look(sm, ABC8, SYMBOLS, image(0.8, 0, 0))  # what the board gets, by hand from (0.8, 0, 0)
    d = {"a": 0.8, "b": math.hypot(0.2, 0.8), "c": 0.6}
    z = sum(math.exp(1 - v) for v in d.values())
    assert [m["name"] for m in r["ranking"]] == ["c", "a", "b"]
    assert [m["confidence"] for m in r["ranking"]] == pytest.approx([math.exp(1 - d[n]) / z for n in "cab"], rel=1e-4)
    assert 'data-points="4"' in r["map"] and 'class="sym-pt query"' in r["map"]
    assert 'class="sym-model on" data-model="symbols"' in r["note"]
    assert "ranking" not in look(sm, ABC8, SYMBOLS, image(0.8, 0, 0), rank=False)  # ranked in the browser


def test_the_same_drawings_ranked_by_the_other_model_and_descriptors_embedded_once_per_model(sm):
    sm.descriptors(SYMBOLS, ABC)
    sm.descriptors(SYMBOLS, ABC[:2])
    assert sm.comparator(SYMBOLS).embedded == 3  # kept per (model, drawing)
    r = look(sm, ABC8, DIGITS, image(0.6, 0.76, 0))
    assert r["ranking"][0]["name"] == "b" and 'class="sym-model on" data-model="digits"' in r["note"]
    assert sm.comparator(DIGITS).embedded == 4  # the three symbols and the query


# -- what the tab says before there is a ranking --------------------------------------------------
def test_too_few_symbols_no_query_and_a_blank_query_each_say_what_to_do(sm):
    for symbols in ((), ABC8[:1]):
        r = look(sm, symbols, SYMBOLS, image(0.2, 0, 0))
        assert "ranking" not in r and "sym-map empty" in r["map"]
    blank = {"png": __import__("base64").b64encode(png_bytes(__import__("PIL.Image", fromlist=["Image"]).new("L", (280, 280), 255))).decode()}
    for query in (None, blank):
        r = H.look(sm, {"model": SYMBOLS, "symbols": H.board_symbols(ABC8[:2]), "query": query, "rank": True})
        assert "ranking" not in r and "problem" not in r
        assert 'data-points="2"' in r["map"]  # the symbols alone on the map


def test_a_missing_symbols_model_is_said_and_the_digit_model_still_ranks():
    sm = SymbolModels(Stub(), None, "checkpoints/siamese_omniglot.pt is missing")
    r = look(sm, ABC8, SYMBOLS, image(0.2, 0, 0))
    assert "The symbols model is not on this server (checkpoints/siamese_omniglot.pt is missing)" in r["problem"]
    assert "Not on this server" in r["note"]
    assert look(sm, ABC8, DIGITS, image(0.2, 0, 0))["ranking"][0]["name"] == "c"
    symbols = H.act(sm, (), H.TAKE_EXAMPLES)[0]  # adding works without it
    assert len(symbols) == len(H.EXAMPLES)


def test_a_model_that_does_not_exist_is_refused(sm):
    assert "Unknown model 'cats'" in look(sm, ABC8, "cats")["problem"]


# -- changing the symbols --------------------------------------------------------------------------
def test_add_keeps_the_drawing_under_its_name_and_empties_the_pad_and_the_name(sm):
    symbols, listing, note, pad_out, name_out, dropdown, board = H.act(sm, (), H.ADD, drawn("star"), "  my  star ")
    assert [s.name for s in symbols] == ["my star"] and symbols[0].image.shape == (28, 28)
    assert 'data-count="1"' in listing and 'data-name="my star"' in listing
    assert "Added \u201cmy star\u201d. Add 1 more." in note
    assert pad_out is None and name_out == ""  # the pad's script clears it on None
    sent = board.props["symbols"] if hasattr(board, "props") else board.symbols
    assert [x["name"] for x in sent] == ["my star"]
    assert np.abs(H.decode_image(sent[0]["image"]) - symbols[0].image).max() <= 0.5 / 255 + 1e-7
    assert isinstance(dropdown, gr.Dropdown) and dropdown.choices == [("my star", "my star")]
    symbols = H.act(sm, symbols, H.ADD, drawn("heart"), "heart")[0]
    assert "Now draw a new one" in H.act(sm, symbols[:1], H.ADD, drawn("heart"), "heart")[2]
    assert [s.name for s in symbols] == ["my star", "heart"]


@pytest.mark.parametrize("sketch, name, phrase", [
    (None, "x", "Draw the symbol on the left pad first"),
    ({"background": None, "layers": [], "composite": None}, "x", "Draw the symbol on the left pad first"),
    ("blank", "x", "The drawing looks blank"),
    ("star", "", "Give the symbol a name first"),
    ("star", "   ", "Give the symbol a name first"),
    ("star", "x" * (H.MAX_NAME + 1), f"at most {H.MAX_NAME} characters"),
    ("star", "A", "There is already a symbol named \u201ca\u201d"),
])
def test_bad_input_on_add_is_a_message_and_changes_nothing(sm, sketch, name, phrase):
    value = blank_sketch() if sketch == "blank" else drawn(sketch) if sketch == "star" else sketch
    symbols, _, note, pad_out, name_out, _, _ = H.act(sm, ABC, H.ADD, value, name)
    assert symbols == ABC and phrase in note and 'data-state="error"' in note
    assert pad_out is gr.skip() or pad_out == gr.skip()  # the drawing stays, to fix the name
    assert name_out == gr.skip()


def test_ten_symbols_at_most(sm):
    ten = tuple(H.symbol(str(k), image(k, 0, 0)) for k in range(H.MAX_SYMBOLS))
    symbols, _, note, *_ = H.act(sm, ten, H.ADD, drawn("star"), "star")
    assert symbols == ten and "10 symbols at most" in note
    assert H.act(sm, ten, H.TAKE_EXAMPLES)[0] == ten


def test_remove_start_over_and_the_examples(sm):
    symbols, _, note, _, _, dropdown, _ = H.act(sm, ABC, H.REMOVE, remove="b")
    assert [s.name for s in symbols] == ["a", "c"] and note == "" and dropdown.interactive
    assert "Choose the symbol to remove" in H.act(sm, ABC, H.REMOVE, remove=None)[2]
    assert H.act(sm, ABC, H.REMOVE, remove="zz")[0] == ABC
    empty, listing, _, _, _, dropdown, _ = H.act(sm, ABC, H.RESET)
    assert empty == () and "None yet" in listing and dropdown.interactive is False
    mine = (H.symbol("Star", image(1, 0, 0)),)  # an example's name already taken: skipped
    got = [s.name for s in H.act(sm, mine, H.TAKE_EXAMPLES)[0]]
    assert got == ["Star", *[n for n in H.EXAMPLES if n != "star"]]


def test_symbols_are_equal_by_name_and_drawing_as_gradio_hashes_state():
    a, b = H.symbol("a", image(1, 2, 3)), H.symbol("a", image(1, 2, 3))
    assert a == b and hash(a) == hash(b)
    assert H.symbol("a", image(1, 2, 4)) != a and H.symbol("b", image(1, 2, 3)) != a
    assert gr.utils.deep_hash((a,)) == gr.utils.deep_hash((b,)) != gr.utils.deep_hash((a, b))


# -- the API's function ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return symbol_examples.write_set(tmp_path_factory.mktemp("symbols"), 2, names=("star", "heart", "moon"))


def test_one_shot_files_names_the_symbols_by_their_files_best_first(sm, files):
    refs = [str(files[n][0]) for n in files]
    r = H.one_shot_files(sm, refs, str(files["moon"][1]), "symbols")
    assert set(r) == {"ranking", "model"} and r["model"] == "symbols"
    assert sorted(x["name"] for x in r["ranking"]) == ["heart", "moon", "star"]
    assert all(set(x) == {"name", "distance"} for x in r["ranking"])
    d = [x["distance"] for x in r["ranking"]]
    assert d == sorted(d)
    assert H.one_shot_files(sm, refs, str(files["moon"][1]), " Digits ")["model"] == "digits"


def test_one_shot_files_refuses_bad_input_with_clear_messages(sm, files, tmp_path):
    refs = [str(files[n][0]) for n in files]
    broken = tmp_path / "broken.png"
    broken.write_bytes(files["star"][0].read_bytes()[:100])
    blank = tmp_path / "blank.png"
    symbol_examples.Image.new("RGB", (64, 64), "white").save(blank)
    cases = [
        (dict(references=None), "Send 2 to 10 reference images, one per symbol (got 0)"),
        (dict(references=refs[:1]), "(got 1)"),
        (dict(references=refs * 4), "at most 10 reference images (got 12)"),
        (dict(references=[*refs, str(files["star"][1])]), "Two references are named \u201cstar\u201d"),
        (dict(references=[*refs, str(broken)]), "Reference \u201cbroken\u201d: not a readable image file"),
        (dict(references=[*refs, str(blank)]), "Reference \u201cblank\u201d looks blank"),
        (dict(query=None), "Send the query"),
        (dict(query=str(broken)), "The query: not a readable image file"),
        (dict(model="cats"), "Unknown model 'cats'"),
    ]
    for change, phrase in cases:
        args = dict(references=refs, query=str(files["moon"][1]), model="symbols") | change
        with pytest.raises(gr.Error) as e:
            H.one_shot_files(sm, **args)
        assert phrase in e.value.message and str(tmp_path) not in e.value.message, (change, e.value.message)
    missing = SymbolModels(Stub(), None, "checkpoints/siamese_omniglot.pt is missing")
    with pytest.raises(gr.Error, match="symbols model is not on this server"):
        H.one_shot_files(missing, refs, str(files["moon"][1]))


# -- views -------------------------------------------------------------------------------------------
def test_probabilities_on_the_bars_never_read_as_a_misleading_zero():
    from demo.views import bar_pct

    assert bar_pct(0.0001) == "&lt;0.1%" and bar_pct(0.9999) == "100%" and bar_pct(0.873) == "87.3%"


def test_names_are_escaped_everywhere():
    evil = (H.symbol("<b>x</b>", image(0, 0, 0)), H.symbol('"q"', image(1, 0, 0)))
    listing = V.symbols_html(evil, 10)
    xy = np.array([[0.0, 0.0], [1.0, 1.0]])
    drawn_map = V.map_html(None, evil, xy)
    for html in (listing, drawn_map):
        assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html and "&quot;q&quot;" in html


def test_the_models_note_marks_the_one_in_use_and_quotes_measurements():
    html = V.models_html("digits", {"symbols": 0.961, "digits": 0.126}, 10)
    assert 'class="sym-model on" data-model="digits"' in html
    assert 'data-accuracy="0.9610"' in html and "<b>96%</b>" in html and "<b>13%</b>" in html
    assert "guessing would get 10%" in html and "not how to compare any two drawings" in html
    unmeasured = V.models_html("symbols", {"symbols": None, "digits": None}, 10)
    assert "data-accuracy" not in unmeasured


# -- the models ------------------------------------------------------------------------------------
def test_a_missing_or_broken_symbols_checkpoint_is_noted_not_raised(tmp_path):
    sm = SymbolModels.load(Stub(), tmp_path / "nothing.pt")
    assert sm.missing == "nothing.pt is missing" and not sm.available(SYMBOLS) and sm.available(DIGITS)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert "junk.pt could not be loaded" in SymbolModels.load(Stub(), tmp_path / "junk.pt").missing
    assert sm.accuracy(SYMBOLS) is None


def test_episodes_take_one_reference_per_symbol_and_every_other_drawing_as_a_query():
    refs, queries, answers = episodes(names=4, variations=3, trials=50, seed=1)
    assert refs.shape == (50, 4) and queries.shape == answers.shape == (50, 8)
    assert torch.equal(refs // 3, torch.arange(4).expand(50, 4))  # one of each symbol
    for r, q in zip(refs, queries):
        assert sorted(r.tolist() + q.tolist()) == list(range(12))
    assert torch.equal(answers, queries // 3)
    assert torch.equal(episodes(4, 3, 50, 1)[0], refs) and not torch.equal(episodes(4, 3, 50, 2)[0], refs)


# -- the drawn symbols -------------------------------------------------------------------------------
def test_the_drawn_symbols_are_black_on_white_pad_drawings_that_vary_reproducibly():
    assert len(symbol_examples.NAMES) == 10
    for name in symbol_examples.NAMES:
        a = np.asarray(symbol_examples.draw_symbol(name, 3))
        assert a.shape == (280, 280, 4) and set(np.unique(a[..., :3])) <= set(range(256))
        ink = (a[..., :3] < 128).all(-1).mean()
        assert 0.02 < ink < 0.35, (name, ink)
        assert (a[0, 0] == 255).all()  # white paper
        assert np.array_equal(a, np.asarray(symbol_examples.draw_symbol(name, 3)))
        assert not np.array_equal(a, np.asarray(symbol_examples.draw_symbol(name, 4)))
        assert not np.array_equal(a, np.asarray(symbol_examples.draw_symbol(name, 3, seed=1)))


# -- the API's list of files ---------------------------------------------------------------------
def test_a_list_of_files_takes_uploads_and_named_data_urls_and_nothing_else(sm, files):
    import base64

    from demo.inputs import file_list_value

    png = files["star"][0].read_bytes()
    b64 = base64.b64encode(png).decode()
    upload = {"path": str(files["heart"][0]), "meta": {"_type": "gradio.FileData"}}
    got = file_list_value([upload, f"data:image/png;name=my%20star;base64,{b64}", f"data:image/png;base64,{b64}"])
    assert got == [str(files["heart"][0]), ("my star", png), ("reference 3", png)]
    assert file_list_value(None) == []
    for item in ({"path": "/etc/passwd"}, "/etc/passwd", "https://example.com/star.png", 7):
        with pytest.raises(gr.Error, match="Item 1 is neither an uploaded file nor a data: URL"):
            file_list_value([item])
    r = H.one_shot_files(sm, got[:2], str(files["star"][1]))  # what the handler receives
    assert sorted(x["name"] for x in r["ranking"]) == ["heart", "my star"]


def test_inline_refs_leaves_no_reference_for_mcp_to_miss():
    from demo.symbols.tab import inline_refs

    schema = {"type": "array", "$defs": {"F": {"type": "object", "properties": {"meta": {"$ref": "#/$defs/M"}}},
                                         "M": {"type": "object", "properties": {"_type": {"const": "gradio.FileData"}}}},
              "items": {"$ref": "#/$defs/F", "description": "a file"}}
    assert inline_refs(schema) == {"type": "array", "items": {
        "type": "object", "description": "a file",
        "properties": {"meta": {"type": "object", "properties": {"_type": {"const": "gradio.FileData"}}}}}}


def test_markers_on_top_of_one_another_move_apart_inside_the_map_and_far_ones_stay():
    at = np.array([[200.0, 150.0], [200.0, 150.0], [203.0, 151.0], [480.0, 60.0]])
    moved = V.spread(at, height=300)
    gaps = [np.hypot(*(moved[i] - moved[j])) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) >= V.GAP - 1e-6
    assert np.allclose(moved[3], at[3])
    assert (moved >= V.PAD).all() and (moved[:, 0] <= V.W - V.PAD).all() and (moved[:, 1] <= 300 - V.PAD).all()
    assert np.array_equal(moved, V.spread(at, height=300))  # deterministic
    html = V.map_html(None, ABC, np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]]))
    assert html.count('class="sym-leader"') >= 1  # a moved marker is joined to its true place
