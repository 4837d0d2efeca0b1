"""The teaching tabs (Embedding space, One-shot, Threshold & errors, Losses), added to the page:

    build_teaching_tabs(models, model_key, compare_tab, blocks)   # inside the page's gr.Tabs

Every view follows the session's `model_key` (the shipped model, or the session's retrained
one): it renders when its tab is selected, from the model's Reference (demo.models) and the
Lessons kept for that Reference (demo.teach.cache), and polls with a gr.Timer while the
Reference is being built.
"""
from __future__ import annotations

import gradio as gr

from ..models import SHIPPED, Models
from . import embedding, losses, oneshot, threshold
from .cache import TeachCache


def teach_cache(models: Models) -> TeachCache:
    """The views' shared cache, warming every view that has cheap parts to precompute."""
    return TeachCache(models, prepare=(embedding.prepare, threshold.prepare, oneshot.prepare))


def build_teaching_tabs(models: Models, model_key: gr.State, compare_tab, blocks: gr.Blocks) -> dict:
    """Add the four teaching tabs to the current gr.Tabs. `compare_tab` (demo.compare.tab's
    CompareTab) gives the embedding map each session's last compared pair (its `seen`).
    Returns the tabs' handles by name, for tests."""
    cache = teach_cache(models)
    cache.warm_when_ready(SHIPPED)
    return {
        "embedding": embedding.build(cache, model_key, compare_tab.seen),
        "oneshot": oneshot.build(cache, model_key),
        "threshold": threshold.build(cache, model_key),
        "losses": losses.build(models.comparator(None).model.config.embedding_dim),
        "cache": cache,
    }
