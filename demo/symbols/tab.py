"""The "Your symbols" tab and the /one_shot API. Layout and wiring only; the work is in
demo.symbols.handlers.

Two dependencies, one per kind of intent. What changes the symbols (Add, Enter in the name box,
Remove, Start over, Examples) runs `handlers.act`, one action at a time per session
(trigger_mode "once"); it alone writes the symbols' gr.State. Everything the ranking follows
(the symbols' change, a stroke or a clear on the new drawing's pad, the model, opening the tab)
fires `handlers.show` with trigger_mode="always_last": at most one ranking per session in
flight, the last trigger run last with the values on the page then. Clearing a pad needs no
server and happens in the browser.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ..inputs import digit_pad, file_list
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
# An empty pad as a value: `null` clears a Sketchpad only once (after that the value it holds is
# already null, so a second null changes nothing), an empty editor value every time.
CLEAR_JS = "() => ({background: null, layers: [], composite: null})"
MODEL_LABELS = [("Symbols model (trained on handwritten characters)", SYMBOLS),
                ("Digit model (trained on digits only)", DIGITS)]


@dataclass
class SymbolsTab:
    tab: gr.Tab
    pad: gr.Sketchpad
    name: gr.Textbox
    add: gr.Button
    clear_pad: gr.Button
    note: gr.HTML
    query: gr.Sketchpad
    clear_query: gr.Button
    model: gr.Radio
    result: gr.HTML
    symbols_list: gr.HTML
    remove_choice: gr.Dropdown
    remove: gr.Button
    reset: gr.Button
    examples: gr.Button
    map: gr.HTML
    models_note: gr.HTML
    symbols: gr.State  # tuple[handlers.Symbol, ...]


def build_symbols_tab(sm: SymbolModels) -> SymbolsTab:
    """Add the tab to the current gr.Tabs."""
    with gr.Tab("Your symbols", id="symbols", elem_id="tab-symbols") as tab:
        gr.HTML(INTRO, head=f"<style>{CSS_PATH.read_text()}</style>", padding=False)
        with gr.Row(equal_height=False, elem_id="symbols-row"):
            with gr.Column(min_width=280, elem_classes="side sym-side"):
                gr.HTML('<div class="side-title">1. Your symbol <span>draw it, name it, add it</span></div>')
                pad = digit_pad("sketch-symbol")
                clear_pad = gr.Button("Clear", size="sm", variant="secondary", elem_id="symbol-clear")
                with gr.Row(equal_height=True, elem_classes="sym-add-row"):
                    name = gr.Textbox(show_label=False, placeholder="its name, e.g. star", max_lines=1,
                                      max_length=handlers.MAX_NAME, container=False, scale=3, min_width=110,
                                      elem_id="symbol-name")
                    add = gr.Button("Add", variant="primary", size="sm", scale=1, min_width=64, elem_id="symbol-add")
                note = gr.HTML("", elem_id="symbol-note", padding=False)
            with gr.Column(min_width=280, elem_classes="side sym-side"):
                gr.HTML('<div class="side-title">2. A new drawing <span>which of yours is it?</span></div>')
                query = digit_pad("sketch-symquery")
                clear_query = gr.Button("Clear", size="sm", variant="secondary", elem_id="symquery-clear")
            with gr.Column(min_width=320, elem_classes="result-col"):
                model = gr.Radio(MODEL_LABELS, value=SYMBOLS if sm.available(SYMBOLS) else DIGITS,
                                 label="Which network compares", elem_id="symbols-model")
                result = gr.HTML(views.result_html(None, views.few_hint(0, handlers.MIN_SYMBOLS, handlers.MAX_SYMBOLS)),
                                 elem_id="symbols-result")
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
                symbols_map = gr.HTML(views.map_html(None, ()), elem_id="symbols-map")
        models_note = gr.HTML("", elem_id="symbols-models")
        symbols = gr.State(())
    t = SymbolsTab(tab, pad, name, add, clear_pad, note, query, clear_query, model, result, symbols_list,
                   remove_choice, remove, reset, examples, symbols_map, models_note, symbols)
    _wire(sm, t)
    return t


def _wire(sm: SymbolModels, t: SymbolsTab) -> None:
    quiet = dict(show_progress="hidden", api_visibility="private")
    actions = ((t.add, ADD), (t.name, ADD), (t.remove, REMOVE), (t.reset, RESET), (t.examples, TAKE_EXAMPLES))

    def on_action(symbols, pad, name, remove, evt: gr.EventData):
        target = getattr(evt, "target", None)
        action = next((a for c, a in actions if c is target), None)
        return handlers.act(sm, symbols, action, pad, name, remove)

    gr.on([t.add.click, t.name.submit, t.remove.click, t.reset.click, t.examples.click], on_action,
          [t.symbols, t.pad, t.name, t.remove_choice],
          [t.symbols, t.symbols_list, t.note, t.pad, t.name, t.remove_choice], trigger_mode="once", **quiet)
    gr.on([t.tab.select, t.symbols.change, t.query.change, t.model.change],
          lambda symbols, model, query: handlers.show(sm, symbols, model, query),
          [t.symbols, t.model, t.query], [t.result, t.map, t.models_note], trigger_mode="always_last", **quiet)
    for pad, button in ((t.pad, t.clear_pad), (t.query, t.clear_query)):
        button.click(None, None, pad, js=CLEAR_JS, **quiet)


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
