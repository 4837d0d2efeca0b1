"""Event handlers of the "Your symbols" tab and the /one_shot API, as plain functions of Gradio
values. demo.symbols.tab wires them into the page; tests call them directly.

A session's symbols live in a gr.State: a tuple of `Symbol`s, each a name and the 28x28 image
both networks see (they share one preprocessing). `act` changes them (add the pad's drawing under
a name, remove one, start over, take the examples) and hands them to the tab's board, which
ranks the new drawing among them in the browser (demo/assets/symbols.js). The board's `look`
(after a stroke, or when the symbols or the model change) gets the map and the note on the two
models from here, and the ranking itself only while the browser cannot give it.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np
import torch

from siamese import BlankImageError, Comparator, ImageError
from siamese.oneshot import one_shot_ranking
from siamese.projection import PCA2, map_features

from .. import symbol_examples
from ..inputs import sketch_image
from ..views import clean_message
from . import views
from .models import DIGITS, SYMBOLS, ModelUnavailable, SymbolModels

MIN_SYMBOLS, MAX_SYMBOLS = 2, 10  # a ranking needs a runner-up; ten keeps a lesson's map readable
MAX_NAME = 24  # characters
EXAMPLES = ("star", "heart", "house", "lightning", "spiral")  # the example symbols, drawn by the project
ADD, REMOVE, RESET, TAKE_EXAMPLES = "add", "remove", "reset", "examples"


class InputError(ValueError):
    """What the user sent cannot be used; the message says why, for people."""


class BlankError(InputError):
    """A drawing or image with nothing on it."""


@dataclass(frozen=True)
class Symbol:
    """One symbol of a session. Equal and hashed by name and image hash (Gradio hashes a
    State's value to tell whether it changed)."""

    name: str
    ident: str  # a hash of the image: its descriptors are kept under it (SymbolModels.descriptors)
    image: np.ndarray = field(compare=False, repr=False)  # (28, 28) float32, what the networks see


@dataclass
class Match:
    name: str
    distance: float
    same_probability: float
    confidence: float  # siamese.oneshot.match_confidence
    image: np.ndarray  # (28, 28)


@dataclass
class Ranking:
    """The query among the symbols, by one model: best match first."""

    model: str
    query: np.ndarray  # (28, 28)
    matches: list[Match]
    xy: np.ndarray  # (C + 1, 2): the symbols' places on the map, then the query's


def symbol(name: str, image: np.ndarray) -> Symbol:
    image = np.asarray(image, dtype=np.float32)
    return Symbol(name, hashlib.blake2b(image.tobytes(), digest_size=12).hexdigest(), image)


def clean_name(name, taken) -> str:
    """A symbol's name as typed -> the name kept (spaces trimmed); InputError when it is empty,
    too long or already taken (whatever its capitals)."""
    name = " ".join(str(name or "").split())
    if not name:
        raise InputError("Give the symbol a name first (star, heart, your initial...).")
    if len(name) > MAX_NAME:
        raise InputError(f"A name of at most {MAX_NAME} characters, please.")
    same = [t for t in taken if t.casefold() == name.casefold()]
    if same:
        raise InputError(f"There is already a symbol named \u201c{same[0]}\u201d: give this one another name, "
                         f"or remove that one first.")
    return name


def drawing(cmp: Comparator, image, what: str) -> np.ndarray:
    """A drawing or an image file -> the (28, 28) the networks see; InputError naming `what`."""
    try:
        return cmp.preprocess(image)
    except BlankImageError:
        raise BlankError(f"{what} looks blank: draw the symbol first.") from None
    except ImageError as e:
        raise InputError(f"{what}: {clean_message(e)}") from None


def change(symbols: tuple[Symbol, ...], action: str | None, cmp: Comparator, pad=None, name=None,
           remove=None) -> tuple[Symbol, ...]:
    """The symbols after `action` (ADD the pad's drawing as `name`, REMOVE the symbol named
    `remove`, RESET, TAKE_EXAMPLES; None: nothing). Bad input raises InputError."""
    symbols = tuple(symbols or ())
    names = [s.name for s in symbols]
    if action == ADD:
        if len(symbols) >= MAX_SYMBOLS:
            raise InputError(f"{MAX_SYMBOLS} symbols at most: remove one first.")
        image = sketch_image(pad)
        if image is None:
            raise InputError("Draw the symbol on the left pad first, then add it.")
        kept = clean_name(name, names)
        return (*symbols, symbol(kept, drawing(cmp, image, "The drawing")))
    if action == REMOVE:
        if not remove or remove not in names:
            raise InputError("Choose the symbol to remove.")
        return tuple(s for s in symbols if s.name != remove)
    if action == RESET:
        return ()
    if action == TAKE_EXAMPLES:
        taken = {n.casefold() for n in names}
        new = [symbol(n, cmp.preprocess(np.asarray(symbol_examples.draw_symbol(n))))
               for n in EXAMPLES if n.casefold() not in taken]
        return (*symbols, *new[: MAX_SYMBOLS - len(symbols)])
    return symbols


def act(sm: SymbolModels, symbols, action: str | None, pad=None, name=None, remove=None):
    """The symbols' handler (Add, Enter in the name box, Remove, Start over, Examples).
    Outputs: the symbols, their list, the note under Add, the symbol pad and the name box
    (emptied once the drawing is added), the remove dropdown."""
    symbols = tuple(symbols or ())
    pad_out, name_out = gr.skip(), gr.skip()
    try:
        # Both models take the same 28x28 input (one preprocessing path): the digit model's
        # comparator prepares the drawings, there whether or not the symbols model is.
        new = change(symbols, action, sm.comparator(DIGITS), pad, name, remove)
    except InputError as e:
        new, note = symbols, views.note_html(str(e), "error")
    else:
        note = ""
        if action == ADD:
            pad_out, name_out = None, ""  # the pad emptied (demo.inputs: its script clears on null)
            note = views.added_html(new[-1].name, len(new), MIN_SYMBOLS, MAX_SYMBOLS)
    names = [s.name for s in new]
    return (new, views.symbols_html(new, MAX_SYMBOLS), note, pad_out, name_out,
            gr.Dropdown(choices=names, value=None, interactive=bool(names)), gr.HTML(symbols=board_symbols(new)))


def board_symbols(symbols) -> list[dict]:
    """The symbols as the board's script takes them: name and 28x28 image (base64 bytes)."""
    return [{"name": s.name, "image": encode_image(s.image)} for s in symbols]


def encode_image(image: np.ndarray) -> str:
    """(28, 28) float in [0, 1] -> base64 of its 784 bytes."""
    return base64.b64encode(np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8).tobytes()).decode("ascii")


def decode_image(text) -> np.ndarray:
    """encode_image's inverse; InputError for anything that is not 784 bytes of base64."""
    try:
        raw = base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise InputError("an image did not arrive whole") from None
    if len(raw) != 28 * 28:
        raise InputError("an image did not arrive whole")
    return np.frombuffer(raw, np.uint8).reshape(28, 28).astype(np.float32) / 255.0


def rank(cmp: Comparator, model: str, refs: torch.Tensor, symbols, query: np.ndarray) -> Ranking:
    """The query (28, 28) among the symbols with descriptors `refs` (C, D), best first, and the
    map: a PCA of the symbols' descriptors (of the query's too while there are only two
    symbols, which make a line) with the query placed on it."""
    q = cmp.embed(query[None])  # (1, D)
    ranked = one_shot_ranking(cmp, q, refs, range(len(refs)))
    matches = [Match(symbols[r.label].name, r.distance, r.same_probability, r.confidence, symbols[r.label].image)
               for r in ranked]
    feats = map_features(cmp, torch.cat([refs, q]))  # (C + 1, D)
    pca = PCA2(feats if len(refs) < 3 else feats[:-1])
    return Ranking(model, query, matches, pca(feats).numpy())


def look(sm: SymbolModels, data: dict) -> dict:
    """The board's question: {model, symbols: [{name, image}], query: None or {mnist | png},
    rank: bool} -> {map (HTML), note (HTML on the two models), problem (why the query cannot be
    ranked), ranking: [{name, distance, probability, confidence}] best first and query_image
    (when `rank`, or made here)}."""
    data = data if isinstance(data, dict) else {}
    model = str(data.get("model") or SYMBOLS)
    accuracies = {m: sm.accuracy(m, timeout=5.0) for m in (SYMBOLS, DIGITS)}
    out = {"note": views.models_html(model, accuracies, len(symbol_examples.NAMES), sm.missing)}
    try:
        cmp = sm.comparator(model)
        symbols = tuple(symbol(str(s.get("name", ""))[:MAX_NAME], decode_image(s.get("image")))
                        for s in (data.get("symbols") or [])[:MAX_SYMBOLS] if isinstance(s, dict))
    except (ModelUnavailable, InputError) as e:
        return {**out, "map": views.map_html(None, ()), "problem": f"{str(e)[0].upper()}{str(e)[1:]}."}
    if len(symbols) < MIN_SYMBOLS:
        return {**out, "map": views.map_html(None, symbols)}
    refs = sm.descriptors(model, symbols)  # (C, D)
    query, q = data.get("query"), None
    if isinstance(query, dict):
        try:
            if query.get("mnist") is not None:
                q, made_here = decode_image(query["mnist"]), False
            else:
                raw = base64.b64decode(str(query.get("png", "")), validate=True)
                q, made_here = drawing(cmp, raw, "Your new drawing"), True
        except BlankError:
            q = None
        except (InputError, binascii.Error, ValueError) as e:
            out["problem"] = str(e) if isinstance(e, InputError) else "Your new drawing did not arrive whole."
            q = None
    if q is None:  # the symbols alone on the map
        feats = map_features(cmp, refs)
        return {**out, "map": views.map_html(None, symbols, PCA2(feats)(feats).numpy())}
    ranking = rank(cmp, model, refs, symbols, q)
    out["map"] = views.map_html(ranking, symbols)
    if data.get("rank") or made_here:
        out["ranking"] = [{"name": m.name, "distance": m.distance, "probability": m.same_probability,
                           "confidence": m.confidence} for m in ranking.matches]
        out["query_image"] = encode_image(q)
    return out


# -- the API --------------------------------------------------------------------------------------
def one_shot_api(sm: SymbolModels):
    """The function behind the /one_shot endpoint. Gradio describes the endpoint from it (API
    page and, with the MCP server on, the `one_shot` tool): its name, its argument names and
    its docstring's Args and Returns."""

    def one_shot(references: list[str], query: str, model: str = SYMBOLS) -> dict:
        """One-shot classification of a hand-drawn symbol: given one example image of each of
        2 to 10 symbols (any symbols, named by their files), rank them by how alike a siamese
        network finds each to the query image. One drawing per image, dark on light or light on dark.

        Args:
            references: one image per symbol, PNG, JPEG or WebP; each file's name without its extension is the symbol's name, e.g. star.png (over MCP: data URLs naming their symbol, data:image/png;name=star;base64,...)
            query: the new drawing to classify, one image file
            model: "symbols" (default: trained on handwritten characters of many alphabets, made for symbols it never saw) or "digits" (trained on the ten digits only, for comparison)
        Returns:
            ranking: the symbols as [{"name", "distance"}], most alike first (lower distance is more alike); model: the model used
        """
        return one_shot_files(sm, references, query, model)

    return one_shot


def one_shot_files(sm: SymbolModels, references, query, model: str = SYMBOLS) -> dict:
    """The /one_shot API: reference files (named by their stems) and a query file -> the
    ranking, best first. Any problem raises gr.Error (gradio_client: AppError)."""
    try:
        return _one_shot(sm, references, query, model)
    except (InputError, ModelUnavailable) as e:
        raise gr.Error(str(e)[0].upper() + str(e)[1:], title="Cannot rank") from None


def _one_shot(sm: SymbolModels, references, query, model) -> dict:
    model = str(model or SYMBOLS).strip().lower()
    cmp = sm.comparator(model)
    files = [f for f in (references or []) if f]
    if len(files) < MIN_SYMBOLS:
        raise InputError(f"Send {MIN_SYMBOLS} to {MAX_SYMBOLS} reference images, one per symbol "
                         f"(got {len(files)}): a ranking needs at least two.")
    if len(files) > MAX_SYMBOLS:
        raise InputError(f"Send at most {MAX_SYMBOLS} reference images (got {len(files)}).")
    if not query:
        raise InputError("Send the query: the new drawing to classify.")
    # A path names its symbol by its file's name; a data URL (over MCP) comes as (name, bytes).
    names, files = zip(*[f if isinstance(f, tuple) else (Path(str(f)).stem, f) for f in files])
    seen: dict[str, str] = {}
    for n in names:
        if n.casefold() in seen:
            raise InputError(f"Two references are named \u201c{n}\u201d: each symbol's file needs its own name.")
        seen[n.casefold()] = n
    images = np.stack([drawing(cmp, f, f"Reference \u201c{n}\u201d") for f, n in zip(files, names)])
    q = drawing(cmp, query, "The query")
    ranked = one_shot_ranking(cmp, cmp.embed(q[None]), cmp.embed(images), range(len(names)))
    return {"ranking": [{"name": names[r.label], "distance": r.distance} for r in ranked], "model": model}
