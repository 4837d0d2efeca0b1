"""A process that retrains, compares and exits at once, with work still in flight: the page's
threads (a reference being built, a run's reader, its callbacks) must all be done with torch
before the interpreter finalises, or it aborts ("terminate called without an active exception",
status 134). tests/test_shutdown.py runs it four times.

    python -m tests.exit_after_work DATA_DIR
"""
from __future__ import annotations

import sys

from demo.compare import handlers
from demo.models import SHIPPED, Models
from demo.retrain.sessions import SessionModels
from demo.retrain.slot import TrainingSlot
from siamese import Comparator
from siamese.config import TrainConfig
from siamese.job import train_job

from .conftest import CHECKPOINT
from .helpers import pad_value


class InProcess:
    """A runner that trains in the run's own reader thread: torch busy in one more of our threads
    (the page's runners train in a child process; what this test is about is our threads)."""

    def run(self, cfg, data_dir=None, init=None, stop_file=None):
        yield from train_job(cfg, data_dir, init, stop_file)


def main(data_dir: str) -> None:
    models = Models(Comparator.from_checkpoint(CHECKPOINT), data_dir=data_dir).start()
    slot = TrainingSlot(runner=InProcess())
    sessions = SessionModels(models)
    run = slot.start(TrainConfig(max_steps=3, batch_size=32, eval_every=1e9, eval_size=100, amp="off", threads=1), "me", data_dir)
    run.when_done(lambda r: sessions.register("me", r.checkpoint))  # on the run's reader thread
    for _ in run.updates():  # reading keeps it alive
        pass
    run.join(60)
    key = sessions.get("me").key
    out = handlers.look(models, handlers.Seen(), {"key": key, "verdict": True, "sides": {
        "a": {"version": 1, **pad_value("7")}, "b": {"version": 1, **pad_value("1")}}}, "me")
    assert "distance" in out["verdict"]
    models.reference(key)  # its build starts on a lane and is still running as we leave
    print("exiting with work in flight", SHIPPED, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
