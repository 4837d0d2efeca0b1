"""Where tensors run and in which precision: device choice and bfloat16 autocast, for training,
evaluation and inference alike."""
from __future__ import annotations

import os
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch


def pick_device(name: str = "auto") -> torch.device:
    """'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N'. Raises ValueError when
    CUDA is asked for and absent, or for a name torch does not know."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for but CUDA is not available")
    try:
        return torch.device(name)
    except RuntimeError as e:
        raise ValueError(f"unknown device {name!r} ({e})") from None


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX bfloat16 tiles (Linux; elsewhere False)."""
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@dataclass(frozen=True)
class Calibration:
    """What a short measurement of this network's training step picked on this CPU."""

    amp: bool  # bf16 autocast
    threads: int  # torch CPU threads
    steps_per_s: dict  # "fp32 x2" -> training steps per second, each setting measured

    def describe(self) -> str:
        rates = ", ".join(f"{k} {v:.1f}" for k, v in self.steps_per_s.items())
        return f"{'bf16' if self.amp else 'fp32'}, {self.threads} thread(s) (steps/s at batch {CALIBRATION_BATCH}: {rates})"


CALIBRATION_BATCH = 64
_calibration: Calibration | None = None
_calibration_lock = threading.Lock()


def _steps_per_s(model, opt, x, amp: bool, seconds: float) -> float:
    """Forward, backward and step of `model` on batch `x`, for about `seconds` after a warm-up."""
    def step():
        with autocast("cpu", amp):
            loss = model.embed(x).float().pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    n, t0 = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - t0)


def calibrate(seconds: float = 0.25) -> Calibration:
    """Measure fp32 and bf16 autocast, at every core and at one, on this network's training step
    (about 1.5 s in all), once per process; later calls return the first answer.

    Why measure: whether bf16 pays depends on the CPU, not just its flags (without AMX, bf16
    convolutions were slower than fp32 on an earlier Xeon, 1.6x faster on this AMD Zen 4).
    bf16 must win by 5 % to be picked, and one thread by 5 % to beat more, so noise keeps the
    exact, all-core default."""
    global _calibration
    with _calibration_lock:
        if _calibration is not None:
            return _calibration
        from .model import SiameseNet

        before = torch.get_num_threads()
        rates, best = {}, (False, before, 0.0)
        # The first call can come from inside inference (Comparator.embed, under inference_mode:
        # a process's first large batch); a training step needs autograd back on.
        with torch.inference_mode(False), torch.enable_grad():
            torch.manual_seed(0)
            model = SiameseNet().to(memory_format=torch.channels_last).train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            x = torch.rand(CALIBRATION_BATCH, 1, 28, 28).contiguous(memory_format=torch.channels_last)
            try:
                for threads in sorted({before, 1}, reverse=True):
                    torch.set_num_threads(threads)
                    for amp in (False, True):
                        r = rates[f"{'bf16' if amp else 'fp32'} x{threads}"] = _steps_per_s(model, opt, x, amp, seconds)
                        amp_ok = not amp or r > 1.05 * rates[f"fp32 x{threads}"]
                        if amp_ok and r > best[2] * (1.05 if threads < best[1] else 1.0):
                            best = (amp, threads, r)
            finally:
                torch.set_num_threads(before)
        _calibration = Calibration(best[0], best[1], {k: round(v, 1) for k, v in rates.items()})
        return _calibration


def use_amp(setting: str, device: torch.device) -> bool:
    """bfloat16 autocast: always worth it on CUDA; on a CPU, `auto` follows `calibrate()` (a
    measurement of this network here, not a CPU flag). setting: auto | on | off."""
    if setting in ("on", "off"):
        return setting == "on"
    return device.type == "cuda" or (device.type == "cpu" and calibrate().amp)


def settled_amp(setting: str, device: str | torch.device) -> str:
    """`auto` on a CPU -> "on" or "off" from this process's `calibrate()`; anything else as is.
    For a run trained in a child process (the page's fork server must not calibrate: a child
    forked after torch's OpenMP threads start can hang), and so that a run's own seconds are not
    spent measuring again."""
    name = str(device)
    if setting != "auto" or (name != "cpu" and (name != "auto" or torch.cuda.is_available())):
        return setting
    return "on" if calibrate().amp else "off"


def autocast(device, enabled: bool):
    """bfloat16 autocast on `device` when enabled, else a context that does nothing."""
    if not enabled:
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


class CoreShare:
    """How many cores the rest of the machine leaves to this process, measured between calls
    from /proc (Linux; elsewhere it always answers the maximum).

    Why: torch's OpenMP threads wait for each other many times per step, so a thread that
    another busy process keeps off its core stalls them all. Measured on a 2-core machine with
    one other process busy: 2 threads 240-400 pairs/s, 1 thread 2,700 pairs/s; alone, 2 threads
    do twice what 1 does. So a job that shares its machine (with a web server, say) should use
    the cores that are idle, and only those.
    """

    def __init__(self, max_threads: int):
        self.max_threads = max(1, int(max_threads))
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float] | None:
        """(now, CPU ticks the whole machine was busy, ticks this process was busy), or None."""
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
            ticks = [float(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
            own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
            return time.monotonic(), sum(ticks) - ticks[3] - ticks[4], float(own[11]) + float(own[12])
        except (OSError, IndexError, ValueError):
            return None

    def others(self) -> float | None:
        """Cores the other processes kept busy since the last call (None: unknown)."""
        now, last = self._read(), self._last
        self._last = now
        if now is None or last is None or now[0] <= last[0]:
            return None
        busy = (now[1] - last[1]) - (now[2] - last[2])  # ticks not ours
        return max(0.0, busy / self._tick / (now[0] - last[0]))

    def threads(self) -> int:
        """Threads to use until the next call: the cores others left idle since the last call
        (a core at most a quarter busy still counts as free), at least 1."""
        others = self.others()
        if others is None:
            return self.max_threads
        return max(1, min(self.max_threads, int(self.max_threads - others + 0.75)))
