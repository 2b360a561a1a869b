"""Verdict rules: a measurement and the limits it ran under -> the verdict of one run.

Measured, never guessed: TimeLimitExceeded when CPU time passed the limit (or the wall
clock passed the wall limit, for a program that sleeps or blocks; time it spent waiting for a
CPU on a crowded node is not counted: sandbox.c), MemoryLimitExceeded
when the peak resident set passed the limit, OutputLimitExceeded when a file grew past
its cap. The checker decides only for a program that ran cleanly within all of them."""

from __future__ import annotations

import signal as signals

from gavel_contract import Limits, TestVerdict

from .sandbox import Measurement, SandboxError


def signal_name(number: int) -> str:
    try:
        return signals.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Starved(SandboxError):
    """A run waited for a CPU so long that it could not be judged: the node's fault, not a verdict
    (the judgement ends as an InternalError, its Evaluation Failed)."""


def classify(m: Measurement, limits: Limits, output_bytes: int) -> tuple[TestVerdict | None, str]:
    """The verdict the limits decide, or None when the output must be checked."""
    if m.killed == "cpu" or m.cpu_ms > limits.time_ms or m.signal == signals.SIGXCPU:
        return TestVerdict.TIME_LIMIT_EXCEEDED, f"CPU time {m.cpu_ms} ms exceeds the limit of {limits.time_ms} ms"
    if m.killed == "wall" or m.wall_ms - m.waited_ms > limits.wall_limit_ms:
        waited = f", not counting {m.waited_ms} ms waiting for a CPU" if m.waited_ms else ""
        return TestVerdict.TIME_LIMIT_EXCEEDED, (
            f"wall time {m.wall_ms - m.waited_ms} ms exceeds the limit of {limits.wall_limit_ms} ms "
            f"(CPU time {m.cpu_ms} ms: sleeping or blocked{waited})"
        )
    if m.killed == "starved":
        raise Starved(f"the program waited {m.waited_ms} ms of {m.wall_ms} ms for a CPU: the node is too crowded "
                      f"to judge it (CPU time {m.cpu_ms} ms)")
    if m.killed == "processes":  # gVisor only: RLIMIT_NPROC is watched there, not enforced (docs/gvisor.md)
        return TestVerdict.RUNTIME_ERROR, "killed: more processes and threads at once than the language allows"
    if m.killed == "memory" or m.rss_kb > limits.memory_kb:
        return TestVerdict.MEMORY_LIMIT_EXCEEDED, f"peak memory {m.rss_kb} kB exceeds the limit of {limits.memory_kb} kB"
    if m.signal == signals.SIGXFSZ or output_bytes > limits.output_kb * 1024:
        return TestVerdict.OUTPUT_LIMIT_EXCEEDED, f"output exceeds the limit of {limits.output_kb} kB"
    if m.signal:
        return TestVerdict.RUNTIME_ERROR, f"killed by {signal_name(m.signal)}"
    if m.exit_code:
        return TestVerdict.RUNTIME_ERROR, f"exit code {m.exit_code}"
    return None, ""
