"""Speed, measured side by side with the blog's pipeline, in one run on the device at hand.

    python -m siamese.bench                 # table + JSON on stdout
    python -m siamese.bench --json-out runs/bench.json --skip-app

1. training throughput (pairs/s): our trainer vs a faithful re-implementation of the blog's
   pipeline (same network, a per-item pair Dataset that draws partners in Python and
   transforms each image with torchvision, a shuffling DataLoader, the same batch size, fp32,
   two forward calls per step as in the blog), and their ratio;
   and against a bare forward+backward loop of the same network and numerics (the trainer's
   own cost: sampling, augmentation, bookkeeping);
2. wall time from scratch to 0.99 pair accuracy on the 20,000 fixed test pairs;
3. Comparator.compare latency for one pair (p50, p95) and batched embedding throughput;
4. app cold start: `python app.py` process start to the first page served;
5. (`--preprocess`, also part of the full run) `to_mnist` on files people send: a 512-px
   drawing as PNG (RGBA, RGB and grey), a 12-megapixel photo-like JPEG, and a 160 KB PNG that
   decodes to 6000 x 6000 transparent pixels (time and the process's peak memory growth).

Numbers depend on what else the machine is doing: run it on a quiet machine.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .config import TrainConfig
from .data import load_mnist
from .device import calibrate, pick_device, settled_amp
from .model import SiameseNet
from .train import Trainer

ROOT = Path(__file__).resolve().parents[1]


class BlogPairDataset(torch.utils.data.Dataset):
    """The blog's data pipeline: for item i, its image, a random image of the same digit and a
    random image of another digit, each a PIL image through ToTensor + Normalize."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        from torchvision import transforms

        self.images, self.labels = images, labels
        self.by_class = [np.flatnonzero(labels == c) for c in range(10)]
        self.transform = transforms.Compose([transforms.ToTensor(),
                                             transforms.Normalize((0.1307,), (0.3081,))])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image

        c = int(self.labels[i])
        pos = random.choice(self.by_class[c])
        other = random.choice([k for k in range(10) if k != c])
        neg = random.choice(self.by_class[other])
        imgs = [self.transform(Image.fromarray(self.images[j], mode="L")) for j in (i, pos, neg)]
        return imgs, torch.tensor([1, 0])  # targets: (anchor, pos) same, (anchor, neg) different


class _BlogNet(SiameseNet):
    """The blog's forward takes the list [a, b] and normalises in the transform, not the model."""

    def forward(self, data):
        return self.head((self.tower(data[0]) - self.tower(data[1])).pow(2))


def train_blog(data, device, batch_size: int, seconds: float, workers: int = 0, warm: int = 3):
    """The blog's training loop for `seconds` after `warm` untimed steps.
    Returns (model, {"pairs_per_s", "steps", "seconds"}) counting the timed steps only."""
    ds = BlogPairDataset(data.train.images.cpu().numpy(), data.train.labels.cpu().numpy())
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers)
    model = _BlogNet().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps, t0 = 0, None
    while True:
        for imgs, target in loader:
            if steps == warm:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
            imgs = [x.to(device) for x in imgs]
            target = target.to(device)
            opt.zero_grad()
            out_pos = model(imgs[:2])
            out_neg = model(imgs[0:3:2])
            loss = F.cross_entropy(out_pos, target[:, 0]) + F.cross_entropy(out_neg, target[:, 1])
            loss.backward()
            opt.step()
            steps += 1
            if t0 is not None and time.perf_counter() - t0 >= seconds:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                dt = time.perf_counter() - t0
                timed = steps - warm
                return model, {"pairs_per_s": 2 * batch_size * timed / dt, "steps": timed, "seconds": dt}


def blog_throughput(data, device, batch_size: int, seconds: float, workers: int = 0) -> dict:
    return train_blog(data, device, batch_size, seconds, workers)[1]


def our_throughput(data, device, batch_size: int, seconds: float) -> dict:
    warm = Trainer(TrainConfig(device=str(device), max_steps=3, batch_size=batch_size, eval_every=1e9,
                               eval_size=100), data=data)
    list(warm.run())  # first steps build kernels / primitives
    cfg = TrainConfig(device=str(device), epochs=1000, max_seconds=seconds, batch_size=batch_size,
                      eval_every=1e9, eval_size=100)
    trainer = Trainer(cfg, data=data)
    ev = list(trainer.run())[-1]
    return {"pairs_per_s": 2 * batch_size * trainer.step / ev.train_seconds, "steps": trainer.step,
            "seconds": ev.train_seconds, "amp": trainer.amp}


def bare_throughput(data, device, batch_size: int, seconds: float, amp: bool) -> dict:
    """The floor under any trainer: forward, the blog's loss on one positive and one negative
    partner per image, backward and an AdamW step of the same network with the same numerics,
    on one fixed batch already in place (no sampling, no augmentation, no bookkeeping)."""
    from .device import autocast
    from .losses import bce_loss
    from .pairs import partners

    model = SiameseNet().to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = (data.train.images[:batch_size].to(device).float().div(255).unsqueeze(1)
         .contiguous(memory_format=torch.channels_last))
    labels = data.train.labels[:batch_size].to(device)
    pos, neg, pos_ok, neg_ok = partners(labels, torch.Generator(device=device).manual_seed(0))
    b = torch.cat([pos, neg])
    same = torch.cat([torch.ones_like(labels), torch.zeros_like(labels)]).float()

    def step():
        with autocast(device, amp):
            emb = model.embed(x)
            loss = bce_loss(model.pair_logits(torch.cat([emb, emb]), emb[b]), same)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        steps += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {"pairs_per_s": 2 * batch_size * steps / dt, "steps": steps, "seconds": dt, "amp": amp}


def time_to_accuracy(data, device, target: float, budget: float, batch_size: int,
                     eval_every: float) -> dict:
    """Train from scratch with a `budget`-second schedule, scoring all 20,000 fixed test pairs
    every `eval_every` seconds; report training seconds (evaluation excluded) at the first hit."""
    cfg = TrainConfig(device=str(device), epochs=1000, max_seconds=budget, batch_size=batch_size,
                      eval_every=eval_every, eval_size=len(data.test))
    trainer = Trainer(cfg, data=data)
    curve = []
    hit = None
    for ev in trainer.run():
        if ev.test_pair_accuracy is None:  # an update without a probe (the end-of-run summary)
            continue
        curve.append((round(ev.train_seconds, 2), round(ev.test_pair_accuracy, 4)))
        if hit is None and ev.test_pair_accuracy >= target:
            hit = ev.train_seconds
            trainer.stop()
    return {"target": target, "seconds": hit, "budget": budget, "curve": curve,
            "final_accuracy": curve[-1][1] if curve else None}


def quick_retrain(data_dir, data, device, seconds: float) -> dict:
    """The page's retrain from scratch (its settings: `config.short_run`, a 1,000-digit probe
    every second, every core this process may use), run as the page runs it, in a worker
    process; then the blog's pipeline given the same training seconds. Both scored on the
    20,000 fixed test pairs (ours: distance <= its threshold from validation pairs; the blog's:
    its head's argmax, as the blog predicts). `wall_s`: from asking to having the model, the
    worker's start-up, MNIST and the threshold included (what a teacher waits)."""
    from .checkpoint import model_from_checkpoint
    from .config import short_run
    from .evaluate import embed_images, evaluate
    from .job import JobResult, JobUpdate
    from .model import same_probability_from_logits
    from .pairs import fixed_pairs
    from .worker import ProcessRunner, cpu_count

    cfg = TrainConfig(device=str(device), epochs=10_000, max_seconds=seconds, eval_every=1.0, eval_size=1000,
                      threads=cpu_count(), amp=settled_amp("auto", device), **short_run("bce"))
    runner = ProcessRunner(nice=0)
    runner.warm()  # the server's fork server is up before a teacher presses Start
    t0, curve, first, ckpt = time.perf_counter(), [], None, None
    for item in runner.run(cfg, data_dir):
        if isinstance(item, JobUpdate):
            first = first if first is not None else time.perf_counter() - t0 - item.elapsed
            if item.test_pair_accuracy is not None:
                curve.append((round(item.elapsed, 1), round(item.test_pair_accuracy, 4)))
            steps = item.step
        elif isinstance(item, JobResult):
            ckpt = item.checkpoint
    wall = time.perf_counter() - t0
    model = model_from_checkpoint(ckpt, device)
    ours = evaluate(model, data, threshold=ckpt["threshold"], knn=False)

    blog, blog_stats = train_blog(data, device, cfg.batch_size, seconds, warm=0)
    emb = embed_images(blog, data.test.images)  # embed() normalises like the blog's transform
    a, b, same = fixed_pairs(data.test.labels)
    with torch.no_grad():
        p = same_probability_from_logits(blog.pair_logits(emb[a], emb[b]))
    blog_acc = float(((p >= 0.5).float() == same).float().mean())
    return {"seconds": seconds, "ours_pair_accuracy": ours["pair_accuracy"], "ours_steps": steps,
            "ours_curve": curve, "wall_s": round(wall, 1), "startup_s": round(first, 2),
            "settings": {k: v for k, v in cfg.to_dict().items() if k in ("batch_size", "mining", "augment", "lr")},
            "blog_pair_accuracy": blog_acc, "blog_steps": blog_stats["steps"]}


def worker_vs_in_process(data_dir, device, seconds: float) -> dict:
    """The page's retrain (its settings: a 1,000-digit probe every second, every core this
    process may use) run by `worker.ProcessRunner` in a child process, and by the same job in
    this process, one after the other: training pairs/s of each (steps x pairs per step over
    training seconds, probes excluded), their ratio, and the child's start-up (from the call to
    its first step: process, imports, MNIST)."""
    from .job import JobResult, JobUpdate, train_job
    from .worker import ProcessRunner, cpu_count

    cfg = TrainConfig(device=str(device), epochs=1000, max_seconds=seconds, eval_every=1.0, eval_size=1000,
                      threads=cpu_count(), amp=settled_amp("auto", device))
    runner = ProcessRunner(nice=0)
    runner.warm()  # the fork server imports torch once per server, not once per run

    def measure(items) -> dict:
        t0, first, last = time.perf_counter(), None, None
        for item in items:
            if isinstance(item, JobUpdate):
                first = first or (time.perf_counter() - t0 - item.elapsed)
                last = item
            elif isinstance(item, JobResult):
                break
        return {"pairs_per_s": 2 * cfg.batch_size * last.step / max(last.train_seconds, 1e-9),
                "steps": last.step, "startup_s": round(first, 2), "pid": last.pid}

    worker = measure(runner.run(cfg, data_dir))
    threads = torch.get_num_threads()
    in_process = measure(train_job(cfg, data_dir, share_cores=True))
    torch.set_num_threads(threads)  # train_job owns the threads of the process it runs in
    return {"seconds": seconds, "worker": worker, "in_process": in_process,
            "ratio": worker["pairs_per_s"] / in_process["pairs_per_s"]}


def compare_latency(data, device, calls: int = 200) -> dict:
    from .compare import Comparator

    ckpt = ROOT / "checkpoints" / "siamese_mnist.pt"
    cmp = Comparator.from_checkpoint(ckpt, device=str(device)) if ckpt.exists() else None
    if cmp is None:
        return {"skipped": "no shipped checkpoint"}
    # Drawn-canvas-sized inputs: MNIST digits blown up to 280 x 280, dark on light.
    imgs = [np.kron(255 - data.test.images[i].cpu().numpy(), np.ones((10, 10), np.uint8)) for i in range(20)]
    for i in range(5):
        cmp.compare(imgs[i], imgs[i + 1])
    times = []
    for i in range(calls):
        t = time.perf_counter()
        cmp.compare(imgs[i % 20], imgs[(i + 7) % 20])
        times.append(time.perf_counter() - t)
    batch = data.test.images[:10000]
    cmp.embed(batch[:512])
    t = time.perf_counter()
    cmp.embed(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t
    ms = np.array(times) * 1000
    return {"compare_p50_ms": float(np.percentile(ms, 50)), "compare_p95_ms": float(np.percentile(ms, 95)),
            "embed_images_per_s": len(batch) / dt}


def _png(img, **kw) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def preprocess_inputs() -> dict:
    """name -> file bytes: what `preprocess_times` measures (drawn here, never MNIST)."""
    import io

    from PIL import Image, ImageDraw

    def stroke(size, width, paper=(255, 255, 255, 255), ink=(20, 20, 20, 255)):
        img = Image.new("RGBA", size, paper)
        w, h = size
        ImageDraw.Draw(img).line([(0.3 * w, 0.2 * h), (0.7 * w, 0.2 * h), (0.45 * w, 0.85 * h)], fill=ink,
                                 width=width, joint="curve")
        return img

    seven = stroke((512, 512), 40)
    photo = stroke((4000, 3000), 220, paper=(200, 196, 185, 255), ink=(40, 40, 60, 255)).convert("RGB")
    noise = np.random.default_rng(0).integers(-18, 19, (3000, 4000, 1), dtype=np.int16)  # paper grain
    photo = Image.fromarray(np.clip(np.asarray(photo, np.int16) + noise, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", quality=90)
    bomb = stroke((6000, 6000), 60, paper=(0, 0, 0, 0), ink=(0, 0, 0, 255))
    return {"png_512_rgba": _png(seven), "png_512_rgb": _png(seven.convert("RGB")),
            "png_512_grey": _png(seven.convert("L")), "jpeg_12mp": buf.getvalue(), "png_bomb_6000": _png(bomb)}


def preprocess_times(calls: int = 200) -> dict:
    """to_mnist p50 / p95 (ms) per input of `preprocess_inputs`, one thread, and the bytes of
    each file; for the bomb, the process's peak memory growth too (ru_maxrss). `calls` times
    each small file (the JPEG a seventh of that, the bomb a twentieth; at least one each)."""
    import resource

    from .preprocess import to_mnist

    inputs = preprocess_inputs()
    out = {}
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, data in inputs.items():
            n = max(1, calls // 20 if "bomb" in name else calls // 7 if "jpeg" in name else calls)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            to_mnist(data)  # warm-up (and the bomb's peak, first time)
            grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
            times = []
            for _ in range(n):
                t = time.perf_counter()
                to_mnist(data)
                times.append((time.perf_counter() - t) * 1000)
            out[name] = {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)),
                         "kb": round(len(data) / 1024, 1)}
            if "bomb" in name:
                out[name]["peak_growth_mb"] = round(grew, 1)
    finally:
        torch.set_num_threads(torch_threads)
    return out


def app_cold_start(timeout: float = 60.0) -> dict:
    if not (ROOT / "app.py").exists():
        return {"skipped": "no app.py"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1",
               GRADIO_ANALYTICS_ENABLED="False")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
                    if r.status == 200 and b"<html" in r.read(2000).lower():
                        return {"first_page_s": time.perf_counter() - t0}
            except OSError:
                time.sleep(0.05)
        return {"first_page_s": None, "error": f"no page within {timeout} s"}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def describe(device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = "CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {torch.get_num_threads()} threads"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m siamese.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=256, help="same for both pipelines")
    p.add_argument("--seconds", type=float, default=15.0, help="timed seconds per throughput run")
    p.add_argument("--blog-workers", type=int, default=0, help="DataLoader workers for the blog pipeline")
    p.add_argument("--target", type=float, default=0.99)
    p.add_argument("--budget", type=float, default=None,
                   help="schedule length for time-to-accuracy (default 120 s on CPU, 20 s on CUDA)")
    p.add_argument("--skip-app", action="store_true")
    p.add_argument("--retrain-seconds", type=float, default=None,
                   help="only run the page's quick retrain for this many seconds vs the blog's pipeline")
    p.add_argument("--worker-seconds", type=float, default=None,
                   help="only run the page's retrain through its worker process vs in this process, "
                        "this many seconds each")
    p.add_argument("--preprocess", action="store_true",
                   help="only time to_mnist on a 512-px PNG, a 12-MP JPEG and a pixel bomb")
    p.add_argument("--preprocess-calls", type=int, default=200, help="timed to_mnist calls per small file")
    p.add_argument("--json-out", default=None)
    a = p.parse_args(argv)
    if a.preprocess:
        pre = preprocess_times(a.preprocess_calls)
        print(f"\n| to_mnist (one thread) | file | p50 | p95 |\n| --- | --- | --- | --- |")
        for name, r in pre.items():
            extra = f" (peak memory growth {r['peak_growth_mb']} MB)" if "peak_growth_mb" in r else ""
            print(f"| {name} | {r['kb']} KB | {r['p50_ms']:.2f} ms | {r['p95_ms']:.2f} ms{extra} |")
        print(json.dumps({"device": describe(torch.device("cpu")), "preprocess": pre}, indent=2))
        return 0

    try:
        device = pick_device(a.device)
    except ValueError as e:
        p.error(str(e))
    data = load_mnist(a.data_dir, device)
    res = {"device": describe(device), "torch": str(torch.__version__), "batch_size": a.batch_size}
    print(f"benchmarking on {res['device']} (torch {res['torch']})", flush=True)
    if a.worker_seconds:
        w = worker_vs_in_process(a.data_dir, device, a.worker_seconds)
        print(f"\n| page retrain, {w['seconds']:.0f} s each | pairs/s | steps | start-up |\n| --- | --- | --- | --- |")
        for name in ("worker", "in_process"):
            print(f"| {name.replace('_', '-')} | {w[name]['pairs_per_s']:,.0f} | {w[name]['steps']} | "
                  f"{w[name]['startup_s']:.2f} s |")
        print(f"| worker / in-process | {w['ratio']:.3f} | | |")
        print(json.dumps({**res, "worker_vs_in_process": w}, indent=2))
        return 0
    if a.retrain_seconds:
        r = quick_retrain(a.data_dir, data, device, a.retrain_seconds)
        print("curve (training s, probe test pair acc):", r["ours_curve"])
        print(f"\n| {a.retrain_seconds:.0f} s from scratch, blog architecture and loss | steps | "
              f"pair accuracy (20,000 fixed test pairs) | Start to model |\n| --- | --- | --- | --- |")
        print(f"| the page's retrain ({r['settings']}) | {r['ours_steps']} | {r['ours_pair_accuracy']:.4f} | "
              f"{r['wall_s']:.1f} s (start-up {r['startup_s']:.1f} s) |")
        print(f"| blog pipeline | {r['blog_steps']} | {r['blog_pair_accuracy']:.4f} | |")
        print(json.dumps({**res, "quick_retrain": r}, indent=2))
        return 0
    res["blog"] = blog_throughput(data, device, a.batch_size, a.seconds, a.blog_workers)
    print(f"  blog pipeline: {res['blog']['pairs_per_s']:.0f} pairs/s", flush=True)
    res["ours"] = our_throughput(data, device, a.batch_size, a.seconds)
    print(f"  our trainer:   {res['ours']['pairs_per_s']:.0f} pairs/s", flush=True)
    res["speedup"] = res["ours"]["pairs_per_s"] / res["blog"]["pairs_per_s"]
    res["bare"] = bare_throughput(data, device, a.batch_size, a.seconds, res["ours"]["amp"])
    res["ours_vs_bare"] = res["ours"]["pairs_per_s"] / res["bare"]["pairs_per_s"]
    print(f"  bare loop:     {res['bare']['pairs_per_s']:.0f} pairs/s (ours / bare {res['ours_vs_bare']:.3f})",
          flush=True)
    budget = a.budget or (20.0 if device.type == "cuda" else 120.0)
    res["time_to_target"] = time_to_accuracy(data, device, a.target, budget, a.batch_size,
                                             eval_every=1.0 if device.type == "cuda" else 3.0)
    print(f"  time to {a.target}: {res['time_to_target']['seconds']} s", flush=True)
    res["worker_vs_in_process"] = worker_vs_in_process(a.data_dir, device, a.seconds)
    print(f"  page retrain in a worker process / in this process: {res['worker_vs_in_process']['ratio']:.3f}",
          flush=True)
    res["inference"] = compare_latency(data, device)
    res["preprocess"] = preprocess_times(a.preprocess_calls)
    res["app"] = {"skipped": "--skip-app"} if a.skip_app else app_cold_start()

    inf, app, ttt = res["inference"], res["app"], res["time_to_target"]
    rows = [
        ("training throughput, blog pipeline", f"{res['blog']['pairs_per_s']:,.0f} pairs/s"),
        ("training throughput, ours", f"{res['ours']['pairs_per_s']:,.0f} pairs/s"
                                      f" ({'bf16' if res['ours']['amp'] else 'fp32'})"),
        ("speed-up", f"{res['speedup']:.1f}x"),
        ("ours / a bare forward+backward loop (same net, numerics, batch)", f"{res['ours_vs_bare']:.3f} ("
         f"{res['bare']['pairs_per_s']:,.0f} pairs/s bare)"),
        ("numerics (measured at start)", calibrate().describe() if device.type == "cpu" else "bf16 (CUDA)"),
        ("page retrain through its worker process / in-process", f"{res['worker_vs_in_process']['ratio']:.3f} ("
         f"{res['worker_vs_in_process']['worker']['pairs_per_s']:,.0f} vs "
         f"{res['worker_vs_in_process']['in_process']['pairs_per_s']:,.0f} pairs/s)"),
        (f"from scratch to {a.target} test pair acc", "not reached" if ttt["seconds"] is None
         else f"{ttt['seconds']:.1f} s (budget {budget:.0f} s; final {ttt['final_accuracy']:.4f})"),
        ("compare() one pair, p50 / p95", f"{inf.get('compare_p50_ms', float('nan')):.2f} / "
                                          f"{inf.get('compare_p95_ms', float('nan')):.2f} ms"),
        ("batched embedding", f"{inf.get('embed_images_per_s', float('nan')):,.0f} images/s"),
        *[(f"to_mnist, {name} ({r['kb']} KB), p50", f"{r['p50_ms']:.2f} ms") for name, r in res["preprocess"].items()],
        ("app cold start to first page", app.get("skipped") or (f"{app['first_page_s']:.2f} s"
                                                                if app.get("first_page_s") else app.get("error"))),
    ]
    print(f"\n| measure ({res['device']}) | value |\n| --- | --- |")
    for k, v in rows:
        print(f"| {k} | {v} |")
    print(json.dumps(res, indent=2))
    if a.json_out:
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
