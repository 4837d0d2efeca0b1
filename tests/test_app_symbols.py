"""/one_shot through gradio_client against the served page: hand-drawn symbols (demo.symbol_examples)
named by their files, the model switch, and errors that say what is wrong."""
from __future__ import annotations

import pytest

from demo import symbol_examples

pytestmark = pytest.mark.app


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """variation -> {symbol: file} for all ten symbols, variations 0-2."""
    return symbol_examples.write_set(tmp_path_factory.mktemp("drawn"), 3)


def one_shot(client, references, query, *model):
    from gradio_client import handle_file

    return client.predict([handle_file(str(f)) for f in references], handle_file(str(query)), *model,
                          api_name="/one_shot")


def test_ten_drawn_symbols_find_their_own_through_one_shot(client, drawn, page_server):
    assert page_server.symbol_models.available("symbols"), page_server.symbol_models.missing  # it ships
    refs = [drawn[n][0] for n in symbol_examples.NAMES]
    right = 0
    for name in symbol_examples.NAMES:
        for k in (1, 2):
            r = one_shot(client, refs, drawn[name][k])  # the model left out: "symbols"
            assert r["model"] == "symbols" and set(r) == {"ranking", "model"}
            assert sorted(x["name"] for x in r["ranking"]) == sorted(symbol_examples.NAMES)
            assert [x["distance"] for x in r["ranking"]] == sorted(x["distance"] for x in r["ranking"])
            right += r["ranking"][0]["name"] == name
    assert right >= 18, right  # 10-way, 20 queries; scripts/symbols_handdrawn.py measures it in full


def test_the_model_switch_ranks_the_same_drawings_with_the_digit_model(client, drawn):
    refs = [drawn[n][0] for n in ("star", "heart", "moon")]
    digits = one_shot(client, refs, drawn["moon"][1], "digits")
    assert digits["model"] == "digits" and len(digits["ranking"]) == 3
    symbols = one_shot(client, refs, drawn["moon"][1], "symbols")
    assert [x["distance"] for x in digits["ranking"]] != [x["distance"] for x in symbols["ranking"]]


def test_bad_requests_are_errors_that_say_why_and_the_server_keeps_answering(client, drawn, tmp_path):
    from gradio_client.exceptions import AppError

    broken = tmp_path / "broken.png"
    broken.write_bytes(drawn["star"][0].read_bytes()[:120])
    refs = [drawn[n][0] for n in ("star", "heart")]
    for references, query, model, phrase in [
        ([], drawn["star"][1], "symbols", r"Send 2 to 10 reference images, one per symbol \(got 0\)"),
        (refs[:1], drawn["star"][1], "symbols", r"\(got 1\)"),
        ([*refs, broken], drawn["star"][1], "symbols", "Reference \u201cbroken\u201d: not a readable image file"),
        (refs, drawn["star"][1], "cats", "Unknown model 'cats'"),
    ]:
        with pytest.raises(AppError, match=phrase) as e:
            one_shot(client, references, query, model)
        assert "Traceback" not in str(e.value) and "/tmp/" not in str(e.value)
    assert one_shot(client, refs, drawn["star"][1])["ranking"][0]["name"] == "star"
