"""A class on one served page, measured: N screens (gradio_client, loopback) follow one class run
through /watch_class while M other clients call /compare back to back.

    .venv/bin/python -m demo.measure.classroom                   # 40 watchers, 8 compare clients, 60 s
    .venv/bin/python -m demo.measure.classroom --watchers 10 --clients 2 --seconds 20 --json
    .venv/bin/python -m demo.measure.classroom --lesson           # a realistic lesson (below)

--lesson: a class of 30 as it happens: 30 students call /compare with 2-4 s between calls, the
teacher starts a 60-s class run from scratch, and 30 screens follow it through /watch_class,
students and screens in processes of their own (a class's phones are separate machines).
Reports /compare p50/p95 during the run, each screen's mean gap between updates, the run's
test pair accuracy when it ends, the server's CPU per /compare call (the students alone,
before the run starts), and, to tell who was short of CPU during the run, the CPU seconds per
second of the server, of the training process and of the load generators themselves (the
student and screen processes, and this one): on a 2-core machine they share 2.

Starts `python app.py` on a free loopback port, a class run with /class_retrain_api, the compare
clients, then a baseline window (compare load and the run, no watchers), then the watchers join
and the measured window runs. Reports per watcher how many updates arrived and the gaps between
them (mean and worst), errors, /compare p50/p95 during the watched window, and what the watchers
cost the server: its CPU seconds per second and resident memory (the server process alone, the
training process apart), with and without them, divided by N.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from .launch import cpu_s, digit_files, loopback_client, print_report, rss_mb, served_app

WATCHERS_PER_PROCESS = 10  # screens per load-generating process


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m demo.measure.classroom", description=__doc__.splitlines()[0])
    p.add_argument("--watchers", type=int, default=40)
    p.add_argument("--clients", type=int, default=8, help="clients calling /compare back to back")
    p.add_argument("--seconds", type=float, default=60.0, help="the watched window")
    p.add_argument("--baseline", type=float, default=10.0, help="seconds measured before the watchers join")
    p.add_argument("--class-memory", type=int, default=0, metavar="N",
                   help="instead: resident memory per class, N classes shared in this process")
    p.add_argument("--lesson", action="store_true", help="instead: the realistic class of 30 (above)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if a.class_memory:
        print_report(class_memory(a.class_memory), a.json)
        return 0
    if a.lesson:
        out = lesson()
        print_report(out, a.json)
        return 0 if not out["errors"] else 1

    from gradio_client import handle_file

    files = [handle_file(str(f)) for f in digit_files(Path(tempfile.mkdtemp(prefix="siamese-class-")))]
    out: dict = {"watchers": a.watchers, "clients": a.clients, "cpus": os.cpu_count()}
    run_seconds = a.baseline + a.seconds + 30
    env = {"SIAMESE_MAX_TRAIN_SECONDS": str(int(run_seconds) + 10)}
    with served_app(env=env, timeout=120) as (proc, url, _):
        teacher, code = start_class_run(url, run_seconds)

        stop, lock = threading.Event(), threading.Lock()
        latencies, errors, window = [], [], {"on": False}

        def compare_client(k: int):
            client = loopback_client(url)
            i = k
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    client.predict(files[i % 4], files[(i * 3 + 1) % 4], api_name="/compare")
                    if window["on"]:
                        with lock:
                            latencies.append(time.perf_counter() - t)
                except Exception as e:  # noqa: BLE001 - counted
                    with lock:
                        errors.append(f"compare: {type(e).__name__}: {str(e)[:100]}")
                i += 1

        # started before anything is measured: spawning and importing take seconds
        pool = multiprocessing.get_context("spawn").Pool(-(-a.watchers // WATCHERS_PER_PROCESS), _warm)
        clients = [threading.Thread(target=compare_client, args=(k,), daemon=True) for k in range(a.clients)]
        for t in clients:
            t.start()
        time.sleep(3)  # the compare clients connected and warm
        cpu0, t0, rss0 = cpu_s(proc.pid, children=False), time.perf_counter(), rss_mb(proc.pid, children=False)
        time.sleep(a.baseline)
        cpu1, t1 = cpu_s(proc.pid, children=False), time.perf_counter()
        # The watchers live in processes of their own, WATCHERS_PER_PROCESS each: 40 streams in
        # this process beside the compare clients would measure this process's GIL (5 compares
        # a minute were measured that way), not the server. A class's screens are separate
        # machines. perf_counter is CLOCK_MONOTONIC, one clock for every process here.
        stop_at = time.perf_counter() + 3 + a.seconds
        pending = watch_groups(pool, url, code, a.watchers, stop_at)
        time.sleep(3)  # every watcher connected and served its first look
        rss1 = rss_mb(proc.pid, children=False)
        cpu2, t2 = cpu_s(proc.pid, children=False), time.perf_counter()
        window["on"] = True
        time.sleep(a.seconds)
        window["on"] = False
        cpu3, t3 = cpu_s(proc.pid, children=False), time.perf_counter()
        stop.set()
        last = teacher.outputs()[-1][0]
        teacher.cancel()
        for t in clients:
            t.join(15)
        arrivals, watch_errors = watched_results(pending)
        errors.extend(watch_errors)
        pool.close()

    gaps = []
    counts = []
    for times in arrivals:
        inside = [x for x in times if t2 <= x <= t3]
        counts.append(len(inside))
        if len(inside) > 1:
            gaps.extend(np.diff(inside).tolist())
    ms = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    base_cpu = (cpu1 - cpu0) / (t1 - t0)
    with_cpu = (cpu3 - cpu2) / (t3 - t2)
    out.update(
        code=code, window_s=round(t3 - t2, 1), errors=len(errors), first_errors=errors[:5],
        updates_per_watcher_min=min(counts) if counts else 0, updates_per_watcher_mean=round(float(np.mean(counts)), 1),
        mean_gap_s=round(float(np.mean(gaps)), 2) if gaps else None,
        worst_mean_gap_s=round(max((t3 - t2) / max(c, 1) for c in counts), 2) if counts else None,
        max_gap_s=round(float(np.max(gaps)), 2) if gaps else None,
        compare_calls=len(latencies), compare_p50_ms=round(float(np.percentile(ms, 50)), 1),
        compare_p95_ms=round(float(np.percentile(ms, 95)), 1),
        server_cpu_s_per_s_without_watchers=round(base_cpu, 3), server_cpu_s_per_s_with_watchers=round(with_cpu, 3),
        server_cpu_ms_per_s_per_watcher=round((with_cpu - base_cpu) * 1000 / max(a.watchers, 1), 2),
        server_rss_mb_before_watchers=round(rss0, 1) if rss0 else None,
        server_rss_mb_with_watchers=round(rss1, 1) if rss1 else None,
        server_rss_mb_per_watcher=round((rss1 - rss0) / max(a.watchers, 1), 3) if rss0 and rss1 else None,
        run_step_at_end=last.get("step"), run_accuracy_at_end=last.get("test_pair_accuracy"),
    )
    print_report(out, a.json)
    return 0 if not errors else 1


def lesson(students: int = 30, screens: int = 30, run_seconds: float = 60.0, think=(2.0, 4.0),
           baseline: float = 15.0) -> dict:
    """The realistic class (module docstring, --lesson)."""
    out: dict = {"students": students, "screens": screens, "run_seconds": run_seconds,
                 "think_s": list(think), "cpus": os.cpu_count()}
    env = {"SIAMESE_MAX_TRAIN_SECONDS": str(int(run_seconds))}
    ctx = multiprocessing.get_context("spawn")
    with served_app(env=env, timeout=120) as (proc, url, _):
        pool = ctx.Pool(-(-students // 10) + -(-screens // WATCHERS_PER_PROCESS), _warm)
        t_start = time.perf_counter() + 5  # every student process spawned and connected
        stop_at = t_start + baseline + run_seconds + 20
        groups = [min(10, students - k) for k in range(0, students, 10)]
        calls = pool.starmap_async(student_group, [(url, n, think, t_start, stop_at, k) for k, n in enumerate(groups)])
        time.sleep(max(0.0, t_start - time.perf_counter()) + 2)
        cpu0, t0 = cpu_s(proc.pid, children=False), time.perf_counter()
        time.sleep(baseline)  # the students alone: what a comparison costs the server
        cpu1, t1 = cpu_s(proc.pid, children=False), time.perf_counter()
        teacher, code = start_class_run(url, run_seconds)
        t_run = time.perf_counter()
        watched = watch_groups(pool, url, code, screens, stop_at)
        # CPU of the server, of its training process (gone once the run ends: sampled while it
        # runs) and of the load generators, every second of the run
        samples, sampling = [], threading.Event()

        def sample():
            while not sampling.is_set():
                server = cpu_s(proc.pid, children=False)
                samples.append((time.perf_counter(), server, cpu_s(proc.pid) - server, load_generators_cpu_s(proc.pid)))
                sampling.wait(1.0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        final = teacher.result(timeout=run_seconds + 120)[0]
        t_end = time.perf_counter()
        sampling.set()
        sampler.join(10)
        cpu2 = cpu_s(proc.pid, children=False)
        done_calls = calls.get(stop_at - time.perf_counter() + 60)
        arrivals, errors = watched_results(watched)
        pool.close()
    before = [c for group, _ in done_calls for (t, c) in group if t0 <= t <= t1]
    during = [c for group, _ in done_calls for (t, c) in group if t_run <= t <= t_end]
    errors += [e for _, errs in done_calls for e in errs]
    gaps = []
    for times in arrivals:
        inside = [x for x in times if t_run + 3 <= x <= t_end]  # from the first look on
        gaps.append(float(np.mean(np.diff(inside))) if len(inside) > 1 else float("inf"))
    ms = np.array(during) * 1000 if during else np.array([float("nan")])
    out.update(
        code=code, errors=len(errors), first_errors=errors[:5],
        compare_calls_during_run=len(during), compare_p50_ms=round(float(np.percentile(ms, 50)), 1),
        compare_p95_ms=round(float(np.percentile(ms, 95)), 1),
        screen_mean_gap_s_worst=round(max(gaps), 2) if gaps else None,
        screen_mean_gap_s_best=round(min(gaps), 2) if gaps else None,
        run_test_pair_accuracy=final.get("test_pair_accuracy"), run_steps=final.get("step"),
        run_elapsed_s=final.get("elapsed_s"), run_status=final.get("status"),
        server_cpu_ms_per_compare=round((cpu1 - cpu0) * 1000 / max(len(before), 1), 1),
        compare_calls_before_run=len(before),
        server_cpu_s_per_s_during_run=round((cpu2 - cpu1) / max(t_end - t1, 1e-9), 3),
        **cpu_shares(samples),
    )
    return out


def cpu_shares(samples) -> dict:
    """CPU seconds per second of the server, its training process and the load generators over
    the run, from (time, server, training, load generators) samples (the training process's
    own counter resets when it ends: its rate is taken over the samples while it ran)."""
    if len(samples) < 2:
        return {}
    (t0, s0, tr0, l0), (t1, s1, _, l1) = samples[0], samples[-1]
    peak = max(samples, key=lambda x: x[2])  # the training process's last sample before it ended
    train = (peak[2] - tr0) / max(peak[0] - t0, 1e-9)
    return {"cpu_s_per_s_server": round((s1 - s0) / (t1 - t0), 3), "cpu_s_per_s_training": round(train, 3),
            "cpu_s_per_s_load_generators": round((l1 - l0) / (t1 - t0), 3)}


def load_generators_cpu_s(server_pid: int) -> float:
    """CPU seconds so far of this process and its children other than the server's tree: the
    load generators (the students', the screens' and the teacher's clients)."""
    import psutil

    me = psutil.Process()
    server_tree = {server_pid, *(c.pid for c in psutil.Process(server_pid).children(recursive=True))}
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        if child.pid in server_tree:
            continue
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:  # gone meanwhile
            pass
    return total


def start_class_run(url: str, seconds: float):
    """The teacher starts a class run from scratch: (its gradio_client job, the class code)."""
    teacher = loopback_client(url).submit(loss="bce", seconds=seconds, lr=2e-3, init="scratch",
                                          api_name="/class_retrain_api")
    deadline = time.perf_counter() + 120
    while not teacher.outputs():
        if time.perf_counter() > deadline:
            raise SystemExit(f"the class run did not start: {teacher.status()}")
        time.sleep(0.1)
    return teacher, teacher.outputs()[0][0]["class_code"]


def watch_groups(pool, url: str, code: str, screens: int, stop_at: float):
    """`screens` watchers of the class, WATCHERS_PER_PROCESS to each of the pool's processes."""
    sizes = [min(WATCHERS_PER_PROCESS, screens - k) for k in range(0, screens, WATCHERS_PER_PROCESS)]
    return pool.starmap_async(watch_group, [(url, code, n, stop_at) for n in sizes])


def watched_results(pending) -> tuple[list[list[float]], list[str]]:
    """watch_groups' result: every watcher's arrival times, and all their errors."""
    arrivals, errors = [], []
    for group_arrivals, group_errors in pending.get(60):
        arrivals.extend(group_arrivals)
        errors.extend(group_errors)
    return arrivals, errors


def student_group(url: str, n: int, think, start_at: float, stop_at: float, seed: int):
    """n students in this (child) process, each calling /compare, then thinking 2-4 s, from
    `start_at` to `stop_at`: ([(end time, seconds)], errors)."""
    import random

    from gradio_client import handle_file

    files = [handle_file(str(f)) for f in digit_files(Path(tempfile.mkdtemp(prefix="siamese-lesson-")))]
    rng = random.Random(seed)
    done: list[tuple[float, float]] = []
    errors: list[str] = []

    def student(k: int):
        client = loopback_client(url)
        time.sleep(max(0.0, start_at - time.perf_counter()) + rng.uniform(0, think[1]))
        i = k
        while time.perf_counter() < stop_at:
            t = time.perf_counter()
            try:
                client.predict(files[i % 4], files[(i * 3 + 1) % 4], api_name="/compare")
                done.append((time.perf_counter(), time.perf_counter() - t))
            except Exception as e:  # noqa: BLE001 - counted
                errors.append(f"compare: {type(e).__name__}: {str(e)[:100]}")
            i += 1
            time.sleep(rng.uniform(*think))

    threads = [threading.Thread(target=student, args=(k,), daemon=True) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1.0, stop_at - time.perf_counter() + 30))
    return done, errors


def _warm() -> None:
    import gradio_client  # noqa: F401 - imported before the measured window


def watch_group(url: str, code: str, n: int, stop_at: float) -> tuple[list[list[float]], list[str]]:
    """n screens following class `code` through /watch_class until perf_counter() reaches
    `stop_at`, in this (child) process: each screen's arrival times, and the errors."""
    import threading

    arrivals: list[list[float]] = [[] for _ in range(n)]
    errors: list[str] = []

    def watcher(k: int):
        try:
            job = loopback_client(url).submit(code, api_name="/watch_class")
            for _ in job:
                arrivals[k].append(time.perf_counter())
                if time.perf_counter() >= stop_at:
                    job.cancel()
                    return
        except Exception as e:  # noqa: BLE001 - counted
            errors.append(f"watch: {type(e).__name__}: {str(e)[:100]}")

    threads = [threading.Thread(target=watcher, args=(k,), daemon=True) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1.0, stop_at - time.perf_counter() + 15))
    return arrivals, errors


def class_memory(n: int) -> dict:
    """Resident memory of n classes, each with its model registered (a finished run's model,
    shared), in this process: (after - before) / n. The test-set reference a tab builds for a
    model comes on top, at most Models' LRU of them at once (demo.models)."""
    from siamese import Comparator
    from siamese.job import JobUpdate

    from ..classroom.classes import ClassRoom
    from ..models import Models
    from ..retrain.record import RunRecord
    from ..retrain.sessions import SessionModel

    checkpoint = Path(__file__).resolve().parents[2] / "checkpoints" / "siamese_mnist.pt"
    room = ClassRoom(Models(Comparator.from_checkpoint(checkpoint)))
    xy = np.zeros((1000, 2), np.float32)

    def entry() -> SessionModel:  # a 5-minute run's record: 300 updates, a map
        record = RunRecord(300)
        for k in range(1, 301):
            record.add(JobUpdate(k, k / 100, float(k), float(k), 1.0, 4000.0, 1e-3, 0.9, xy, np.arange(1000) % 10))
        record.finish("done")
        return SessionModel("", checkpoint, {"loss": "bce", "lr": 2e-3, "init": "scratch"}, record)

    room.share_model(entry(), "warm-up")  # the first one pays for imports
    before = rss_mb(os.getpid(), children=False)
    for k in range(n):
        room.share_model(entry(), f"teacher-{k}")
    after = rss_mb(os.getpid(), children=False)
    return {"classes": n, "rss_before_mb": round(before, 1), "rss_after_mb": round(after, 1),
            "mb_per_class": round((after - before) / n, 2)}


if __name__ == "__main__":
    sys.exit(main())
