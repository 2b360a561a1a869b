"""Uploads every example problem (examples/problems/NAME/: problem.yaml, tests, solutions) to the
storage named by $GAVEL_S3_* under default/problems/NAME/, where examples/problems.yaml,
examples/evaluations/ and examples/evaluation.yaml find them: default/ is the prefix the default
tenancy policy lets namespace `default` read."""

import sys
import time
from pathlib import Path

from gavel_client.client import Storage

ROOT = Path(__file__).resolve().parents[1]
storage = Storage.from_env()
# The active operator creates the bucket as it starts (storage.bundled: GAVEL_CREATE_BUCKETS); helm's
# --wait can return before it has (a standby replica is Ready first, or right after a reinstall).
for _ in range(90):
    if storage.client().bucket_exists(storage.bucket):
        break
    time.sleep(1)
else:
    sys.exit(f"bucket {storage.bucket} not created by the operator within 90 s: kubectl -n gavel-system logs "
             "deployment/gavel-operator")
for problem in sorted(p for p in (ROOT / "examples" / "problems").iterdir() if p.is_dir()):
    for path in sorted(f for f in problem.rglob("*") if f.is_file()):
        storage.put(f"default/problems/{problem.name}/{path.relative_to(problem).as_posix()}", path.read_bytes())
    print(f"uploaded {problem.name} to s3://{storage.bucket}/default/problems/{problem.name}/")
