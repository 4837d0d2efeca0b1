"""Small files that decode to huge images, sent by several clients at once, while an ordinary
client keeps comparing: does the server's memory stay bounded and the ordinary client served?

    .venv/bin/python -m demo.measure.bombs                    # 3 clients x a pair of bombs
    .venv/bin/python -m demo.measure.bombs --clients 3 --rounds 2 --json

Starts `python app.py` on loopback, then: an ordinary client calls /compare with two drawn
digits back to back the whole time; after a quiet baseline, --clients clients each send a pair
of bombs (a 160 KB PNG of 6000 x 6000 transparent pixels with one stroke, made here) through
/compare at the same moment, --rounds times. Reports the server's resident memory (sampled every
0.1 s: before, peak, after), what each bomb call got (a result or its error message), and the
ordinary client's latency before and during the bombs. The baseline is taken once the server's
memory has settled (its MNIST reference built).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from .launch import digit_files, loopback_client, print_report, rss_mb, served_app


def make_bomb(folder: Path) -> Path:
    """A 6000 x 6000 RGBA PNG, transparent but for one stroke: ~160 KB on disk, 144 MB decoded."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (6000, 6000), (0, 0, 0, 0))
    ImageDraw.Draw(img).line([(1800, 1200), (4200, 1200), (2700, 5100)], fill=(0, 0, 0, 255), width=60, joint="curve")
    path = folder / "bomb.png"
    img.save(path)
    return path


def measure(url: str, pid: int, clients: int, rounds: int, baseline_s: float = 3.0) -> dict:
    from gradio_client import handle_file

    folder = Path(tempfile.mkdtemp(prefix="siamese-bombs-"))
    bomb = make_bomb(folder)
    seven, one = (handle_file(str(p)) for p in digit_files(folder)[:2])
    stop = threading.Event()
    rss, ordinary = [], []  # (t, MB with its children, MB alone); (t, seconds)

    def sample():
        while not stop.is_set():
            rss.append((time.monotonic(), rss_mb(pid) or 0.0, rss_mb(pid, children=False) or 0.0))
            time.sleep(0.1)

    def ordinary_client():
        c = loopback_client(url)
        while not stop.is_set():
            t = time.monotonic()
            c.predict(seven, one, api_name="/compare")
            ordinary.append((t, time.monotonic() - t))

    bombers = [loopback_client(url) for _ in range(clients)]
    for c in bombers:  # connected and warmed up before the measurement
        c.predict(seven, one, api_name="/compare")
    threads = [threading.Thread(target=sample, daemon=True), threading.Thread(target=ordinary_client, daemon=True)]
    for t in threads:
        t.start()
    # The baseline once the server has settled (its MNIST reference and warm-ups done): the
    # last 3 s within 10 MB, at most a minute.
    t_end = time.monotonic() + 60
    time.sleep(baseline_s)
    while time.monotonic() < t_end:
        last = [m for t, m, _ in rss if t > time.monotonic() - 3]
        if last and max(last) - min(last) < 10:
            break
        time.sleep(0.5)
    before = max(m for t, m, _ in rss[-10:])
    before_own = max(m for t, _, m in rss[-10:])
    answers, start = [], time.monotonic()

    def send(c):
        t = time.monotonic()
        try:
            r = c.predict(handle_file(str(bomb)), handle_file(str(bomb)), api_name="/compare")
            answers.append({"s": round(time.monotonic() - t, 2), "result": r.get("verdict")})
        except Exception as e:  # an AppError with the page's message is a fine answer
            answers.append({"s": round(time.monotonic() - t, 2), "error": str(e)[:120]})

    for _ in range(rounds):
        senders = [threading.Thread(target=send, args=(c,)) for c in bombers]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
    end = time.monotonic()
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join(30)
    peak = max(m for t, m, _ in rss if start <= t <= end + 2)
    peak_own = max(m for t, _, m in rss if start <= t <= end + 2)
    calm = [s for t, s in ordinary if t < start]
    during = [s for t, s in ordinary if start <= t <= end]
    return {
        "bomb_calls": clients * rounds, "answers": answers, "bomb_kb": round(bomb.stat().st_size / 1024, 1),
        "server_rss_before_mb": round(before, 1), "server_rss_peak_mb": round(peak, 1),
        "server_rss_growth_mb": round(peak - before, 1), "server_rss_after_mb": round(rss[-1][1], 1),
        "server_process_alone_before_mb": round(before_own, 1), "server_process_alone_growth_mb": round(peak_own - before_own, 1),
        "ordinary_calls_during": len(during),
        "ordinary_p50_ms_before": round(float(np.median(calm)) * 1000, 1) if calm else None,
        "ordinary_max_s_during": round(max(during), 2) if during else None,
        "bombs_s": round(end - start, 2),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m demo.measure.bombs", description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=3)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    with served_app() as (proc, url, _):
        out = measure(url, proc.pid, a.clients, a.rounds)
    print_report(out, a.json)
    return 0 if all("result" in x or "error" in x for x in out["answers"]) else 1


if __name__ == "__main__":
    sys.exit(main())
