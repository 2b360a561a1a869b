"""Uploads examples/problems/sum/tests and examples/submissions to the storage named by
$GAVEL_S3_* at the keys examples/evaluations/*.yaml and examples/evaluation.yaml use: under
default/, the prefix the default tenancy policy lets namespace `default` read."""

from pathlib import Path

from gavel_client.client import Storage

ROOT = Path(__file__).resolve().parents[1]
storage = Storage.from_env()
for path in sorted((ROOT / "examples" / "problems" / "sum" / "tests").iterdir()):
    storage.put(f"default/problems/sum/{path.name}", path.read_bytes())
for path in sorted((ROOT / "examples" / "submissions").iterdir()):
    storage.put(f"default/submissions/{path.name}", path.read_bytes())
print(f"uploaded to s3://{storage.bucket}/default/problems/sum/ and s3://{storage.bucket}/default/submissions/")
