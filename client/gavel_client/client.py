"""What `gavel submit/status/fetch` do, as functions a backend can call too."""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

GROUP, VERSION, PLURAL = "gavel.dev", "v1alpha1", "evaluations"
FINAL = ("Succeeded", "Failed", "Canceled")


@dataclass
class Storage:
    endpoint: str
    access_key: str
    secret_key: str
    secure: bool = False
    bucket: str = "gavel"

    @classmethod
    def from_env(cls, **overrides) -> "Storage":
        env = os.environ
        values = dict(endpoint=env.get("GAVEL_S3_ENDPOINT", "127.0.0.1:9000"),
                      access_key=env.get("GAVEL_S3_ACCESS_KEY", ""), secret_key=env.get("GAVEL_S3_SECRET_KEY", ""),
                      secure=env.get("GAVEL_S3_SECURE", "false").lower() == "true",
                      bucket=env.get("GAVEL_S3_BUCKET", "gavel"))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def client(self):
        from minio import Minio

        return Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=self.secure,
                     region="us-east-1")

    def put(self, key: str, data: bytes) -> dict:
        self.client().put_object(self.bucket, key, io.BytesIO(data), len(data))
        return {"bucket": self.bucket, "key": key}


def custom_objects():
    """The official client, imported only here: the CLI pays for it, the operator does not."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CustomObjectsApi()


def upload_tests(storage: Storage, tests: list[tuple[str, Path, Path]], root: str = "") -> list[dict]:
    """Tests go under ROOT/problems/<digest of their contents>/: the same problem is uploaded once."""
    digest = hashlib.sha256()
    for name, inp, ans in tests:
        digest.update(name.encode() + b"\0" + inp.read_bytes() + b"\0" + ans.read_bytes() + b"\0")
    prefix = f"{root}problems/{digest.hexdigest()[:16]}"
    client, out = storage.client(), []
    for name, inp, ans in tests:
        refs = []
        for path, suffix in ((inp, "in"), (ans, "out")):
            key = f"{prefix}/{name}.{suffix}"
            try:
                client.stat_object(storage.bucket, key)
            except Exception:  # noqa: BLE001 - absent: upload
                storage.put(key, path.read_bytes())
            refs.append({"bucket": storage.bucket, "key": key})
        out.append({"name": name, "input": refs[0], "expected": refs[1]})
    return out


def upload_submission(storage: Storage, source: Path, under: str) -> dict:
    """A file (an archive too: its suffix tells the runner) goes to UNDER/NAME; a directory's files
    (hidden ones left out) under UNDER/files/, and the submission is that prefix (a key ending in /)."""
    if not source.is_dir():
        return storage.put(f"{under}{source.name}", source.read_bytes())
    from gavel_contract.submission import MAX_FILES, is_hidden

    files = sorted(p for p in source.rglob("*") if p.is_file() and not is_hidden(p.relative_to(source).as_posix()))
    if not files or len(files) > MAX_FILES:
        raise ValueError(f"{source}: {len(files)} files; a submission has 1 to {MAX_FILES}")
    for path in files:
        storage.put(f"{under}files/{path.relative_to(source).as_posix()}", path.read_bytes())
    return {"bucket": storage.bucket, "key": f"{under}files/"}


def submit(storage: Storage, namespace: str, source: Path, language: str, tests: list[tuple[str, Path, Path]],
           name: str | None = None, prefix: str | None = None, **spec) -> dict:
    """Uploads under PREFIX (default NAMESPACE/: what the default tenancy policy lets a namespace
    read), then creates the Evaluation."""
    stem = source.name.split(".")[0] if source.is_file() else source.name
    name = name or f"{stem.lower().replace('_', '-')[:40]}-{uuid.uuid4().hex[:6]}"
    root = (prefix if prefix is not None else namespace).strip("/")
    root = f"{root}/" if root else ""
    lang, _, version = language.partition(":")
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Evaluation", "metadata": {"name": name},
            "spec": {"language": lang, "submission": upload_submission(storage, source, f"{root}submissions/{name}/"),
                     "tests": upload_tests(storage, tests, root), **{k: v for k, v in spec.items() if v is not None}}}
    if version:
        body["spec"]["version"] = version
    return custom_objects().create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)


def get(namespace: str, name: str) -> dict:
    return custom_objects().get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)


def wait(namespace: str, name: str, timeout: float = 600, on_change=None) -> dict:
    """Watch (not poll) the Evaluation until its phase is final."""
    from kubernetes import watch

    api, deadline, last = custom_objects(), time.monotonic() + timeout, None
    obj = get(namespace, name)
    while (obj.get("status") or {}).get("phase") not in FINAL:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{namespace}/{name} is still {(obj.get('status') or {}).get('phase')}")
        for event in watch.Watch().stream(api.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL,
                                          field_selector=f"metadata.name={name}", timeout_seconds=int(remaining) + 1):
            obj = event["object"]
            phase = (obj.get("status") or {}).get("phase")
            if on_change and phase != last:
                on_change(obj)
                last = phase
            if phase in FINAL:
                break
    return obj


RESULTS_MARKER = ".gavel-evaluation"  # the operator's claim on a results prefix: the owner's uid
ATTEMPT_PREFIX = re.compile(r"(.*/)attempt-[1-9][0-9]*/")


def outputs_of(evaluation: dict) -> tuple[str, str] | None:
    """(bucket, prefix/) of the Evaluation's outputs, from status.locations; None before any."""
    loc = (evaluation.get("status") or {}).get("locations") or {}
    outputs = loc.get("outputs") or loc.get("logs", "").rsplit("/", 1)[0] + "/"
    if not outputs.startswith("s3://") or "/" not in outputs.removeprefix("s3://"):
        return None
    bucket, prefix = outputs.removeprefix("s3://").split("/", 1)
    return bucket, prefix


def output_names(storage: Storage, evaluation: dict) -> tuple[str, str, list[str]]:
    """The bucket, prefix and object names of an Evaluation's outputs (its claim marker left out)."""
    where = outputs_of(evaluation)
    if where is None:
        return "", "", []
    bucket, prefix = where
    names = [o.object_name for o in storage.client().list_objects(bucket, prefix=prefix, recursive=True)
             if o.object_name[len(prefix):] != RESULTS_MARKER]
    return bucket, prefix, names


def fetch(storage: Storage, evaluation: dict, out_dir: Path) -> list[Path]:
    """Download result.json, compile.txt, runner.log and every test's stdout, stderr and diff."""
    bucket, prefix, names = output_names(storage, evaluation)
    client, got = storage.client(), []
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        target = out_dir / name[len(prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        client.fget_object(bucket, name, str(target))
        got.append(target)
    return got


MAX_LINK_SECONDS = 7 * 86_400  # what S3 allows a presigned URL


class NotItsOwn(RuntimeError):
    """The results prefix is not claimed by this Evaluation: no link is signed for it."""


def signed_links(storage: Storage, evaluation: dict, seconds: int = 900) -> dict[str, str]:
    """Short-lived links a platform can hand to its user: one presigned GET per object of this
    Evaluation's outputs (relative name -> URL), each signed for that object alone, and only when
    the results prefix is this Evaluation's own (its claim marker holds the Evaluation's uid: not a
    prefix shared with others, nor one another Evaluation holds). Printed, never stored: they are
    credentials for `seconds`, and status is read by anyone who can read the Evaluation."""
    from datetime import timedelta

    if not 1 <= seconds <= MAX_LINK_SECONDS:
        raise ValueError(f"a link lives 1 to {MAX_LINK_SECONDS} seconds, not {seconds}")
    where = outputs_of(evaluation)
    if where is None:
        return {}
    bucket, prefix = where
    client, uid = storage.client(), evaluation["metadata"]["uid"]
    # an attempt's outputs (PREFIX/attempt-N/: docs/attempts.md) are under the Evaluation's prefix,
    # where the operator's claim is
    claimed = m.group(1) if (m := ATTEMPT_PREFIX.fullmatch(prefix)) else prefix
    try:
        resp = client.get_object(bucket, claimed + RESULTS_MARKER)
        try:
            owner = resp.read(256).decode(errors="replace")
        finally:
            resp.close()
            resp.release_conn()
    except Exception as err:  # noqa: BLE001 - absent (a shared prefix), unreadable: no link
        raise NotItsOwn(f"s3://{bucket}/{claimed} is not claimed by this Evaluation ({err}); "
                        "no link is signed for a prefix it may share") from None
    if owner != uid:
        raise NotItsOwn(f"s3://{bucket}/{claimed} is claimed by another Evaluation (uid {owner}), not {uid}")
    _, _, names = output_names(storage, evaluation)
    return {name[len(prefix):]: client.presigned_get_object(bucket, name, expires=timedelta(seconds=seconds))
            for name in names}
