"""The "Your symbols" tab and the /one_shot API. Layout and wiring only; the work is in
demo.symbols.handlers and, for the ranking, in the browser (demo/assets/symbols.js).

What changes the symbols (Add, Enter in the name box, Remove, Start over, Examples) runs
`handlers.act`, one action at a time per session (trigger_mode "once"); it alone writes the
symbols' gr.State, and hands them to the board. The board ranks the new drawing among them at
every stroke in the browser, with the model the radio names (its weights from demo.browser),
and asks the server (`look`) for the map and the note after a stroke.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ..browser import ASSETS, BrowserModels, engine_config, url
from ..inputs import digit_pad, file_list, pad_config
from . import handlers, views
from .handlers import ADD, REMOVE, RESET, TAKE_EXAMPLES
from .models import DIGITS, SYMBOLS, SymbolModels

CSS_PATH = Path(__file__).resolve().parents[1] / "assets" / "symbols.css"
INTRO = f"""<div class="sym-intro"><h3>Your symbols</h3>
<p>A siamese network does not learn a list of classes: it learns to tell whether two drawings show
the same thing. So it can sort symbols it has never seen. <b>Draw one example each of a few symbols
of your own</b> ({handlers.MIN_SYMBOLS} to {handlers.MAX_SYMBOLS}: a star, a heart, your initial...),
name each and add it; then <b>draw a new one</b>. The network compares it with every example and
ranks them: one example per symbol and no training at all, which is <i>one-shot learning</i>.</p></div>"""
SCRIPTS = ("vendor/onnxruntime-web/ort.wasm.min.js", "engine.js", "views.js", "pad.js", "symbols.js")
INIT_JS = "window.SiameseSymbols.init(element, props, trigger, watch, server);"
MODEL_LABELS = [("Symbols model (trained on handwritten characters)", SYMBOLS),
                ("Digit model (trained on digits only)", DIGITS)]


@dataclass
class SymbolsTab:
    tab: gr.Tab
    pad: gr.HTML  # demo.inputs.digit_pad: its value is the drawing
    name: gr.Textbox
    add: gr.Button
    note: gr.HTML
    board: gr.HTML  # the new drawing's pad and the ranking (demo/assets/symbols.js)
    model: gr.Radio
    symbols_list: gr.HTML
    remove_choice: gr.Dropdown
    remove: gr.Button
    reset: gr.Button
    examples: gr.Button
    map: gr.HTML
    models_note: gr.HTML
    symbols: gr.State  # tuple[handlers.Symbol, ...]


def model_info(browser: BrowserModels, sm: SymbolModels, name: str) -> dict | None:
    """The board's model: the radio's choice with its weights and numbers (None when missing)."""
    if not sm.available(name):
        return None
    cmp = sm.comparator(name)
    return browser.describe(cmp, name, views.MODEL_TITLES[name])


def build_symbols_tab(sm: SymbolModels, browser: BrowserModels) -> SymbolsTab:
    """Add the tab to the current gr.Tabs."""

    def look(data: dict):
        """The board's question after a stroke (handlers.look): the map, the note, and the
        ranking while the browser cannot give it."""
        return handlers.look(sm, data)

    with gr.Tab("Your symbols", id="symbols", elem_id="tab-symbols") as tab:
        gr.HTML(INTRO, head=f"<style>{CSS_PATH.read_text()}</style>", padding=False)
        with gr.Row(equal_height=False, elem_id="symbols-row"):
            with gr.Column(min_width=280, scale=1, elem_classes="side sym-side"):
                gr.HTML('<div class="side-title">1. Your symbol <span>draw it, name it, add it</span></div>')
                pad = digit_pad("sketch-symbol", "draw a symbol of your own here", clear_id="symbol-clear")
                with gr.Row(equal_height=True, elem_classes="sym-add-row"):
                    name = gr.Textbox(show_label=False, placeholder="its name, e.g. star", max_lines=1,
                                      max_length=handlers.MAX_NAME, container=False, scale=3, min_width=110,
                                      elem_id="symbol-name")
                    add = gr.Button("Add", variant="primary", size="sm", scale=1, min_width=64, elem_id="symbol-add")
                note = gr.HTML("", elem_id="symbol-note", padding=False)
            with gr.Column(min_width=280, scale=1, elem_classes="side sym-side"):
                gr.HTML('<div class="side-title">2. A new drawing <span>which of yours is it?</span></div>')
                head = "".join(f'<script src="{url(ASSETS / s)}"></script>' for s in SCRIPTS)
                choice = SYMBOLS if sm.available(SYMBOLS) else DIGITS
                board = gr.HTML(None, html_template=views.board_html(), js_on_load=INIT_JS, head=head,
                                elem_id="symbols-board", apply_default_css=False, server_functions=[look],
                                config={"engine": engine_config(), **pad_config(), "least": handlers.MIN_SYMBOLS,
                                        "most": handlers.MAX_SYMBOLS},
                                model=model_info(browser, sm, choice), symbols=[])
            with gr.Column(min_width=320, scale=1, elem_classes="result-col"):
                model = gr.Radio(MODEL_LABELS, value=choice, label="Which network compares", elem_id="symbols-model")
                # Filled by the board's script, in the browser (never by the server's events).
                gr.HTML('<div id="symbols-result"></div>', elem_id="symbols-result-slot")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                symbols_list = gr.HTML(views.symbols_html((), handlers.MAX_SYMBOLS), elem_id="symbols-list")
                with gr.Row(equal_height=True, elem_classes="sym-manage"):
                    remove_choice = gr.Dropdown([], value=None, show_label=False, container=False, interactive=False,
                                                scale=2, min_width=120, elem_id="symbol-remove-choice",
                                                info=None, allow_custom_value=False)
                    remove = gr.Button("Remove", size="sm", variant="secondary", scale=1, min_width=80,
                                       elem_id="symbol-remove")
                    reset = gr.Button("Start over", size="sm", variant="secondary", scale=1, min_width=100,
                                      elem_id="symbols-reset")
                examples = gr.Button(f"Add {len(handlers.EXAMPLES)} example symbols drawn by the page", size="sm",
                                     variant="secondary", elem_id="symbols-examples")
            with gr.Column(scale=3, min_width=320):
                # Filled by the board's script from its looks (never by the server's events).
                symbols_map = gr.HTML(f'<div id="symbols-map-slot">{views.map_html(None, ())}</div>', elem_id="symbols-map")
        models_note = gr.HTML('<div id="symbols-models-slot"></div>', elem_id="symbols-models")
        symbols = gr.State(())
    t = SymbolsTab(tab, pad, name, add, note, board, model, symbols_list, remove_choice, remove, reset, examples,
                   symbols_map, models_note, symbols)
    _wire(sm, browser, t)
    return t


def _wire(sm: SymbolModels, browser: BrowserModels, t: SymbolsTab) -> None:
    quiet = dict(show_progress="hidden", api_visibility="private")
    actions = ((t.add, ADD), (t.name, ADD), (t.remove, REMOVE), (t.reset, RESET), (t.examples, TAKE_EXAMPLES))

    def on_action(symbols, pad, name, remove, evt: gr.EventData):
        target = getattr(evt, "target", None)
        action = next((a for c, a in actions if c is target), None)
        return handlers.act(sm, symbols, action, pad, name, remove)

    gr.on([t.add.click, t.name.submit, t.remove.click, t.reset.click, t.examples.click], on_action,
          [t.symbols, t.pad, t.name, t.remove_choice],
          [t.symbols, t.symbols_list, t.note, t.pad, t.name, t.remove_choice, t.board], trigger_mode="once", **quiet)
    t.model.change(lambda name: gr.HTML(model=model_info(browser, sm, name)), t.model, t.board, **quiet)


def add_one_shot_api(sm: SymbolModels) -> None:
    """The /one_shot endpoint: hidden components (nothing shows on the page), described by
    handlers.one_shot_api's docstring, which is also the MCP tool's description."""
    with gr.Row(visible=False):
        references = file_list(label="references")
        # Gradio 6.31 describes a list of files with "$ref": "#/$defs/FileData" and the $defs
        # inside the property, not at the schema's root; its MCP server keeps the $ref and
        # refuses every call ("PointerToNowhere: '/$defs/FileData'"). The same schema, inlined:
        info = inline_refs(gr.File(file_count="multiple", render=False).api_info())
        references.api_info_as_input = references.api_info = lambda: info
        query = gr.File(label="query", type="filepath")
        model = gr.Textbox(SYMBOLS, label="model")
        result = gr.JSON(label="result")
        button = gr.Button("one_shot")
    button.click(handlers.one_shot_api(sm), [references, query, model], result, api_name="one_shot")


def inline_refs(schema: dict) -> dict:
    """A JSON schema with every local "#/$defs/..." reference replaced by its definition
    (recursively; definitions that refer to themselves are not expected) and no "$defs" left."""
    defs = dict(schema.get("$defs", {}))

    def walk(node):
        if isinstance(node, list):
            return [walk(x) for x in node]
        if not isinstance(node, dict):
            return node
        if "$defs" in node:
            defs.update(node["$defs"])
        ref = node.get("$ref")
        rest = {k: walk(v) for k, v in node.items() if k not in ("$defs", "$ref")}
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return {**walk(defs[ref.rsplit("/", 1)[-1]]), **rest}
        return rest

    return walk(schema)
