"""The task of a large Evaluation, stored: too large for a Secret (hundreds of tests), it goes to
storage while the Secret holds where it is and the key it is sealed with (TaskRef).

It holds presigned URLs of every input, answer and output, so it must never be where the
Evaluation's author can read it. It is stored

- outside every prefix a namespace may be given: `.gavel/tasks/UID/JOB` in the operator's results
  bucket (no namespace is named `.gavel`, and tenancy refuses `.gavel/` to every Evaluation and
  Problem, whatever the policy says: tenancy.OPERATOR_PREFIX);
- sealed with AES-256-GCM under a fresh key that only the task Secret holds (an administrator may
  give a namespace storage credentials for the whole bucket: what it reads there is noise);
- with the operator's own credentials (it is the operator's object, not the namespace's);
- never in status.locations, and deleted once the Evaluation is final (following.py: a verdict,
  Failed, Canceled) or its Job is deleted (the Evaluation deleted: owner references)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timedelta

from gavel_contract import TaskRef, sealed

from .objectstore import ObjectStore
from .tenancy import OPERATOR_PREFIX

log = logging.getLogger("gavel.operator")

PREFIX = f"{OPERATOR_PREFIX}tasks/"
ANNOTATION = "gavel.dev/task-stored"  # on a Job whose task is in storage: deleted with it


def prefix(uid: str) -> str:
    """Where every stored task of one Evaluation (one per attempt's Job) goes."""
    return f"{PREFIX}{uid}/"


def key(uid: str, job: str) -> str:
    """A name of its own for each write: a restarted operator that finds the Job's Secret made
    already (by the process it replaced) must not overwrite the task that Secret holds the key of."""
    return f"{prefix(uid)}{job}-{secrets.token_hex(4)}"


def store(store: ObjectStore, bucket: str, uid: str, job: str, document: bytes, expiry: timedelta) -> TaskRef:
    """Seal and write the task; what the task Secret holds instead of it."""
    secret, where = sealed.new_key(), key(uid, job)
    store.write(bucket, where, sealed.seal(document, secret), "application/octet-stream")
    return TaskRef(url=store.get_url(bucket, where, expiry), key=secret)


async def forget(store: ObjectStore, bucket: str, uid: str) -> None:
    """Delete the Evaluation's stored tasks, if any (one LIST; nothing is raised: a storage that
    cannot be reached now leaves a sealed object whose key went with the Secret)."""
    try:
        removed = await asyncio.to_thread(store.remove_prefix, bucket, prefix(uid))
    except Exception as err:  # noqa: BLE001 - a courtesy to the tenant's secrecy, never a lost verdict
        log.warning("cannot delete the stored task of Evaluation %s: %s", uid, err)
        return
    if removed:
        log.info("deleted the stored task of Evaluation %s", uid)
