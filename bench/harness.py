"""Whole-process timing: commands run as fresh processes, measured by the kernel's accounting of each run.

Each command runs ``warmup`` times uncounted, then ``runs`` times counted; with two commands they alternate
(A B A B ...) so that a drift in the machine's speed hits both, and the ratio A/B is taken pair by pair.
A run's figures: wall seconds (monotonic clock around the process), and user and system CPU seconds and peak
resident memory as GNU time reports them (the kernel's ``wait4`` accounting). Medians are what is quoted.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

FIGURES = ("wall_s", "user_s", "sys_s", "max_rss_mib")
TIME = "/usr/bin/time"  # GNU time: the kernel's accounting of the process it starts


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
    observe: Callable[[], float] | None = None,
) -> Comparison:
    """Run ``a`` (and ``b``, alternating) ``warmup`` + ``runs`` times; the counted samples of each.

    ``observe`` (seconds of CPU another process has used, e.g. the emulator's) is read around every run:
    its increase is the sample's ``other_cpu_s``.
    """
    first, second = Runs(a[0], list(a[1])), (Runs(b[0], list(b[1])) if b else None)
    for index in range(warmup + runs):
        for target in (first, second):
            if target is None:
                continue
            before = observe() if observe else 0.0
            sample, output = _timed(target.argv, env, cwd, timeout)
            if observe:
                sample["other_cpu_s"] = observe() - before
            if index >= warmup:
                target.samples.append(sample)
                lines = [line for line in output.splitlines() if line.strip()]
                target.outputs.append(lines[-1] if lines else "")
    return Comparison(first, second)


def _timed(argv: Sequence[str], env: Mapping[str, str], cwd: str, timeout: float) -> tuple[dict[str, float], str]:
    """One run of ``argv``: its wall time, and the CPU and peak memory GNU time reports for it.

    The command is started by ``/usr/bin/time`` (a small process) rather than forked from this one: Linux
    counts the memory a process held before ``exec`` in its peak RSS, so a child forked from this large
    process would report this process's size.
    """
    with tempfile.NamedTemporaryFile(mode="r", suffix=".time") as figures:
        command = [TIME, "-o", figures.name, "-f", "%U %S %M", *argv]
        started = time.monotonic()
        try:
            completed = subprocess.run(
                command, env=dict(env), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise CommandFailed(f"{' '.join(argv)} ran past {timeout:.0f} s") from None
        wall = time.monotonic() - started
        output = completed.stdout.decode(errors="replace")
        if completed.returncode != 0:
            raise CommandFailed(
                f"{' '.join(argv)} exited with {completed.returncode} after {wall:.0f} s:\n{output[-4000:]}"
            )
        user, system, max_rss_kib = figures.read().split()[-3:]
    sample = {"wall_s": wall, "user_s": float(user), "sys_s": float(system), "max_rss_mib": int(max_rss_kib) / 1024}
    return sample, output
