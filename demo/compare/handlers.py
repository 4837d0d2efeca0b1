"""The Compare tab's server side and the /compare API, as plain functions of Gradio values.

The verdict is computed in the browser (demo/assets/board.js); the server answers the board's
`look` after a stroke, an upload or a model change: each side's nearest MNIST test digits from
the 28x28 image the browser made (784 bytes), and the verdict itself only when asked (the
browser cannot run the network, or its model's weights are still on their way), from a PNG or
the 28x28 image. Its answer names each side's version, so the board shows it only while the
side still holds what was sent.

`Seen` keeps, per session, the last pair a look saw: the Embedding space tab marks it.
"""
from __future__ import annotations

import base64
import binascii
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from siamese import BlankImageError, Comparator, ImageError

from ..banner import gone_note
from ..examples import example_pairs
from ..limits import MAX_UPLOAD_MB
from ..models import SHIPPED, Models
from ..views import clean_message
from . import views

N_NEIGHBOURS = 8
MAX_SESSIONS = 4096  # sessions whose last pair is kept (the oldest goes first)
SIDES = ("a", "b")


class SideError(ValueError):
    """One side's image cannot be used; the message names the side."""

    def __init__(self, side: str, error: ImageError):
        self.side, self.blank = side, isinstance(error, BlankImageError)
        super().__init__(f"{side}: {clean_message(error)}")


def preprocess_or_explain(cmp: Comparator, image, name: str) -> np.ndarray:
    """Comparator.preprocess, with a bad image reported as SideError naming its side."""
    try:
        return cmp.preprocess(image)
    except ImageError as e:
        raise SideError(name, e) from None


@dataclass
class Shown:
    """The last pair a session's board showed: what the embedding map marks."""

    distance: float
    same_probability: float
    image_a: np.ndarray  # (28, 28) float, what the network saw
    image_b: np.ndarray
    guesses: tuple[str, str] | None = None  # majority label of each side's neighbours


class Seen:
    """Per session, the last pair its board showed (bounded; a closed page's goes)."""

    def __init__(self, max_sessions: int = MAX_SESSIONS):
        self._pairs: OrderedDict[str, Shown] = OrderedDict()
        self._lock = threading.Lock()
        self.max_sessions = max_sessions

    def put(self, session: str | None, shown: Shown) -> None:
        if session is None:
            return
        with self._lock:
            self._pairs[session] = shown
            self._pairs.move_to_end(session)
            while len(self._pairs) > self.max_sessions:
                self._pairs.popitem(last=False)

    def get(self, session: str | None) -> Shown | None:
        with self._lock:
            return self._pairs.get(session)

    def forget(self, session: str | None) -> None:
        with self._lock:
            self._pairs.pop(session, None)


_spans: dict[int, tuple[Comparator, tuple[float, float]]] = {}


def example_distance_span(cmp: Comparator) -> tuple[float, float]:
    """Smallest and largest distance between any two of the example digits: the model's scale
    for the threshold slider before (or without) the MNIST reference. Once per model."""
    hit = _spans.get(id(cmp))
    if hit is None or hit[0] is not cmp:
        files = sorted({f for pair in example_pairs() for f in pair})
        emb = cmp.embed(np.stack([cmp.preprocess(f) for f in files]))  # (F, D)
        i, j = np.triu_indices(len(files), 1)
        d = cmp.distance(emb[i], emb[j])
        hit = _spans[id(cmp)] = (cmp, (float(d.min()), float(d.max())))
    return hit[1]


# -- the board's look --------------------------------------------------------------------------------
def side_image(cmp: Comparator, payload: dict, name: str) -> tuple[np.ndarray, bool]:
    """A side as the board sends it -> ((28, 28) float in [0, 1], whether the server made it).
    `mnist`: the browser's own 28x28 image (784 bytes, base64); `png` (a pad's pixels) or `file`
    (an upload's bytes), base64: preprocessed here. Raises SideError."""
    try:
        if payload.get("mnist") is not None:
            raw = base64.b64decode(payload["mnist"], validate=True)
            if len(raw) != 28 * 28:
                raise ImageError("the 28x28 image must be 784 bytes")
            return np.frombuffer(raw, np.uint8).reshape(28, 28).astype(np.float32) / 255.0, False
        data = payload.get("png") or payload.get("file")
        if not isinstance(data, str) or len(data) > MAX_UPLOAD_MB * 1_400_000:  # base64 is 4/3 of the bytes
            raise ImageError(f"send an image of at most {MAX_UPLOAD_MB} MB")
        return preprocess_or_explain(cmp, base64.b64decode(data, validate=True), name), True
    except (binascii.Error, ValueError) as e:
        if isinstance(e, SideError):
            raise
        raise SideError(name, e if isinstance(e, ImageError) else ImageError(f"the image could not be read ({e})")) from None


def look(models: Models, seen: Seen, data: dict, session: str | None = None) -> dict:
    """The board's question after a stroke: {key, verdict: bool, sides: {a, b: None or {version,
    mnist | png | file}}} -> {key, sides: {s: {version, neighbours (HTML), guess, image (base64
    28x28, when made here), problem, kind}}, verdict: {distance, probability, versions} (when
    asked)}; {gone: {label, reason}} when the key's model left the server."""
    data = data if isinstance(data, dict) else {}
    key = data.get("key") or SHIPPED
    gone = models.gone(key)
    if gone is not None:
        return {"gone": {"label": gone.label, "reason": gone.reason}}
    cmp = models.comparator(key)
    ref = models.reference(key)
    status = "ready" if ref is not None else models.status(key)
    requested = data.get("sides") if isinstance(data.get("sides"), dict) else {}
    out, images, versions = {"key": key, "sides": {}}, {}, {}
    for s in SIDES:
        payload = requested.get(s)
        if not isinstance(payload, dict):
            continue
        entry = out["sides"][s] = {"version": payload.get("version")}
        versions[s] = payload.get("version")
        try:
            image, made_here = side_image(cmp, payload, f"Digit {s.upper()}")
        except SideError as e:
            entry.update(problem=str(e), kind="hint" if e.blank else "error",
                         neighbours=views.neighbours_html(s.upper(), [] if ref else None, status))
            continue
        images[s] = image
        if made_here:
            entry["image"] = base64.b64encode(np.rint(image * 255).astype(np.uint8).tobytes()).decode("ascii")
    if not images:
        return out
    names = [s for s in SIDES if s in images]
    emb = cmp.embed(np.stack([images[s] for s in names]))  # (len(names), D)
    found = ref.nearest_to(emb, k=N_NEIGHBOURS) if ref is not None else [None] * len(names)
    for s, nn in zip(names, found):
        entry = out["sides"][s]
        entry["neighbours"] = views.neighbours_html(s.upper(), nn, status)
        entry["guess"] = str(views.majority(nn)[0]) if nn else None
    if len(names) == 2:
        d = float(cmp.distance(emb[:1], emb[1:])[0])
        p = float(cmp.same_probability(emb[:1], emb[1:])[0])
        guesses = (out["sides"]["a"]["guess"], out["sides"]["b"]["guess"]) if ref is not None else None
        seen.put(session, Shown(d, p, images["a"], images["b"], guesses))
        if data.get("verdict"):
            out["verdict"] = {"distance": d, "probability": p, "versions": [versions["a"], versions["b"]]}
    return out


def empty_neighbours(ref, status: str) -> dict:
    """Each side's neighbour panel before a digit is there (the board shows it for an empty side)."""
    return {s: views.neighbours_html(s.upper(), [] if ref is not None else None, status) for s in SIDES}


def gone_back(evt: gr.EventData):
    """The board found the session's model gone: the shipped model, and a word on why."""
    data = getattr(evt, "_data", None) or {}
    return SHIPPED, gone_note(data.get("label"), data.get("reason") or "it is not on this server")


# -- the /compare API --------------------------------------------------------------------------------
def compare_api(models: Models):
    """The function behind the /compare endpoint. Gradio describes the endpoint from it (API
    page and, with the MCP server on, the `compare` tool): its name, its argument names and
    its docstring's Args and Returns."""

    def compare(image_a: str, image_b: str) -> dict:
        """Compare two images of handwritten digits with a siamese network and say whether they
        show the same digit (0-9). Photos, scans and drawings of any size work, dark ink on light
        paper or light on dark; one digit per image.

        Args:
            image_a: the first digit image, PNG, JPEG or WebP (over MCP: an http(s) URL or a data URL)
            image_b: the second digit image, the same way
        Returns:
            distance (lower is more alike), same_probability (0 to 1)
            same (true when distance <= threshold), threshold, verdict ("same" or "different"), metric,
            model (which model judged: "shipped", the pretrained digit model)
        """
        return compare_files(models, image_a, image_b)

    return compare


def compare_files(models: Models, file_a, file_b, key: str = SHIPPED) -> dict:
    """The /compare API: two image files -> distance, same_probability, same, threshold, verdict,
    metric and the model used. Uses the model's own threshold. Any problem raises gr.Error
    (gradio_client: AppError)."""
    if not file_a or not file_b:
        raise gr.Error("Send two image files: image_a and image_b.", title="Two images needed")
    cmp = models.comparator(key)
    images = []
    for name, f in (("image_a", file_a), ("image_b", file_b)):
        try:
            images.append(preprocess_or_explain(cmp, Path(f) if isinstance(f, str) else f, name))
        except SideError as e:
            raise gr.Error(str(e), title="Cannot compare") from None
    emb = cmp.embed(np.stack(images))  # (2, D)
    d = float(cmp.distance(emb[:1], emb[1:])[0])
    p = float(cmp.same_probability(emb[:1], emb[1:])[0])
    same = d <= cmp.threshold
    return {"distance": d, "same_probability": p, "same": same, "threshold": cmp.threshold,
            "verdict": "same" if same else "different", "metric": cmp.model.config.metric, "model": key}

