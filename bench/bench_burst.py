"""make bench-burst: the last minutes of a contest on the demo install. Prints numbers; asserts
nothing (these machines are noisy). Needs `make demo` (the target runs it).

BENCH_BURST Evaluations (default 1,000) of examples/problems/sum/solutions/accepted.py on its 4
tests are created at once (BENCH_CREATORS kubectl processes side by side); then, until every one
is final: how long after its creation each had a phase (admission keeping pace: from the
Evaluation's own creationTimestamp to the first time its status or its Events record, both to the
second, not from the bench's polls, which take seconds each under the load), how many were
Queued at most, judged per second, the verdicts (every one should be Accepted: none Failed for waiting), the
operator replicas' restarts, and the active replica's resident memory. BENCH_BURST_UNTIL=phase
stops once every one has a phase (admission alone, a few minutes instead of ~25)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import kubectl  # noqa: E402
from bench_operator import NS, RELEASE_NS, evaluation, operator_rss_mb, upload  # noqa: E402

N = int(os.environ.get("BENCH_BURST", "1000"))
CREATORS = int(os.environ.get("BENCH_CREATORS", "4"))
FINAL = {"Succeeded", "Failed", "Canceled"}
UNTIL_PHASE = os.environ.get("BENCH_BURST_UNTIL", "final") == "phase"
COLUMNS = "N:.metadata.name,C:.metadata.creationTimestamp,P:.status.phase,V:.status.verdict"


def restarts(kube: kubectl.Kube) -> int:
    pods = kube.json("-n", RELEASE_NS, "get", "pods", "-l", "app.kubernetes.io/name=gavel-operator")["items"]
    return sum(cs.get("restartCount", 0) for p in pods for cs in (p.get("status") or {}).get("containerStatuses") or [])


def snapshot(kube: kubectl.Kube) -> list[tuple[str, str, str, str]]:
    out = kube("-n", NS, "get", "evaluations", "-o", f"custom-columns={COLUMNS}", "--no-headers", timeout=120)
    return [tuple(line.split()) for line in out.splitlines() if line.strip()]


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def first_status_time(status: dict) -> float | None:
    """When admission first wrote a phase: the earliest time the status records (queuedAt, startedAt,
    finishedAt, any condition's lastTransitionTime; with_condition keeps a condition's first time)."""
    times = [status.get(k) for k in ("queuedAt", "startedAt", "finishedAt")]
    times += [c.get("lastTransitionTime") for c in status.get("conditions") or []]
    return min((stamp(t) for t in times if t), default=None)


def main() -> None:
    kube = kubectl.from_environment()
    kube("delete", "namespace", NS, "--wait=true", "--timeout=300s", check=False, timeout=330)
    kube("create", "namespace", NS)
    upload(kube)
    before = restarts(kube)
    docs = [evaluation(f"burst-{i:04d}") for i in range(N)]
    chunks = [docs[i::CREATORS] for i in range(CREATORS)]
    print(f"[bench] creating {N} Evaluations with {CREATORS} kubectl processes", flush=True)
    start = time.time()
    procs = [subprocess.Popen([kube.kubectl, "--kubeconfig", kube.kubeconfig, "-n", NS, "create", "-f", "-"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True) for _ in chunks]
    for proc, chunk in zip(procs, chunks):
        proc.stdin.write("\n---\n".join(json.dumps(d) for d in chunk))
        proc.stdin.close()
    created_at: dict[str, float] = {}
    most_queued, rss, last_print = 0, [], 0.0
    while True:
        now = time.time()
        rows = snapshot(kube)
        phases = Counter()
        for row in rows:
            name, created, phase = row[0], row[1], row[2]
            created_at.setdefault(name, stamp(created))
            phases[phase] += 1
        most_queued = max(most_queued, phases["Queued"])
        if now - last_print > 10:
            last_print = now
            if (m := operator_rss_mb(kube)) is not None:
                rss.append(m)
            print(f"  {now - start:6.0f} s  created {len(rows)}  " +
                  "  ".join(f"{p} {n}" for p, n in sorted(phases.items())), flush=True)
        if len(rows) == N and (phases["<none>"] == 0 if UNTIL_PHASE else sum(phases[p] for p in FINAL) == N):
            break
        if now - start > 7200:
            raise SystemExit("not all final in 2 hours")
        time.sleep(2)
    total = time.time() - start
    for proc in procs:
        proc.wait()
    items = kube.json("-n", NS, "get", "evaluations")["items"]
    verdicts = Counter((i["status"].get("phase"), i["status"].get("verdict")) for i in items)
    failed = [f"{i['metadata']['name']}: {i['status'].get('message', '')[:120]}" for i in items
              if i["status"].get("phase") not in ("Succeeded", *(("Queued", "Pending", "Running") if UNTIL_PHASE else ()))]
    creation = max(created_at.values()) - min(created_at.values())
    # a status keeps the first time of a phase only while it lasts: one started at once (Pending,
    # JobCreated) and judged since shows its Running and final times; its JobCreated Event says when
    said: dict[str, float] = {}
    for e in kube.json("-n", NS, "get", "events", "--field-selector", "involvedObject.kind=Evaluation")["items"]:
        times = [stamp(t) for t in (e.get("firstTimestamp"), e.get("eventTime"),
                                    e["metadata"].get("creationTimestamp")) if t]
        uid = e["involvedObject"].get("uid", "")
        if times:
            said[uid] = min(said.get(uid, times[0]), *times)
    def admitted_at(item: dict) -> float | None:
        times = (first_status_time(item.get("status") or {}), said.get(item["metadata"]["uid"]))
        return min((t for t in times if t is not None), default=None)
    admitted = [(admitted_at(i), stamp(i["metadata"]["creationTimestamp"])) for i in items]
    slowest = sorted(((a - c, c, i) for (a, c), i in zip(admitted, items) if a is not None), key=lambda x: -x[0])[:5]
    lags = sorted(a - c for a, c in admitted if a is not None)
    # admission's pace: Evaluations with a phase against those created, second by second
    first = min(c for _, c in admitted)
    behind = max(sum(1 for _, c in admitted if c <= t) - sum(1 for a, _ in admitted if a is not None and a <= t)
                 for t in range(int(first), int(max(a or 0 for a, _ in admitted)) + 1))
    print()
    print(f"Evaluations                          {N} created at once ({creation:.0f} s to create them all)")
    print(f"creation -> a phase (status times)   median {statistics.median(lags):.0f} s, "
          f"p99 {lags[int(0.99 * (len(lags) - 1))]:.0f} s, max {lags[-1]:.0f} s (to the second)")
    print(f"most created without a phase         {behind} (any second)")
    print("slowest to a phase                   " + "; ".join(
        f"{i['metadata']['name']} created +{c - first:.0f} s: {lag:.0f} s, "
        f"{i['status'].get('phase')} ({', '.join(x.get('reason', '') for x in i['status'].get('conditions') or [])})"
        for lag, c, i in slowest))
    print(f"most Queued at once                  {most_queued}")
    if not UNTIL_PHASE:
        finished = sorted(stamp(i["status"]["finishedAt"]) for i in items)
        print(f"all final after                      {total:.0f} s; judged/s "
              f"{N / max(1.0, finished[-1] - finished[0]):.2f} (first to last verdict)")
    print(f"phase, verdict                       " + ", ".join(f"{p}/{v}: {n}" for (p, v), n in verdicts.most_common()))
    print(f"operator restarts during the burst   {restarts(kube) - before}")
    if rss:
        print(f"active operator resident memory      {rss[0]:.0f} MiB at the start, max {max(rss):.0f} MiB")
    for line in failed[:10]:
        print(f"  not judged: {line}")
    kube("delete", "namespace", NS, "--wait=false", check=False)


if __name__ == "__main__":
    main()
