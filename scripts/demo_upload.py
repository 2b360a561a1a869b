"""Uploads examples/problems/sum/tests and examples/submissions to the storage named by
$GAVEL_S3_* at the keys examples/evaluations/*.yaml and examples/evaluation.yaml use."""

from pathlib import Path

from gavel_client.client import Storage

ROOT = Path(__file__).resolve().parents[1]
storage = Storage.from_env()
for path in sorted((ROOT / "examples" / "problems" / "sum" / "tests").iterdir()):
    storage.put(f"problems/sum/{path.name}", path.read_bytes())
for path in sorted((ROOT / "examples" / "submissions").iterdir()):
    storage.put(f"submissions/{path.name}", path.read_bytes())
print(f"uploaded to s3://{storage.bucket}/problems/sum/ and s3://{storage.bucket}/submissions/")
