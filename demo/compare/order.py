"""One comparison per session at a time, and never an older one landing after a newer one.

Gradio's trigger_mode="always_last" defers a trigger while the dependency's request is in
flight, but the browser counts a request as in flight only once it has been sent: gathering
the inputs first (exporting a pad's drawing, running the `js=` function) takes a while on a
slow machine, and a trigger in that window starts a second request. Measured in the ordering
test (tests/test_e2e_page.py): A's stroke, then B's stroke and the button 1 s apart, gave three
requests on the server at once, the oldest (B still empty) landing last.

So the server orders them too. The browser numbers each trigger (NUMBER_JS in
demo.compare.tab) and a request carries the number it read with its inputs, as their gathering
began: the newest trigger its values include. Per session, requests run one at a time, and a
request whose number is below the newest one already shown is dropped without computing (its
outputs all skipped); an equal number saw the same triggers, so it runs. The session's
CompareView lives here as well: a request takes the one the newest shown comparison left, not
the gr.State copy read when the request arrived (which a request running meanwhile has made
stale).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

MAX_SESSIONS = 4096  # the oldest idle session's slot goes first (a slot is a lock and a view)


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    shown: int = -1  # the newest sequence number whose outputs were sent
    view: object = None  # the CompareView those outputs left on screen


class Order:
    """Per-session serialisation of the Compare tab's handler, newest first."""

    def __init__(self, max_sessions: int = MAX_SESSIONS):
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._guard = threading.Lock()
        self.max_sessions = max_sessions
        self.dropped = 0  # stale requests dropped, for tests and the curious

    def _slot(self, session: str) -> _Slot:
        with self._guard:
            slot = self._slots.get(session)
            if slot is None:
                slot = self._slots[session] = _Slot()
                while len(self._slots) > self.max_sessions:
                    self._slots.popitem(last=False)
            self._slots.move_to_end(session)
            return slot

    def run(self, session: str | None, seq, view, compute, stale):
        """compute(view) -> (outputs, the view they leave on screen); returns the outputs, or
        `stale()` without computing when a newer request of this session has been shown. `seq`
        None (a call without the page's js) never counts as stale."""
        if session is None:
            return compute(view)[0]
        slot = self._slot(session)
        with slot.lock:
            number = None if seq is None else int(seq)
            if number is not None and number < slot.shown:
                self.dropped += 1
                return stale()
            out, slot.view = compute(slot.view if slot.view is not None else view)
            if number is not None:
                slot.shown = number
            return out

    def forget(self, session: str | None) -> None:
        """The page closed: its slot goes."""
        with self._guard:
            self._slots.pop(session, None)
