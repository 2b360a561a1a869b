"""Tenancy: what an Evaluation in a namespace may reach, as the administrator set it.

The namespace that creates an Evaluation is not trusted on a shared cluster. Without this, its
free fields would let it read another team's hidden tests with the operator's credentials, write
into another Evaluation's results, or put hostile code on any node. Checked at admission, before
anything is presigned (so a refusal never says whether an object exists); a refusal names the rule.

Storage rules are `BUCKET/PREFIX` strings: a key is inside a rule when the bucket is the rule's and
the key starts with the prefix (end a prefix with `/`: `gavel/team` would also match `gavel/team-b/`).
`{namespace}`, `{bucket}` and `{resultsBucket}` are replaced by the namespace and the operator's
buckets. Placement lists hold allowed values; `*` allows any."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

RESULTS_MARKER = ".gavel-evaluation"  # in every results prefix: which Evaluation owns it
# The operator's own objects (stored tasks: taskdocs.py) in its results bucket: refused to every
# Evaluation and Problem whatever its policy says (no namespace is named `.gavel`).
OPERATOR_PREFIX = ".gavel/"


class Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class StorageScope(Model):
    read: list[str] = Field(default_factory=lambda: ["{bucket}/{namespace}/"],
                            description="where submissions, tests and checkers may be read")
    write: list[str] = Field(default_factory=lambda: ["{resultsBucket}/{namespace}/"],
                             description="where results may be written")
    shared_results: bool = Field(False, alias="sharedResults",
                                 description="let two Evaluations name the same results prefix")
    credentials_secret: str | None = Field(
        None, alias="credentialsSecret", min_length=1, max_length=253,
        description="a Secret in the namespace with accessKey and secretKey: the namespace's storage is "
                    "reached with these, never with the operator's own")


class AllowedPlacement(Model):
    runtime_class_names: list[str] = Field(default_factory=list, alias="runtimeClassNames")
    node_selectors: list[str] = Field(default_factory=list, alias="nodeSelectors",
                                      description="KEY=VALUE pairs spec.nodeSelector may hold (KEY=* any value)")
    tolerations: list[str] = Field(default_factory=list, description="taint keys spec.tolerations may name")
    queues: list[str] = Field(default_factory=lambda: ["default"])
    max_priority: int = Field(0, ge=-1000, le=1000, alias="maxPriority")


class ImposedPlacement(Model):
    runtime_class_name: str | None = Field(None, alias="runtimeClassName",
                                           description="used when the Evaluation names none")
    node_selector: dict[str, str] = Field(default_factory=dict, alias="nodeSelector",
                                          description="always added; the Evaluation cannot change these keys")
    tolerations: list[dict[str, Any]] = Field(default_factory=list, description="always added")


class PlacementPolicy(Model):
    allowed: AllowedPlacement = Field(default_factory=AllowedPlacement)
    imposed: ImposedPlacement = Field(default_factory=ImposedPlacement)


class TenantPolicy(Model):
    storage: StorageScope = Field(default_factory=StorageScope)
    placement: PlacementPolicy = Field(default_factory=PlacementPolicy)

    def over(self, other: "TenantPolicy | None") -> "TenantPolicy":
        """`other`'s values where it sets them, ours elsewhere (a namespace's over the default)."""
        if other is None:
            return self
        return TenantPolicy.model_validate(_merge(self.model_dump(by_alias=True),
                                                  other.model_dump(by_alias=True, exclude_unset=True)))


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            and key not in ("nodeSelector",) else value
    return out


def rules(patterns: list[str], namespace: str, bucket: str, results_bucket: str) -> list[tuple[str, str]]:
    """(bucket, prefix) of each rule, placeholders replaced."""
    out = []
    for pattern in patterns:
        text = pattern.replace("{namespace}", namespace).replace("{bucket}", bucket) \
            .replace("{resultsBucket}", results_bucket)
        rule_bucket, _, prefix = text.partition("/")
        out.append((rule_bucket, prefix))
    return out


def bad_key(key: str) -> str | None:
    """Keys whose meaning depends on who normalizes them are refused everywhere."""
    if key.startswith("/") or any(part in ("", ".", "..") for part in key.split("/")[:-1]) \
            or key.split("/")[-1] in (".", ".."):
        return f"key {key!r} has an empty, '.' or '..' path segment"
    return None


def inside(bucket: str, key: str, allowed: list[tuple[str, str]]) -> bool:
    return any(bucket == b and key.startswith(p) for b, p in allowed)


def storage_violation(policy: TenantPolicy, namespace: str, bucket: str, results_bucket: str,
                      reads: list[tuple[str, str, str]], results: tuple[str, str] | None = None) -> str | None:
    """Why these objects are out of the namespace's reach, or None. `reads`: (what, bucket, key);
    `results`: (bucket, prefix) the outputs go to."""
    scope = policy.storage
    readable = rules(scope.read, namespace, bucket, results_bucket)
    for what, b, key in reads:
        if why := bad_key(key):
            return f"{what}: {why}"
        if b == results_bucket and key.startswith(OPERATOR_PREFIX):
            return f"{what} s3://{b}/{key} is the operator's own: no namespace may read under {b}/{OPERATOR_PREFIX}"
        if not inside(b, key, readable):
            return (f"{what} s3://{b}/{key} is outside what namespace {namespace} may read "
                    f"(tenancy.storage.read: {_show(readable)})")
    if results is None:
        return None
    b, prefix = results
    if why := bad_key(prefix + "/"):
        return f"results prefix: {why}"
    if b == results_bucket and (prefix + "/").startswith(OPERATOR_PREFIX):
        return f"results prefix s3://{b}/{prefix}/ is the operator's own: no namespace may write under {b}/{OPERATOR_PREFIX}"
    writable = rules(scope.write, namespace, bucket, results_bucket)
    if not inside(b, prefix + "/", writable):
        return (f"results prefix s3://{b}/{prefix}/ is outside what namespace {namespace} may write "
                f"(tenancy.storage.write: {_show(writable)})")
    return None


def _show(allowed: list[tuple[str, str]]) -> str:
    return ", ".join(f"{b}/{p}" for b, p in allowed) or "nothing"


def _allows(allowed: list[str], value: str) -> bool:
    return "*" in allowed or value in allowed


def placement_violation(policy: TenantPolicy, namespace: str, *, runtime_class: str | None,
                        node_selector: dict[str, str] | None, toleration_keys: list[str | None],
                        queue: str, priority: int) -> str | None:
    """Why this placement is not the namespace's to ask for, or None."""
    allowed = policy.placement.allowed
    whose = f"namespace {namespace} may not"
    if runtime_class and not _allows(allowed.runtime_class_names, runtime_class):
        return (f"{whose} use runtimeClassName {runtime_class} "
                f"(tenancy.placement.allowed.runtimeClassNames: {allowed.runtime_class_names or 'none'})")
    imposed = policy.placement.imposed.node_selector
    for key, value in (node_selector or {}).items():
        if key in imposed and imposed[key] != value:
            return f"{whose} change nodeSelector {key}={imposed[key]} (tenancy.placement.imposed.nodeSelector)"
        if not (_allows(allowed.node_selectors, f"{key}={value}") or f"{key}=*" in allowed.node_selectors):
            return (f"{whose} select nodes by {key}={value} "
                    f"(tenancy.placement.allowed.nodeSelectors: {allowed.node_selectors or 'none'})")
    for key in toleration_keys:
        if not _allows(allowed.tolerations, key or "*"):  # no key: tolerates every taint
            return (f"{whose} tolerate taint {key or '(every taint)'} "
                    f"(tenancy.placement.allowed.tolerations: {allowed.tolerations or 'none'})")
    if not _allows(allowed.queues, queue):
        return f"{whose} use queue {queue} (tenancy.placement.allowed.queues: {allowed.queues or 'none'})"
    if priority > allowed.max_priority:
        return (f"priority {priority} exceeds namespace {namespace}'s maximum of {allowed.max_priority} "
                "(tenancy.placement.allowed.maxPriority)")
    return None


def pod_placement(policy: TenantPolicy, runtime_class: str | None, node_selector: dict[str, str] | None,
                  tolerations: list[dict] | None) -> dict[str, Any]:
    """The runner pod's runtimeClassName, nodeSelector and tolerations: the Evaluation's (already
    allowed) with what the policy imposes."""
    imposed = policy.placement.imposed
    out: dict[str, Any] = {}
    if runtime_class or imposed.runtime_class_name:
        out["runtimeClassName"] = runtime_class or imposed.runtime_class_name
    if selector := {**(node_selector or {}), **imposed.node_selector}:
        out["nodeSelector"] = selector
    if every := [*(tolerations or []), *imposed.tolerations]:
        out["tolerations"] = every
    return out


_NO_MATCH = re.compile(r"\d+ node\(s\) didn't match Pod's node affinity/selector")


def unschedulable_by_selector(pod: dict) -> str | None:
    """The scheduler's words when it found no node for the runner pod and some nodes lacked the labels
    it selects, else None. Whether any node at all has them is the caller's question to the API
    server: the words do not say which taints the other nodes carry, nor whether they would match."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False" and cond.get("reason") == "Unschedulable":
            message = cond.get("message") or ""
            if _NO_MATCH.search(message) and (pod.get("spec") or {}).get("nodeSelector"):
                return message
    return None


def values_schema() -> dict[str, Any]:
    """The chart's `tenancy` values as JSON Schema (charts/gavel/values.schema.json holds it; a unit
    test keeps the two equal): a typo in a policy fails `helm install`, not an admission later."""
    schema = TenantPolicy.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})

    def inline(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[1]])
            return {k: inline(v) for k, v in node.items() if k != "title"}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    policy = inline(schema)
    return {"type": "object", "additionalProperties": False,
            "properties": {"default": policy, "namespaces": {"type": "object", "additionalProperties": policy}}}
