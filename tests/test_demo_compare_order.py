"""demo.compare.order: a session's comparisons one at a time, an older one never shown after a newer."""
from __future__ import annotations

import threading
import time

from demo.compare.order import Order

STALE = "stale"


def run(order, session, seq, view="state-copy", result="out"):
    seen = {}

    def compute(latest):
        seen["view"] = latest
        return result, f"view after {seq}"

    return order.run(session, seq, view, compute, lambda: STALE), seen.get("view")


def test_an_older_request_after_a_newer_one_is_dropped_without_computing():
    order = Order()
    assert run(order, "s", 2) == ("out", "state-copy")  # first request: the gr.State copy
    assert run(order, "s", 1) == (STALE, None)  # never computed
    assert order.dropped == 1
    assert run(order, "s", 3) == ("out", "view after 2")  # the view the shown comparison left


def test_sessions_and_calls_without_a_number_are_independent():
    order = Order()
    run(order, "s", 5)
    assert run(order, "t", 1)[0] == "out"  # another page
    assert run(order, "s", None)[0] == "out"  # an API call: never stale
    assert run(order, None, 0) == ("out", "state-copy")  # no session at all


def test_a_sessions_requests_run_one_at_a_time():
    order, inside, most = Order(), [0], [0]
    lock = threading.Lock()

    def compute(view):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        with lock:
            inside[0] -= 1
        return "out", view

    threads = [threading.Thread(target=order.run, args=("s", None, None, compute, lambda: STALE)) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert most[0] == 1


def test_the_oldest_session_goes_past_the_cap_and_forget_frees_a_slot():
    order = Order(max_sessions=2)
    run(order, "a", 9)
    run(order, "b", 1)
    run(order, "c", 1)  # "a" goes
    assert run(order, "a", 1)[0] == "out"  # a fresh slot: 1 is not below anything shown
    order.forget("a")
    assert run(order, "a", 0)[0] == "out"
