"""Classes: one training run (or its result) followed by many screens, and the model it leaves
for everyone who joined. Gradio-free, so tests drive it directly.

    room = ClassRoom(models)
    cls = room.share_run(run, owner, summary)      # the teacher shares a run going on now...
    cls = room.share_model(entry, owner)           # ...or the model a finished run left
    cls = room.join(code, session)                 # a student, by code (ClassError if unknown)
    cls.record                                     # the run's RunRecord: curves, map, state
    cls.model_key                                  # in demo.models.Models, once the run ended

There is one stream per class: the run's reading thread writes its RunRecord, and every
watcher reads that (nothing trains twice, nothing is sent per watcher from the run). Codes are
random (secrets), short and unambiguous; a class and its model live `hours` hours, at most
`max_classes` at once, each with at most `max_watchers` sessions.
"""
from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from siamese import Comparator
from siamese.checkpoint import write_checkpoint

from ..models import Models
from ..scratch import scratch_folder
from ..retrain.record import RunRecord
from ..retrain.sessions import SessionModel, checkpoint_name
from ..retrain.slot import Run
from ..retrain.views import describe

log = logging.getLogger(__name__)

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a projector
CODE_LENGTH = 6  # 31^6 = 887 million codes: not found by guessing


class ClassError(ValueError):
    """An unknown or expired code, or a full server; the message says so, for people."""


def new_code(taken=()) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken:
            return code


def normalise_code(text: str | None) -> str:
    """What a person typed (spaces, lower case, a pasted link) -> the code, upper case."""
    text = (text or "").strip()
    if "class=" in text:
        text = text.split("class=", 1)[1].split("&", 1)[0]
    return "".join(c for c in text.upper() if c.isalnum())


@dataclass(eq=False)
class ClassRun:
    code: str
    owner: str  # the teacher's session
    record: RunRecord
    summary: dict  # loss, lr, seconds, ... (demo.retrain.views.summary), for labels
    created: float
    expires: float
    model_key: str | None = None  # the class model, once there is one
    path: Path | None = None  # its checkpoint file
    watchers: set = field(default_factory=set)  # sessions that joined
    _changes: int = 0  # bumped when the model arrives: a watcher's cue besides the record's

    @property
    def version(self) -> tuple[int, int]:
        """Moves whenever there is something new to show."""
        return self.record.version, self._changes

    @property
    def finished(self) -> bool:
        return self.record.finished

    def label(self) -> str:
        return f"class model {self.code} ({describe(self.summary)})"


class ClassRoom:
    """Every class on this server, by code."""

    def __init__(self, models: Models, folder: str | Path | None = None, hours: float = 3.0,
                 max_classes: int = 20, max_watchers: int = 200, clock=time.monotonic):
        self.models, self.hours = models, hours
        self.max_classes, self.max_watchers = max_classes, max_watchers
        self.folder = Path(folder or scratch_folder("siamese-classes-"))
        self._clock = clock
        self._classes: dict[str, ClassRun] = {}
        self._lock = threading.Lock()

    # -- making one ---------------------------------------------------------------------------
    def _new(self, owner: str, record: RunRecord, summary: dict) -> ClassRun:
        self.sweep()
        with self._lock:
            mine = next((c for c in self._classes.values() if c.owner == owner and c.record is record), None)
            if mine is not None:  # the same run shared twice: the same class
                return mine
            if len(self._classes) >= self.max_classes:
                raise ClassError(f"This server already hosts {self.max_classes} classes, its limit; "
                                 f"try again when one has ended.")
            now = self._clock()
            cls = ClassRun(new_code(self._classes), owner, record, dict(summary), now, now + self.hours * 3600)
            self._classes[cls.code] = cls
        log.info("class %s shared by %s", cls.code, owner[:8])
        return cls

    def share_run(self, run: Run, owner: str, summary: dict) -> ClassRun:
        """A run going on now (or just ended): everyone who joins follows it, and when it ends
        its model becomes the class model, even if the teacher's tab has closed by then."""
        cls = self._new(owner, run.record, summary)
        run.shared = True
        run.when_done(lambda r: self._keep_model(cls, r.checkpoint, r.last))
        return cls

    def share_model(self, entry: SessionModel, owner: str) -> ClassRun:
        """A finished run's model (the teacher's session model): the class sees its curves and
        gets the model at once."""
        from siamese.checkpoint import load_checkpoint

        if entry.record is None:
            raise ClassError("This model has no run to show; train one on this page and share it.")
        cls = self._new(owner, entry.record, entry.summary)
        if cls.model_key is None:
            _, ckpt = load_checkpoint(entry.path)
            self._keep_model(cls, ckpt)
        return cls

    def _keep_model(self, cls: ClassRun, checkpoint: dict | None, last=None) -> None:
        """Register the class model (a Comparator of its own, and a file to download)."""
        if checkpoint is None or (last is not None and last.step == 0):
            return  # failed, or stopped before its first step: nothing to give the class
        if self._classes.get(cls.code) is not cls:
            return  # expired meanwhile
        cmp = Comparator.from_checkpoint_dict(checkpoint)
        name = checkpoint_name(checkpoint.get("train_config") or {}, int(checkpoint.get("step", 0)))
        cls.path = write_checkpoint(self.folder / cls.code / name.replace("retrained", f"class_{cls.code}"),
                                    checkpoint)
        if last is not None:
            cls.summary.update(seconds=round(last.elapsed, 1), steps=last.step,
                               stopped=cls.record.state == "stopped")
        cls.model_key = self.models.add(cmp, label=cls.label())
        cls._changes += 1
        log.info("class %s: model ready (%s)", cls.code, cls.model_key[:8])

    # -- finding one --------------------------------------------------------------------------
    def get(self, code: str | None) -> ClassRun:
        """The class of `code` (typed or pasted, any case); ClassError if unknown or expired."""
        self.sweep()
        key = normalise_code(code)
        if not key:
            raise ClassError("Type the class code the teacher shows (6 letters and digits).")
        cls = self._classes.get(key)
        if cls is None:
            raise ClassError(f"No class {key} here: check the code, or it has ended "
                             f"(classes last {self.hours:g} h).")
        return cls

    def join(self, code: str | None, session: str) -> ClassRun:
        cls = self.get(code)
        with self._lock:
            if session not in cls.watchers and len(cls.watchers) >= self.max_watchers:
                raise ClassError(f"Class {cls.code} is full ({self.max_watchers} screens).")
            cls.watchers.add(session)
        return cls

    def of_owner(self, owner: str) -> ClassRun | None:
        """The teacher's latest class, if it is still there."""
        self.sweep()
        mine = [c for c in self._classes.values() if c.owner == owner]
        return max(mine, key=lambda c: c.created) if mine else None

    def alive(self, cls: ClassRun) -> bool:
        return self._classes.get(cls.code) is cls and self._clock() < cls.expires

    def __len__(self) -> int:
        return len(self._classes)

    # -- ending -------------------------------------------------------------------------------
    def sweep(self) -> None:
        """Drop the classes past their time, with their models and files."""
        now = self._clock()
        with self._lock:
            gone = [c for c in self._classes.values() if now >= c.expires]
            for c in gone:
                del self._classes[c.code]
        for c in gone:
            log.info("class %s expired", c.code)
            if c.model_key is not None:
                self.models.remove(c.model_key, f"class {c.code} has ended (a class lasts {self.hours:g} h)")
            shutil.rmtree(self.folder / c.code, ignore_errors=True)
