"""Ceilings: what an Evaluation in a namespace may ask for, as the administrator set it.

The Evaluation's author is not trusted on a shared cluster: without ceilings one namespace could
ask for an hour per test, all of a node's memory, or every running slot. Checked at admission,
before anything is presigned or created; a refusal names the limit and the setting that holds it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gavel_contract import Limits


class Ceilings(BaseModel):
    """Maximums for one namespace (None: no ceiling of the operator's own)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    max_tests: int | None = Field(None, ge=1, alias="maxTests")
    max_time_ms: int | None = Field(None, ge=1, alias="maxTimeMs", description="CPU time per test")
    max_wall_ms: int | None = Field(None, ge=1, alias="maxWallMs", description="wall clock per test")
    max_memory_kb: int | None = Field(None, ge=1024, alias="maxMemoryKb")
    max_output_kb: int | None = Field(None, ge=1, alias="maxOutputKb")
    max_processes: int | None = Field(None, ge=1, alias="maxProcesses",
                                      description="limits.processes an Evaluation or Problem may ask for (the "
                                                  "Language's own value, the administrator's, is not held to it)")
    max_deadline_seconds: int | None = Field(None, ge=10, alias="maxDeadlineSeconds",
                                             description="one attempt's deadline, given (spec.deadlineSeconds) or "
                                             "derived from the limits (the runner pod's activeDeadlineSeconds "
                                             "adds to a derived one the time its tests may wait for a CPU)")
    max_running: int | None = Field(None, ge=1, alias="maxRunning", description="Evaluations with a Job at once")

    def over(self, other: "Ceilings | None") -> "Ceilings":
        """`other`'s values where it sets them, ours elsewhere (a namespace's over the default)."""
        if other is None:
            return self
        return self.model_copy(update=other.model_dump(exclude_none=True))


# What a shared cluster can live with when the administrator says nothing (the operator's default and
# the chart's `ceilings.default`, which a unit test keeps equal): the largest runner pod these allow
# asks for 1 GiB plus the sandbox space, /dev/shm and the runner's own (about 1.5 GiB; 1.7 with an
# interactor) for at most an hour, and one namespace holds at most half of the default running slots.
# A namespace that needs more is given it by `ceilings.namespaces.NS` (laid over these).
DEFAULT = Ceilings(
    maxTests=200,  # a contest problem has tens, rarely a couple of hundred
    maxTimeMs=20_000,  # CPU per test
    maxWallMs=600_000,  # wall clock per test: a sleeper holds no CPU, and the deadline caps the sum
    maxMemoryKb=1_048_576,  # 1 GiB per test
    maxOutputKb=65_536,  # 64 MiB: the contract's default output cap
    maxProcesses=256,  # threads and processes of one test (RLIMIT_NPROC); the kubelet's podPidsLimit must exceed it
    maxDeadlineSeconds=3_600,  # the Job's activeDeadlineSeconds, so also a presigned URL's lifetime
    maxRunning=10,  # of the chart's concurrency.maxRunning (20)
)


def violation(ceilings: Ceilings, namespace: str, test_count: int, limits: list[tuple[str, Limits]],
              deadline_seconds: int) -> str | None:
    """Why this Evaluation may not run in `namespace`, or None."""
    where = f"namespace {namespace}'s ceiling"
    if ceilings.max_tests is not None and test_count > ceilings.max_tests:
        return f"{test_count} tests exceed {where} of {ceilings.max_tests} (ceilings.maxTests)"
    for name, lim in limits:
        for value, cap, field in ((lim.time_ms, ceilings.max_time_ms, "maxTimeMs"),
                                  (lim.wall_limit_ms, ceilings.max_wall_ms, "maxWallMs"),
                                  (lim.memory_kb, ceilings.max_memory_kb, "maxMemoryKb"),
                                  (lim.output_kb, ceilings.max_output_kb, "maxOutputKb"),
                                  (lim.processes, ceilings.max_processes, "maxProcesses")):
            if cap is not None and value is not None and value > cap:
                label = field.removeprefix("max")
                label = label[0].lower() + label[1:]
                return f"test {name}: {label} {value} exceeds {where} of {cap} (ceilings.{field})"
    if ceilings.max_deadline_seconds is not None and deadline_seconds > ceilings.max_deadline_seconds:
        return (f"a deadline of {deadline_seconds} s exceeds {where} of {ceilings.max_deadline_seconds} s "
                "(ceilings.maxDeadlineSeconds); ask for fewer tests or shorter limits, or set deadlineSeconds")
    return None
