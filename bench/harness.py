"""Whole-process timing: commands run as fresh processes, measured by the kernel's accounting of each run.

Each command runs ``warmup`` times uncounted, then ``runs`` times counted; with two commands they alternate
(A B A B ...) so that a drift in the machine's speed hits both, and the ratio A/B is taken pair by pair.
A run's figures come from ``wait4``: wall seconds (monotonic clock around the process), user and system
CPU seconds, and peak resident memory of the process (``ru_maxrss``). Medians are what is quoted.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

FIGURES = ("wall_s", "user_s", "sys_s", "max_rss_mib")


@dataclass
class Runs:
    label: str
    argv: list[str]
    samples: list[dict[str, float]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)  # the last line each counted run printed

    def median(self, figure: str) -> float:
        return statistics.median(sample[figure] for sample in self.samples)

    def spread(self, figure: str) -> tuple[float, float]:
        values = [sample[figure] for sample in self.samples]
        return min(values), max(values)


@dataclass
class Comparison:
    a: Runs
    b: Runs | None

    def ratios(self, figure: str) -> list[float]:
        if self.b is None:
            return []
        return [x[figure] / y[figure] for x, y in zip(self.a.samples, self.b.samples, strict=True) if y[figure]]

    def median_ratio(self, figure: str) -> float | None:
        ratios = self.ratios(figure)
        return statistics.median(ratios) if ratios else None


class CommandFailed(RuntimeError):
    """A measured command exited with an error; the message carries its output."""


def measure(
    a: tuple[str, Sequence[str]],
    b: tuple[str, Sequence[str]] | None,
    env: Mapping[str, str],
    cwd: str,
    runs: int = 5,
    warmup: int = 1,
    timeout: float = 600.0,
) -> Comparison:
    """Run ``a`` (and ``b``, alternating) ``warmup`` + ``runs`` times; the counted samples of each."""
    first, second = Runs(a[0], list(a[1])), (Runs(b[0], list(b[1])) if b else None)
    for index in range(warmup + runs):
        for target in (first, second):
            if target is None:
                continue
            sample, output = _timed(target.argv, env, cwd, timeout)
            if index >= warmup:
                target.samples.append(sample)
                lines = [line for line in output.splitlines() if line.strip()]
                target.outputs.append(lines[-1] if lines else "")
    return Comparison(first, second)


def _timed(argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float) -> tuple[dict[str, float], str]:
    """One run of ``argv``: its wall time and the kernel's CPU and peak-memory accounting of that process."""
    read_end, write_end = os.pipe()
    started = time.monotonic()
    process = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdout=write_end, stderr=subprocess.STDOUT)
    os.close(write_end)
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    try:
        with os.fdopen(read_end, "rb") as pipe:
            output = pipe.read().decode(errors="replace")
        # Reaped here, not by Popen: wait4 returns the kernel's accounting of this one process.
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        killer.cancel()
    wall = time.monotonic() - started
    process.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise CommandFailed(f"{' '.join(argv)} exited with {code} after {wall:.0f} s:\n{output[-4000:]}")
    sample = {
        "wall_s": wall,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "max_rss_mib": usage.ru_maxrss / 1024,  # kilobytes on Linux
    }
    return sample, output
