"""Load times of the teaching views on this machine: each view's handler, cold and warm, and
optionally the same in Chromium (click on the tab -> its plot drawn).

    .venv/bin/python -m demo.measure.teach              # handlers only, 5 rounds
    .venv/bin/python -m demo.measure.teach --browser    # and Chromium, through a served page

Handlers. Cold: the first call for a model whose views were never computed (a fresh TeachCache
over an already built Reference; the Reference itself, the test set's embeddings, is timed
apart since demo.models builds it once per model for every tab). Warm: the next call. Median of
--rounds. t-SNE: the background computation, and the warm call once it is there.
Browser: from the click on a tab to its plot in the page, for new sessions (see browser_times).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _median_ms(xs) -> float:
    return round(statistics.median(xs) * 1000, 1)


def handler_times(rounds: int, data_dir) -> dict:
    import numpy as np

    from siamese import Comparator
    from siamese.reference import Reference

    from ..compare.handlers import Shown
    from ..examples import draw_strokes
    from ..models import SHIPPED, Models
    from ..teach import embedding as E
    from ..teach import losses as LO
    from ..teach import oneshot as O
    from ..teach import threshold as TT
    from ..teach.tabs import teach_cache

    cmp = Comparator.from_checkpoint(ROOT / "checkpoints" / "siamese_mnist.pt")
    models = Models(cmp, data_dir=data_dir).start()
    if not models.wait(600) or models.status(SHIPPED) != "ready":
        raise SystemExit(f"MNIST reference unavailable: {models.data_error}")
    ref = models.reference(SHIPPED)
    t = time.perf_counter()
    Reference(cmp, ref.images, ref.labels)
    reference_s = time.perf_counter() - t

    seven = np.asarray(draw_strokes("7", size=(280, 280)))
    one = np.asarray(draw_strokes("1", size=(280, 280)))
    r = cmp.compare(seven, one)
    shown = Shown(r.distance, r.same_probability, r.image_a, r.image_b)
    sketch = {"background": None, "layers": [], "composite": seven}
    views = {
        "embedding (PCA, with A and B)": lambda c: E.render(c, SHIPPED, shown, "PCA (linear)"),
        "one-shot (a drawn 7)": lambda c: O.render(c, SHIPPED, sketch, 0, {}),
        "threshold & errors": lambda c: TT.render(c, SHIPPED, None, None),
        "threshold slider moved": lambda c: TT.render(c, SHIPPED, 5.0, SHIPPED),
        "losses (toy)": lambda c: LO.render(LO.LAYOUTS["Negative too close"], "Contrastive", 1.0),
    }
    out = {}
    for name, fn in views.items():
        cold, warm = [], []
        for _ in range(rounds):
            cache = teach_cache(models)  # nothing computed yet for this model
            t = time.perf_counter()
            fn(cache)
            cold.append(time.perf_counter() - t)
            cache.drain()  # the warm-up it queued (other views, t-SNE): not this view's time
            t = time.perf_counter()
            fn(cache)
            warm.append(time.perf_counter() - t)
            cache.drain()
        out[name] = {"cold_ms": _median_ms(cold), "warm_ms": _median_ms(warm)}
    tsne = []
    for _ in range(max(1, rounds // 2)):
        cache = teach_cache(models)
        t = time.perf_counter()
        cache.start_tsne(ref)
        cache.drain()  # on the t-SNE worker, one thread, as on the page
        tsne.append(time.perf_counter() - t)
    cache.drain()
    t = time.perf_counter()
    E.render(cache, SHIPPED, shown, "t-SNE (non-linear)")
    out["embedding (t-SNE)"] = {"background_compute_ms": _median_ms(tsne),
                                "warm_ms": round((time.perf_counter() - t) * 1000, 1)}
    out["reference build (per model, shared with Compare)"] = {"cold_ms": round(reference_s * 1000, 1)}
    return out


def browser_times(rounds: int, data_dir) -> dict:
    """Click -> plot drawn, for each tab, in `rounds` new sessions (new browser contexts). The
    first session starts as soon as the shipped Reference is ready (its views are being warmed
    in the background then); later sessions find everything computed."""
    from playwright.sync_api import sync_playwright

    from ..app import build_demo
    from .launch import free_port

    demo = build_demo(data_dir=data_dir)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    demo.models.wait(600)
    tabs = {"embedding": "#emb-map svg.emb-svg circle.pt", "oneshot": "#oneshot-refs figure",
            "threshold": "#roc #roc-curve", "losses": "#toy svg.toy-svg"}
    first: dict[str, float] = {}
    later: dict[str, list[float]] = {t: [] for t in tabs}
    chromium = os.environ.get("SIAMESE_CHROMIUM") or "/usr/bin/chromium"
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
            for session in range(rounds):
                ctx = b.new_context(viewport={"width": 1360, "height": 1000})
                pg = ctx.new_page()
                pg.set_default_timeout(120_000)
                pg.goto(demo.local_url)
                pg.wait_for_selector("#sketch-a canvas")
                for tab, sel in tabs.items():
                    pg.wait_for_timeout(1500)  # a learner reads a moment before the next tab
                    t = time.perf_counter()
                    pg.click(f"#tab-{tab}-button")
                    pg.wait_for_selector(sel, state="attached")
                    dt = time.perf_counter() - t
                    if session == 0:
                        first[tab] = round(dt * 1000, 1)
                    else:
                        later[tab].append(dt)
                ctx.close()
            b.close()
    finally:
        demo.close()
    return {"first_session_ms": first,
            "later_sessions_median_ms": {k: _median_ms(v) for k, v in later.items() if v}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m demo.measure.teach", description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5, help="repetitions, median reported (default 5)")
    p.add_argument("--data-dir", default=None, help="MNIST root (default: $SIAMESE_DATA_DIR or ./data)")
    p.add_argument("--browser", action="store_true", help="also time the tabs in headless Chromium")
    p.add_argument("--json", action="store_true", help="print one JSON object only")
    args = p.parse_args(argv)
    out = {"load_average": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
           "handlers": handler_times(args.rounds, args.data_dir)}
    if args.browser:
        out["browser_ms"] = browser_times(args.rounds, args.data_dir)
    out["load_average_after"] = round(os.getloadavg()[0], 2)
    if args.json:
        print(json.dumps(out))
    else:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
