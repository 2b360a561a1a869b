"""Status of an Evaluation: conditions, and the final status from a runner's result."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from gavel_contract import VERDICT_CODES, Result, Verdict

from .objectstore import ObjectStore, uri
from .resources import Phase

COMPILE_EXCERPT = 2000
MESSAGE_MAX = 1000


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def age_seconds(stamp: str, at: datetime | None = None) -> float:
    """Seconds from a Kubernetes timestamp (creationTimestamp, finishedAt) to `at` (default: now)."""
    return ((at or datetime.now(timezone.utc)) - datetime.fromisoformat(stamp)).total_seconds()


def awaiting_admission(status: dict) -> bool:
    """No phase yet, or Pending without a Job (admission retrying while storage was down)."""
    return not status.get("jobName") and status.get("phase") in (None, Phase.PENDING.value)


def condition(type_: str, ok: bool, reason: str, message: str = "") -> dict:
    return {"type": type_, "status": "True" if ok else "False", "reason": reason,
            "message": message[:MESSAGE_MAX], "lastTransitionTime": now()}


def with_condition(conditions: list[dict] | None, new: dict) -> list[dict]:
    """Replace the condition of the same type; keep its transition time if the status did not change."""
    out = []
    for c in conditions or []:
        if c.get("type") == new["type"]:
            if c.get("status") == new["status"]:
                new = {**new, "lastTransitionTime": c.get("lastTransitionTime", new["lastTransitionTime"])}
            continue
        out.append(c)
    return out + [new]


def judged(result: Result, *, store: ObjectStore, bucket: str, prefix: str, conditions: list[dict] | None,
           logs_saved: bool) -> dict:
    """The status of a judged Evaluation. InternalError means the judge (not the submission)
    failed: phase Failed; every other verdict is a judgement: phase Succeeded."""
    failed = result.verdict == Verdict.INTERNAL_ERROR
    phase = Phase.FAILED if failed else Phase.SUCCEEDED
    total = len(result.tests)
    keys = {"result": "result.json", "compileOutput": "compile.txt"}
    if logs_saved:
        keys["logs"] = "runner.log"
    locations = {field: uri(bucket, f"{prefix}/{name}") for field, name in keys.items()}
    locations["outputs"] = uri(bucket, f"{prefix}/")
    links = {field: store.link(bucket, f"{prefix}/{name}") for field, name in keys.items()}
    if any(links.values()):
        locations["links"] = {k: v for k, v in links.items() if v}
    tests = [{
        "name": t.name, "verdict": t.verdict.value, "cpuTimeMs": t.cpu_time_ms, "wallTimeMs": t.wall_time_ms,
        "memoryKb": t.memory_kb, **({"exitCode": t.exit_code} if t.exit_code is not None else {}),
        **({"signal": t.signal} if t.signal else {}), **({"message": t.message[:300]} if t.message else {}),
        **({"points": t.points} if t.points is not None else {}), **({"score": t.score} if t.score is not None else {}),
    } for t in result.tests]
    conds = with_condition(conditions, condition("Complete", not failed, result.verdict.value, result.message))
    conds = with_condition(conds, condition("Running", False, "Finished"))
    return {
        "phase": phase.value, "verdict": result.verdict.value, "message": result.message[:MESSAGE_MAX],
        "passed": f"{result.passed}/{total}", "tests": tests,
        **({"score": result.score, "maxScore": result.max_score} if result.score is not None else {}),
        **({"groups": [g.model_dump(by_alias=True) for g in result.groups]} if result.groups else {}),
        "compileOutput": result.compile_output[:COMPILE_EXCERPT] or None,
        "locations": locations, "finishedAt": now(), "conditions": conds,
    }


def result_from_summary(message: str) -> Result | None:
    """The termination message's compact summary, when the result object is not there."""
    try:
        doc = json.loads(message)
        codes = {c: v for v, c in VERDICT_CODES.items()}
        tests = [{"name": str(i + 1), "verdict": codes[c]} for i, c in enumerate(doc.get("tests", ""))]
        return Result.model_validate({"verdict": doc["verdict"], "message": doc.get("message", ""), "tests": tests,
                                      "score": doc.get("score"), "maxScore": doc.get("maxScore")})
    except (ValueError, KeyError, TypeError):
        return None
