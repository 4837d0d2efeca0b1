"""A stand-in for the `spaces` package on a ZeroGPU Space, modelled on spaces 0.51.3
(spaces/zero/wrappers.py, client.py, config.py) minus the Hub's scheduler, for generator
functions (what demo.retrain.runners decorates):

- Calling the decorated function returns a generator; nothing happens before its first next().
- At the first next(), in the caller's process and before any fork: the duration (a number, a
  timedelta, or a function of the call's arguments; 60 s if None) times the hardware's factor
  (`duration_factor`, 1.5; not for size="xlarge") is what the visitor's quota is asked for.
  Refusals are gr.Errors titled as spaces titles them: "ZeroGPU illegal duration" (above
  `max_duration`), "ZeroGPU queue timeout" (`gpu_free` False), "ZeroGPU quota exceeded" (above
  `quota_left`, which each granted call then spends).
- Then a *daemonic* process forked from the caller (so it may not start multiprocessing
  children) receives the arguments through a pickling queue and runs the task in a thread of
  its own; every item crosses pickled. Closing the generator early sets a stop event, which the
  worker checks after each item (it then closes the task's generator).
- An exception in the task reaches the caller as gr.Error(<its class name>, title="ZeroGPU
  worker error"), unless it is a gr.Error, which comes back as it is; a worker that dies
  without a word is gr.Error("GPU task aborted", title="ZeroGPU worker error").

`install(monkeypatch)` puts it in sys.modules as `spaces`, `spaces.zero` and
`spaces.zero.config` and returns the module; its attributes above are the knobs, and
`requested` (seconds asked for, after the factor, one per call) and `forks` what happened.
"""
from __future__ import annotations

import multiprocessing
import sys
import threading
import time
import types
from datetime import timedelta

import gradio as gr

CTX = multiprocessing.get_context("fork")
RESULT_TIMEOUT = 180  # seconds a test waits for the worker's next word


def _error(title: str, message: str) -> gr.Error:
    return gr.Error(message, title=title, print_exception=False)


def _worker(state, task, arg_q, res_q, stop) -> None:
    """The forked worker: one call's arguments in, the task run in a thread, results out."""
    state.forked = True  # this process's copy: a nested call runs the task directly, as spaces does
    args, kwargs = arg_q.get()

    def iterate():
        try:
            gen = task(*args, **kwargs)
            for item in gen:
                if stop.is_set():
                    gen.close()
                    break
                res_q.put(("ok", item))
        except Exception as e:
            res_q.put(("error", type(e).__name__, e if isinstance(e, gr.Error) else None))

    thread = threading.Thread(target=iterate, name="zerogpu-task")
    thread.start()
    thread.join()
    res_q.put(("end",))


def _next_result(res_q, proc):
    """The worker's next message; ("aborted",) if it died without one."""
    deadline = time.monotonic() + RESULT_TIMEOUT
    while res_q.empty():
        if not proc.is_alive() and res_q.empty():
            return ("aborted",)
        if time.monotonic() > deadline:
            raise TimeoutError("the fake ZeroGPU worker said nothing for too long")
        time.sleep(0.02)
    return res_q.get()


def _seconds(duration, args, kwargs) -> float:
    if callable(duration):
        duration = duration(*args, **kwargs)
    if duration is None:
        return 60.0  # spaces' DEFAULT_SCHEDULE_DURATION
    return float(duration.seconds if isinstance(duration, timedelta) else duration)


def make_module() -> types.ModuleType:
    mod = types.ModuleType("spaces")
    mod.duration_factor = 1.5
    mod.default_size = None  # what spaces.zero.default_gpu_size() answers ("xlarge" for big models)
    mod.quota_left = 10 ** 6
    mod.max_duration = None
    mod.gpu_free = True
    mod.requested, mod.forks, mod.auto_wrap_disabled = [], 0, 0
    mod.forked = False

    def GPU(task=None, *, duration=None, size=None):
        if task is None:
            return lambda fn: GPU(fn, duration=duration, size=size)

        def gradio_handler(*args, **kwargs):
            if mod.forked:  # already in a worker
                yield from task(*args, **kwargs)
                return
            factor = 1.0 if (size or mod.default_size) == "xlarge" else mod.duration_factor
            requested = round(int(_seconds(duration, args, kwargs)) * factor)
            mod.requested.append(requested)
            if mod.max_duration is not None and requested > mod.max_duration:
                raise _error("ZeroGPU illegal duration",
                             f"The requested GPU duration ({requested}s) is larger than the maximum allowed")
            if not mod.gpu_free:
                raise _error("ZeroGPU queue timeout", "No GPU was available after 60s. Retry later")
            if requested > mod.quota_left:
                raise _error("ZeroGPU quota exceeded", f"You have exceeded your ZeroGPU quota ({requested}s "
                                                       f"requested vs. {mod.quota_left}s left). Try again in 23:59:00.")
            mod.quota_left -= requested
            arg_q, res_q, stop = CTX.SimpleQueue(), CTX.SimpleQueue(), CTX.Event()
            proc = CTX.Process(target=_worker, args=(mod, task, arg_q, res_q, stop), daemon=True,
                               name="fake-zerogpu-worker")
            proc.start()
            mod.forks += 1
            arg_q.put((args, kwargs))
            try:
                while True:
                    res = _next_result(res_q, proc)
                    if res[0] == "ok":
                        try:
                            yield res[1]
                        except GeneratorExit:
                            stop.set()
                            raise
                        continue
                    if res[0] == "error":
                        _, error_cls, gradio_error = res
                        if gradio_error is not None:
                            raise gradio_error
                        raise _error("ZeroGPU worker error", error_cls)
                    if res[0] == "aborted":
                        raise _error("ZeroGPU worker error", "GPU task aborted")
                    return  # "end"
            finally:
                proc.join(60)
                if proc.is_alive():
                    proc.kill()
                    proc.join(5)

        return gradio_handler

    def disable_gradio_auto_wrap():
        mod.auto_wrap_disabled += 1

    mod.GPU = GPU
    mod.disable_gradio_auto_wrap = disable_gradio_auto_wrap
    zero = types.ModuleType("spaces.zero")
    zero.default_gpu_size = lambda: mod.default_size
    config = types.ModuleType("spaces.zero.config")
    config.get_config = lambda: {"model": "fake", "xlarge_threshold": None, "duration_factor": mod.duration_factor}
    zero.config = config
    mod.zero = zero
    return mod


def install(monkeypatch) -> types.ModuleType:
    mod = make_module()
    monkeypatch.setitem(sys.modules, "spaces", mod)
    monkeypatch.setitem(sys.modules, "spaces.zero", mod.zero)
    monkeypatch.setitem(sys.modules, "spaces.zero.config", mod.zero.config)
    return mod
