"""make bench-scale: the operator under bursts of 1k, 5k and 10k Evaluations on simulated nodes,
side by side, in one run. Prints numbers; asserts nothing.

kwok (tests/scale/simulated.py) runs the runner pods on fake nodes: a pod is Ready as soon as
it is bound, and ends Succeeded 1-3 s later with a runner's summary as its termination message,
so what is measured is the operator (and the API server, scheduler and Job controller it drives),
never a runner. For each size, a fresh operator process (host process, as tests/operator runs it;
its own ServiceAccount, its requests counted under a FlowSchema of its own) serves a fresh
namespace; all N Evaluations are created at once (many requests in flight) and followed to their
verdicts (tests/scale/harness.py says how each number is taken).

Environment: BENCH_SCALE_SIZES (default 1000,5000,10000), BENCH_SCALE_RUNNING (the operator's
max_running, default 100), BENCH_SCALE_NODES (simulated nodes, default 50), BENCH_SCALE_TIMEOUT
(seconds per size, default 300 + 0.5 s per Evaluation; a size that does not finish is reported
with what it reached), BENCH_SCALE_PROBE (set: bench/probe/sitecustomize.py dumps the operator's live
objects, asyncio tasks and, when it is a number N > 0, tracemalloc's top sites with N frames, every
BENCH_SCALE_PROBE_SECONDS (default 20) into the bench's work directory).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "scale"))
import kubectl  # noqa: E402
import harness  # noqa: E402
import simulated  # noqa: E402
from s3server import minio_server  # noqa: E402

SIZES = [int(s) for s in os.environ.get("BENCH_SCALE_SIZES", "1000,5000,10000").split(",") if s.strip()]
CAP = int(os.environ.get("BENCH_SCALE_RUNNING", "100"))
NODES = int(os.environ.get("BENCH_SCALE_NODES", "50"))
TIMEOUT = os.environ.get("BENCH_SCALE_TIMEOUT")
PROBE = os.environ.get("BENCH_SCALE_PROBE", "")  # "0": the probe without tracemalloc; "N": tracemalloc, N frames


def say(text: str) -> None:
    print(f"[bench] {text}", flush=True)


def fmt(value, spec: str = ".1f", none: str = "-") -> str:
    return none if value is None else format(value, spec)


def table(results: list[harness.Burst]) -> str:
    head = ["", *[f"{r.n:,}" for r in results]]
    rows = []

    def row(label, fn):
        rows.append([label, *[fn(r) for r in results]])

    row("judged / created", lambda r: f"{r.judged:,} / {len(r.seen.created):,}" + (" (timed out)" if r.timed_out else ""))
    row("verdicts", lambda r: ", ".join(f"{v} {c}" for v, c in sorted(_tally(r).items())))
    row("created in (s), by this bench", lambda r: f"{r.created_s:.1f} ({len(r.seen.created) / max(r.created_s, 1e-9):.0f}/s)")
    row("admissions per second", lambda r: fmt(r.admissions_per_s()))
    row("last admitted after (s)", lambda r: fmt(r.admitted_s))
    row("judged per second", lambda r: fmt(r.judged_per_s(), ".2f"))
    row("last judged after (s)", lambda r: fmt(r.judged_s, ".0f"))
    row("most in flight at once", lambda r: f"{r.peak_inflight:,}")
    row("operator RSS idle / peak (MiB)", lambda r: f"{r.rss_idle_kib / 1024:.0f} / {r.rss_peak_kib / 1024:.0f}")
    row("operator CPU per Evaluation (ms); machine busy", lambda r: (
        f"{fmt(r.operator_cpu_s and 1000 * r.operator_cpu_s / max(len(r.seen.created), 1), '.0f')}; "
        f"{fmt(r.machine_busy and 100 * r.machine_busy, '.0f')}%"))
    row("operator memory per Evaluation in flight (kB)", lambda r: fmt(r.memory_per_inflight_kb()))
    row("API requests per Evaluation: operator", lambda r: fmt(r.api_operator / max(len(r.seen.created), 1)))
    row("API requests per Evaluation: all clients", lambda r: fmt(r.api_all / max(len(r.seen.created), 1)))
    row("etcd objects per Evaluation", lambda r: fmt(sum(r.objects.values()) / max(len(r.seen.created), 1), ".2f"))
    row("  of which Secret / Job / Pod / Event", lambda r: " / ".join(
        f"{r.objects.get(k, 0) / max(len(r.seen.created), 1):.2f}" for k in ("Secret", "Job", "Pod", "Event")))

    def slot(r, which, p):
        pairs = r.slot_latencies()[which]
        return fmt(harness.percentile(pairs, p), ".2f")

    row("runner pod ended -> next Job, p50 / p99 (s)", lambda r: f"{slot(r, 0, 50)} / {slot(r, 0, 99)}")
    row("verdict -> next Job, p50 / p99 (s)", lambda r: f"{slot(r, 1, 50)} / {slot(r, 1, 99)}")
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(x, widths)))
             for x in [head, *rows]]
    return "\n".join(lines)


def _tally(r: harness.Burst) -> dict[str, int]:
    out: dict[str, int] = {}
    for phase, verdict, _ in r.seen.verdicts.values():
        key = verdict or phase
        out[key] = out.get(key, 0) + 1
    return out


async def one_size(kube, s3, op_kubeconfig: str, work: Path, n: int) -> harness.Burst:
    namespace = f"gavel-scale-{n}"
    kube("delete", "namespace", namespace, "--ignore-not-found", "--timeout=600s", timeout=660)
    kube("create", "namespace", namespace)
    harness.upload(s3, namespace)
    probe = {}
    if PROBE:  # bench/probe/sitecustomize.py in the operator process: what holds its memory
        probe = {"PYTHONPATH": str(Path(__file__).resolve().parent / "probe"),
                 "GAVEL_PROBE_DIR": str(work / f"probe-{n}"), "GAVEL_PROBE_TRACEMALLOC": PROBE,
                 "GAVEL_PROBE_SECONDS": os.environ.get("BENCH_SCALE_PROBE_SECONDS", "20")}
        say(f"probe: {probe['GAVEL_PROBE_DIR']}")
    op = harness.Operator(op_kubeconfig, s3, work, env=probe, **harness.operator_settings(namespace, CAP)).start()
    api = harness.Api(kube.kubeconfig)
    try:
        time.sleep(3)  # idle
        timeout = float(TIMEOUT) if TIMEOUT else 300 + 0.5 * n
        say(f"{n:,} Evaluations at once into {namespace} (cap {CAP} running, {NODES} simulated nodes, "
            f"at most {timeout:.0f} s)")
        result = await harness.burst(api, kube, op, namespace, n, CAP, timeout, progress=say)
        say(f"{n:,}: {result.judged:,} judged in {fmt(result.judged_s, '.0f')} s; operator log {op.log_path}")
        return result
    finally:
        await api.close()
        op.stop()
        say(f"deleting {namespace}")
        kube("delete", "namespace", namespace, "--ignore-not-found", "--timeout=900s", check=False, timeout=960)


def main() -> None:
    kube = kubectl.from_environment()
    work = Path(tempfile.mkdtemp(prefix="gavel-bench-scale-"))
    (work / "minio").mkdir()
    results = []
    started = time.monotonic()
    with minio_server(work / "minio" / "data") as s3, harness.operator_identity(kube, work) as op_kubeconfig, \
            simulated.Kwok(kube, work / "kwok", nodes=NODES) as kwok:
        say(f"kwok {simulated.binary()} with {NODES} simulated nodes; logs in {work}")
        harness.install_crds(kube)
        kube.apply(__import__("yaml").safe_dump(harness.language()))
        try:
            for n in SIZES:
                results.append(asyncio.run(one_size(kube, s3, op_kubeconfig, work, n)))
                print(table(results), flush=True)
        finally:
            kube("delete", "language", harness.LANGUAGE, "--ignore-not-found", check=False)
            if kwok.proc.poll() is not None:
                say(f"kwok exited early:\n{kwok.log_tail()}")
    say(f"done in {(time.monotonic() - started) / 60:.1f} min (machine: {os.cpu_count()} cores)")
    print(table(results))


if __name__ == "__main__":
    main()
