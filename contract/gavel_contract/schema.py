"""JSON Schemas of the contract, written to contract/schema/ by `make schema`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .models import Language, Progress, Result, Task, TaskRef
from .problem import Problem


def schemas() -> dict[str, dict]:
    return {
        "task.schema.json": Task.model_json_schema(by_alias=True),
        "taskref.schema.json": TaskRef.model_json_schema(by_alias=True),
        "result.schema.json": Result.model_json_schema(by_alias=True),
        "progress.schema.json": Progress.model_json_schema(by_alias=True),
        "language.schema.json": Language.model_json_schema(by_alias=True),
        "problem.schema.json": Problem.model_json_schema(by_alias=True),
    }


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas().items():
        (out / name).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
