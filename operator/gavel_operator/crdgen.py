"""Generates crds/*.yaml from the typed models in resources.py (`make crds`).

Kubernetes wants a structural OpenAPI v3 schema: every $ref inlined, no anyOf for optional
fields, a type on every node. pydantic's JSON Schema is turned into that here; CEL rules and
printer columns come from resources.py too."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

from .resources import (
    CONTEST_COLUMNS, CONTEST_RULES, EVALUATION_COLUMNS, EVALUATION_RULES, GROUP, LANGUAGE_COLUMNS, PROBLEM_COLUMNS,
    VERSION, ContestSpec, ContestStatus, EvaluationSpec, EvaluationStatus, LanguageSpec, ProblemSpec, ProblemStatus,
)

KEEP = {"type", "description", "properties", "required", "items", "enum", "default", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems", "maxItems",
        "additionalProperties", "format"}


def structural(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline $refs, collapse Optional (anyOf X|null) to X, keep only what Kubernetes accepts."""
    if "$ref" in schema:
        target = copy.deepcopy(defs[schema["$ref"].split("/")[-1]])
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return structural(merged, defs)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot express anyOf {schema['anyOf']} structurally")
        merged = {**options[0], **{k: v for k, v in schema.items() if k != "anyOf"}}
        if merged.get("default", 0) is None:
            del merged["default"]
        return structural(merged, defs)
    if "allOf" in schema and len(schema["allOf"]) == 1:
        merged = {**schema["allOf"][0], **{k: v for k, v in schema.items() if k != "allOf"}}
        return structural(merged, defs)
    out = {k: v for k, v in schema.items() if k in KEEP}
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if bound in out and not isinstance(out[bound], bool):  # JSON Schema 2020 -> OpenAPI v3 (draft 4)
            out[limit], out[bound] = out[bound], True
    if "description" in out:  # docstrings wrap; kubectl explain re-wraps
        out["description"] = " ".join(out["description"].split())
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if "properties" in out:
        out["type"] = "object"
        out["properties"] = {name: structural(sub, defs) for name, sub in out["properties"].items()}
    if "items" in out:
        out["items"] = structural(out["items"], defs)
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = structural(out["additionalProperties"], defs)
    elif out.get("additionalProperties") is False:
        del out["additionalProperties"]  # structural schemas prune unknown fields anyway
    if "default" in out and isinstance(out["default"], dict) and not out["default"]:
        del out["default"]
    return out


def model_schema(model) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}))


def _at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    node = schema
    for part in path.split("."):
        node = node["properties"][part]
    return node


def evaluation_crd() -> dict[str, Any]:
    spec = model_schema(EvaluationSpec)
    status = model_schema(EvaluationStatus)
    status["x-kubernetes-preserve-unknown-fields"] = True  # kopf keeps its own progress notes here
    spec["properties"]["tests"]["x-kubernetes-list-type"] = "map"
    spec["properties"]["tests"]["x-kubernetes-list-map-keys"] = ["name"]
    schema = {
        "type": "object",
        "description": "A submission judged against test cases by Gavel: one isolated Job of the runner "
                       "image compiles it, runs every test under limits and reports a verdict here.",
        "required": ["spec"],
        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                       "metadata": {"type": "object"}, "spec": spec, "status": status},
    }
    for path, rules in EVALUATION_RULES.items():
        _at(schema, path)["x-kubernetes-validations"] = rules
    return _crd("Evaluation", "evaluations", ["eval", "evals"], "Namespaced", schema, EVALUATION_COLUMNS)


def language_crd() -> dict[str, Any]:
    spec = model_schema(LanguageSpec)
    schema = {
        "type": "object",
        "description": "A language this cluster judges, with its versions: each names the runner image "
                       "and the compile and run commands. `kubectl get languages` lists what is supported.",
        "required": ["spec"],
        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                       "metadata": {"type": "object"}, "spec": spec,
                       "status": {"type": "object", "properties": {
                           "versions": {"type": "string"}, "defaultVersion": {"type": "string"},
                           "images": {"type": "string"}},
                           "x-kubernetes-preserve-unknown-fields": True}},
    }
    schema["properties"]["spec"]["properties"]["versions"]["x-kubernetes-list-type"] = "map"
    schema["properties"]["spec"]["properties"]["versions"]["x-kubernetes-list-map-keys"] = ["version"]
    schema["properties"]["spec"]["properties"]["versions"]["x-kubernetes-validations"] = [
        {"rule": "self.filter(v, has(v.default) && v.default).size() <= 1",
         "message": "at most one version may be the default"}]
    return _crd("Language", "languages", ["lang"], "Cluster", schema, LANGUAGE_COLUMNS)


def problem_crd() -> dict[str, Any]:
    status = model_schema(ProblemStatus)
    status["x-kubernetes-preserve-unknown-fields"] = True  # kopf's progress notes
    schema = {
        "type": "object",
        "description": "A problem in storage (problem.yaml and its tests, checker, groups): Evaluations name it in "
                       "spec.problem instead of listing every test. The operator checks it and reports it here.",
        "required": ["spec"],
        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                       "metadata": {"type": "object"}, "spec": model_schema(ProblemSpec), "status": status},
    }
    return _crd("Problem", "problems", ["prob"], "Namespaced", schema, PROBLEM_COLUMNS)


def contest_crd() -> dict[str, Any]:
    spec = model_schema(ContestSpec)
    status = model_schema(ContestStatus)
    status["x-kubernetes-preserve-unknown-fields"] = True  # kopf's progress notes
    # the API server refuses a repeated id itself (a CEL rule over 10,000 items would cost too much)
    spec["properties"]["participants"]["x-kubernetes-list-type"] = "map"
    spec["properties"]["participants"]["x-kubernetes-list-map-keys"] = ["id"]
    # an absent scoring becomes {} and then rule: icpc in the stored object, so the Rule column and
    # `kubectl get contest -o yaml` say which rule ranks (a default below an absent parent is not applied)
    spec["properties"]["scoring"]["default"] = {}
    schema = {
        "type": "object",
        "description": "A contest: Problems under labels, a time window and a scoring rule (icpc or ioi). Gavel "
                       "ranks the contest's Evaluations (labels gavel.dev/contest and gavel.dev/participant) and "
                       "writes the scoreboard, in the ICPC Contest API's shape and as an HTML page.",
        "required": ["spec"],
        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                       "metadata": {"type": "object"}, "spec": spec, "status": status},
    }
    for path, rules in CONTEST_RULES.items():
        _at(schema, path)["x-kubernetes-validations"] = rules
    return _crd("Contest", "contests", [], "Namespaced", schema, CONTEST_COLUMNS)


def _crd(kind: str, plural: str, short: list[str], scope: str, schema: dict, columns: list[dict]) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}", "labels": {"app.kubernetes.io/part-of": "gavel"}},
        "spec": {
            "group": GROUP,
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower(),
                      **({"shortNames": short} if short else {}), "categories": ["gavel"]},
            "scope": scope,
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "schema": {"openAPIV3Schema": schema},
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns,
            }],
        },
    }


def render() -> dict[str, str]:
    header = "# Generated by `make crds` from operator/gavel_operator/resources.py: do not edit.\n"
    return {
        f"{GROUP}_evaluations.yaml": header + yaml.safe_dump(evaluation_crd(), sort_keys=False, width=120),
        f"{GROUP}_languages.yaml": header + yaml.safe_dump(language_crd(), sort_keys=False, width=120),
        f"{GROUP}_problems.yaml": header + yaml.safe_dump(problem_crd(), sort_keys=False, width=120),
        f"{GROUP}_contests.yaml": header + yaml.safe_dump(contest_crd(), sort_keys=False, width=120),
    }


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "crds")
    out.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (out / name).write_text(text)
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
