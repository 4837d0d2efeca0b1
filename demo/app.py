"""The Siamese Digits page: `build_demo()` makes the gr.Blocks, `main()` serves it.

    python app.py                      # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / _PORT honoured)
    python app.py --mcp                # the same, and MCP tools at /gradio_api/mcp/
    python -m demo.app --help

Tabs, each a folder of its own: demo.compare, demo.retrain, demo.teach, demo.symbols. They share
`model_key`, the per-session gr.State naming the model in use (see demo.models).
"""
from __future__ import annotations

import argparse
import logging
import os
from functools import partial
from pathlib import Path

import gradio as gr

from siamese import Comparator

from . import limits
from .banner import banner_update, build_model_banner, gone_note
from .browser import BrowserModels
from .classroom.classes import ClassRoom
from .classroom.handlers import ClassHandlers
from .classroom.tab import build_class_tab, build_share_panel
from .compare.handlers import compare_api
from .compare.tab import build_compare_tab
from .models import SHIPPED, Models, session_of
from .retrain.tab import build_retrain_tab
from .symbols.models import SymbolModels
from .symbols.tab import add_one_shot_api, build_symbols_tab
from .teach.tabs import build_teaching_tabs

# Gradio's queue rebuilds a pandas summary of its last 10,000 events after every event, for its
# monitoring page: GIL time that grows with the calls served (measured: 45 -> 53 /compare
# calls/s with 32 clients when rebuilt every 1,000 events of the last 1,000). Read when the
# queue is made (demo.queue below); setdefault, so an operator's own values win.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")

ROOT = Path(__file__).resolve().parents[1]
MODEL_STORAGE_KEY = "siamese-digits-model"  # the browser's localStorage entry: the tab's model key
DEFAULT_CHECKPOINT = ROOT / "checkpoints" / "siamese_mnist.pt"
ASSETS = Path(__file__).resolve().parent / "assets"
MAX_FILE_SIZE = f"{limits.MAX_UPLOAD_MB}mb"  # pixel bombs are refused by to_mnist, whatever their bytes

HEADER = """<div id="page-header"><h1>Siamese Digits</h1>
<p>Draw two digits. One network looks at both, the same way, and decides whether they show the
same digit.</p></div>"""


def projector_from_link(request: gr.Request = None):
    """?projector=1 turns projector mode on as the page opens."""
    on = request is not None and request.query_params.get("projector") == "1"
    return True if on else gr.skip()


def build_demo(comparator_path=None, data_dir=None, download: bool = False, models: Models | None = None,
               comparator: Comparator | None = None, slot=None, symbols_path=None) -> gr.Blocks:
    """The whole page. The model loads here, once; the MNIST reference (neighbours,
    distributions) loads in a background thread, so this returns in about a second.

    comparator_path: checkpoint (default: $SIAMESE_CHECKPOINT or checkpoints/siamese_mnist.pt).
    data_dir: MNIST root (default: $SIAMESE_DATA_DIR or ./data); download: fetch MNIST if absent.
    `models` / `comparator` let tests pass ready-made ones; `slot` (demo.retrain.slot.TrainingSlot)
    where retraining runs (default: the process's one slot, a child process per run).
    symbols_path: the Your symbols tab's model (default: $SIAMESE_SYMBOLS_CHECKPOINT or
    checkpoints/siamese_omniglot.pt; missing, the tab says so).
    """
    if models is None:
        if comparator is None:
            path = comparator_path or os.environ.get("SIAMESE_CHECKPOINT") or DEFAULT_CHECKPOINT
            comparator = Comparator.from_checkpoint(path)
        models = Models(comparator, data_dir=data_dir, download=download).start()
    symbol_models = SymbolModels.load(models.comparator(SHIPPED), symbols_path).measure(models.lanes)
    browser = BrowserModels(models)  # each model's weights for the page's script (demo.browser)

    # page.css: the look; board.css: the pads and the Compare board; screens.css: phones, tablets.
    css = "\n".join((ASSETS / name).read_text() for name in ("page.css", "board.css", "screens.css"))
    with gr.Blocks(title="Siamese Digits", analytics_enabled=False,
                   delete_cache=(max(1, limits.CACHE_SECONDS // 4), limits.CACHE_SECONDS)) as demo:
        # Styles travel with the Blocks (launch(css=...) would need every launcher to pass them).
        gr.HTML(HEADER, head=f"<style>{css}</style>", padding=False)
        # Which model this session uses (retraining, a class, the banner change it; everything
        # that shows a model follows its .change), and what the page says of a model that left.
        model_key, model_note = gr.State(SHIPPED), gr.State("")
        saved_key = gr.BrowserState(None, storage_key=MODEL_STORAGE_KEY)  # a reload keeps the model
        banner = build_model_banner()  # over every tab while it is not the pretrained model
        projector = gr.Checkbox(False, label="Projector mode: large type, high contrast", container=False,
                                elem_id="projector-toggle")
        with gr.Tabs(elem_id="main-tabs") as main_tabs:
            with gr.Tab("Compare", id="compare", elem_id="tab-compare"):
                compare_tab = build_compare_tab(models, model_key, model_note, demo, browser)
            with gr.Tab("Retrain", id="retrain", elem_id="tab-retrain") as retrain_ui:
                retrain_tab = build_retrain_tab(models, model_key, demo, retrain_ui, data_dir, slot=slot)
                classes = ClassHandlers(ClassRoom(models, hours=limits.CLASS_HOURS, max_classes=limits.MAX_CLASSES,
                                                  max_watchers=limits.CLASS_WATCHERS), retrain_tab.handlers)
                build_share_panel(classes, retrain_tab)
            build_class_tab(classes, model_key, main_tabs, demo, retrain_tab.seconds)
            build_teaching_tabs(models, model_key, compare_tab, demo)
            build_symbols_tab(symbol_models, browser)
        _wire_model(demo, models, model_key, model_note, saved_key, banner, main_tabs, retrain_tab.handlers.sessions)
        # Projector mode is the page's own look (a class on <body>): ?projector=1 or the toggle.
        demo.load(projector_from_link, None, projector, show_progress="hidden", api_visibility="private")
        projector.change(None, [projector], None, js="(on) => { document.body.classList.toggle('projector', !!on); }",
                         show_progress="hidden", api_visibility="private")

        # The API: two image files in, JSON out (hidden components: nothing shows on the page).
        # Described by compare_api's docstring, which is also the MCP tool's description.
        with gr.Row(visible=False):
            file_a = gr.File(label="image_a", type="filepath")
            file_b = gr.File(label="image_b", type="filepath")
            result = gr.JSON(label="result")
            api_button = gr.Button("compare")
        api_button.click(compare_api(models), [file_a, file_b], result, api_name="compare")
        add_one_shot_api(symbol_models)  # /one_shot: reference images and a query, a ranking out

    demo.models = models  # for tests and measurements: models.wait() until the reference is built
    demo.browser = browser  # the models' files for the page's script
    demo.compare = compare_tab
    demo.symbol_models = symbol_models  # the Your symbols tab's two models
    demo.retrain = retrain_tab.handlers  # its slot (who trains now) and sessions (their models)
    # status_update_rate: Gradio's "auto" sends every waiting request its new queue position each
    # time a job starts, O(queue) messages per call on the one event-loop thread; once a second
    # is enough for a position display (measured: 39.7 -> 45.2 /compare calls/s, 32 clients).
    demo.queue(default_concurrency_limit=limits.CONCURRENCY, max_size=limits.QUEUE_SIZE,
               status_update_rate=1.0)
    return demo


def _wire_model(demo: gr.Blocks, models: Models, model_key: gr.State, model_note: gr.State,
                saved_key: gr.BrowserState, banner, main_tabs: gr.Tabs, sessions) -> None:
    """The session's model across the page: the banner follows it, the browser keeps it for a
    reload, and a model that left the server is noticed on the next tab switch (Compare notices
    it on its own), so banner, verdict, threshold and teaching tabs change to the shipped model
    together, with a word on why."""
    quiet = dict(show_progress="hidden", api_visibility="private")
    gr.on([model_key.change, model_note.change], partial(banner_update, models), [model_key, model_note],
          banner.outputs(), trigger_mode="always_last", **quiet)
    banner.back.click(lambda: (SHIPPED, ""), None, [model_key, model_note], **quiet)
    banner.dismiss.click(lambda: "", None, model_note, **quiet)
    model_key.change(lambda key: key, model_key, saved_key, **quiet)

    def restore(saved: str | None, request: gr.Request = None):
        """A reload: the model this browser used, while the server still holds it."""
        if not saved or saved == SHIPPED or not models.alive(saved):
            return gr.skip()
        sessions.adopt(session_of(request), saved)  # a retrained model is this tab's again
        return saved

    demo.load(restore, [saved_key], [model_key], **quiet)

    def check(key: str | None):
        gone = models.gone(key)
        return (gr.skip(), gr.skip()) if gone is None else (SHIPPED, gone_note(gone.label, gone.reason))

    main_tabs.change(check, [model_key], [model_key, model_note], **quiet)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python app.py", description="Serve the Siamese Digits page.")
    p.add_argument("--checkpoint", default=None,
                   help="model checkpoint (default: $SIAMESE_CHECKPOINT or checkpoints/siamese_mnist.pt)")
    p.add_argument("--symbols-checkpoint", default=None,
                   help="the Your symbols tab's model (default: $SIAMESE_SYMBOLS_CHECKPOINT or "
                        "checkpoints/siamese_omniglot.pt)")
    p.add_argument("--data-dir", default=None, help="MNIST root (default: $SIAMESE_DATA_DIR or ./data)")
    p.add_argument("--no-download", action="store_true",
                   help="never download MNIST (without its files the neighbours and distributions are off)")
    p.add_argument("--host", default=None, help="interface (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: $GRADIO_SERVER_PORT or 7860)")
    p.add_argument("--mcp", action="store_true",
                   help="also serve the public API as MCP tools at /gradio_api/mcp/ "
                        "(default: off, unless $GRADIO_MCP_SERVER=true)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per internal request otherwise
    logging.getLogger("mcp").setLevel(logging.WARNING)  # and per MCP session (with --mcp)
    demo = build_demo(args.checkpoint, args.data_dir, download=not args.no_download,
                      symbols_path=args.symbols_checkpoint)
    # server_name/port None: Gradio reads GRADIO_SERVER_NAME / GRADIO_SERVER_PORT itself, and
    # mcp_server None: GRADIO_MCP_SERVER (off when unset).
    try:
        demo.launch(server_name=args.host, server_port=args.port, max_file_size=MAX_FILE_SIZE,
                    max_threads=limits.JOB_SLOTS, show_error=False, mcp_server=True if args.mcp else None)
    finally:  # Ctrl-C: no thread of ours may still be inside torch when the interpreter exits
        demo.models.close()


if __name__ == "__main__":
    main()
