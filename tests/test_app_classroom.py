"""Classes through the real API (gradio_client, a served page): a run shared at once with
/class_retrain_api, followed by several /watch_class streams from one server-side stream, a late
joiner, an unknown code."""
from __future__ import annotations

import threading
import time

import pytest

pytestmark = pytest.mark.app


def watch(server, code, out: list):
    from gradio_client import Client

    for update in Client(server, verbose=False).submit(code, api_name="/watch_class"):
        out.append((time.monotonic(), update))


def test_three_screens_follow_one_shared_run_and_a_late_joiner_gets_the_curve(server, slow_replay):
    from gradio_client import Client

    teacher = Client(server, verbose=False).submit(loss="bce", seconds=5, lr=2e-3, init="scratch",
                                                   api_name="/class_retrain_api")
    deadline = time.monotonic() + 90
    while not teacher.outputs():
        assert time.monotonic() < deadline, teacher.status()
        time.sleep(0.1)
    code = teacher.outputs()[0][0]["class_code"]
    screens = [[] for _ in range(3)]
    threads = [threading.Thread(target=watch, args=(server, code, s)) for s in screens]
    for t in threads:
        t.start()
    final, path = teacher.result()
    assert final["status"] == "done" and final["class_code"] == code and path
    for t in threads:
        t.join(60)
    for s in screens:
        steps = [u["step"] for _, u in s]
        assert steps == sorted(steps) and len(s) >= 2
        assert s[-1][1]["status"] == "done" and s[-1][1]["model"] is True
    assert screens[0][-1][1]["watchers"] >= 3
    late = []
    watch(server, code.lower(), late)  # after the end: one look, the whole curve, done
    assert late[-1][1]["status"] == "done" and late[-1][1]["points"] == screens[0][-1][1]["points"]


def test_an_unknown_code_is_a_clear_error(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="No class QQQQQQ"):
        client.predict("QQQQQQ", api_name="/watch_class")
