"""What the page's scripts download to compare in the browser (demo/assets/engine.js).

Static files, served by Gradio from the app's own folders (`gr.set_static_paths`): ONNX Runtime
Web (demo/assets/vendor), the shared graphs (siamese/graphs), and for every model a session
uses, its weights.bin (siamese.bundle), written here when the model is first asked for (a few
milliseconds) and named by its content, so a browser fetches each model once.

`BrowserModels.info(key)` is what the page's script gets for a session's model: its name, its
threshold, its numbers (bundle.browser_meta) and its weights' URL (None where the graphs do not
fit its architecture: that model is compared on the server).
"""
from __future__ import annotations

import hashlib
import shutil
import threading
from collections import OrderedDict
from pathlib import Path

import gradio as gr

from siamese import bundle

from .models import SHIPPED, Models
from .scratch import scratch_folder

ASSETS = Path(__file__).resolve().parent / "assets"
ORT = ASSETS / "vendor" / "onnxruntime-web"
EXAMPLES = Path(__file__).resolve().parent / "example_digits"  # the Compare board's example pairs
SHIPPED_NAME = "the shipped digit model"
KEEP = 16  # weights files kept (4.4 MB each); older ones go, their models compare on the server


def url(path: Path) -> str:
    """A static file's URL, relative to the page (so it works under any root path), with its
    content's hash as the version: a new file, a new URL, never a stale cache."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return f"gradio_api/file={path.resolve()}?v={digest}"


def engine_config() -> dict:
    """engine.js's config: where ONNX Runtime Web and the graphs are."""
    return {"ort": {"script": url(ORT / "ort.wasm.min.js"), "mjs": url(ORT / "ort-wasm-simd-threaded.mjs"),
                    "wasm": url(ORT / "ort-wasm-simd-threaded.wasm.gz")},
            "graphs": {"preprocess": url(bundle.GRAPHS / bundle.PREPROCESS), "tower": url(bundle.GRAPHS / bundle.TOWER),
                       "pair": url(bundle.GRAPHS / bundle.PAIR)}}


class BrowserModels:
    def __init__(self, models: Models, folder: Path | None = None):
        self.models = models
        self.folder = Path(folder) if folder else scratch_folder("siamese-browser-")
        self.folder.mkdir(parents=True, exist_ok=True)
        gr.set_static_paths([ASSETS, bundle.GRAPHS, EXAMPLES, self.folder])
        self._files: OrderedDict[int, tuple[object, dict]] = OrderedDict()  # id(comparator) -> (it, weights info)
        self._lock = threading.Lock()

    def name(self, key: str | None) -> str:
        """What the verdict calls the key's model."""
        key = key or SHIPPED
        return SHIPPED_NAME if key == SHIPPED else (self.models.label(key) or "another model")

    def weights(self, cmp) -> dict | None:
        """{url, bytes} of the comparator's weights.bin, written on first use; None when the
        shared tower graph does not fit the model."""
        if not bundle.supported(cmp.model.config):
            return None
        with self._lock:
            hit = self._files.get(id(cmp))
            if hit is not None and hit[0] is cmp:
                self._files.move_to_end(id(cmp))
                return hit[1]
        blob = bundle.weights_blob(cmp.model)
        path = self.folder / f"{bundle.digest(blob)}.bin"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(blob)
            tmp.replace(path)
        info = {"url": f"gradio_api/file={path}", "bytes": len(blob)}
        with self._lock:
            self._files[id(cmp)] = (cmp, info)
            while len(self._files) > KEEP:
                _, (_, old) = self._files.popitem(last=False)
                if old["url"] not in (i["url"] for _, i in self._files.values()):
                    Path(old["url"].split("=", 1)[1]).unlink(missing_ok=True)
        return info

    def describe(self, cmp, key: str, name: str) -> dict:
        """A comparator as the page's scripts take it: key, name, threshold, numbers, weights."""
        return {"key": key, "name": name, "threshold": cmp.threshold, "meta": bundle.browser_meta(cmp),
                "weights": self.weights(cmp)}

    def info(self, key: str | None) -> dict:
        """The Compare board's model for a session's key (raises ModelGone for one that left)."""
        key = key or SHIPPED
        return self.describe(self.models.comparator(key), key, self.name(key))

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
