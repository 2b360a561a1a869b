"""The operator's side of storage: presigned URLs for pods, and reading results and writing
logs with the credentials only the operator holds. S3-generic (the minio client)."""

from __future__ import annotations

import io
import logging
import re
import threading
import time
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import quote

import urllib3
from minio import Minio
from minio.error import S3Error

from .settings import Settings
from .tenancy import RESULTS_MARKER

log = logging.getLogger("gavel.operator")


class StorageError(RuntimeError):
    pass


class PrefixLocks:
    """Claims of results prefixes that cannot collide run at once. A claim checks the markers of
    the prefixes around its own, then that its own holds nothing, then marks it: it holds its
    prefix alone and every prefix around it shared, so claims of siblings (NS/A/UID1 and
    NS/B/UID2: a burst's) overlap, while a claim of NS waits for those inside it and they for it.
    (One lock for all claims held each admission for five storage round trips: at most ~25
    admissions a second on a quiet machine, 6 where storage shared the CPU with a burst.)"""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._alone: set[str] = set()
        self._shared: Counter = Counter()

    @contextmanager
    def hold(self, bucket: str, prefix: str):
        parts = [bucket, *prefix.split("/")]
        own = "/".join(parts)
        around = ["/".join(parts[:depth]) for depth in range(2, len(parts))]
        with self._changed:
            self._changed.wait_for(lambda: own not in self._alone and not self._shared[own]
                                   and not any(a in self._alone for a in around))
            self._alone.add(own)
            self._shared.update(around)
        try:
            yield
        finally:
            with self._changed:
                self._alone.discard(own)
                self._shared.subtract(around)
                for a in around:
                    if self._shared[a] <= 0:
                        del self._shared[a]
                self._changed.notify_all()


class ObjectStore:
    _claims = PrefixLocks()  # shared by every store (each namespace's credentials make one)
    _buckets_seen: dict[str, float] = {}  # "endpoint access-key bucket" -> when it was last seen to exist
    BUCKET_SEEN_SECONDS = 30.0

    def __init__(self, settings: Settings):
        self.settings = settings
        # short timeouts and few retries: an unreachable endpoint is reported, and retried by kopf
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=30), maxsize=10,
                                   retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503]))
        self.client = Minio(settings.storage_endpoint, access_key=settings.storage_access_key,
                            secret_key=settings.storage_secret_key, secure=settings.storage_secure,
                            region=settings.storage_region, http_client=http)
        # URLs for pods name the endpoint pods reach; a fixed region means presigning makes no request
        pod_secure = settings.storage_secure if settings.pod_storage_secure is None else settings.pod_storage_secure
        self.signer = Minio(settings.pod_storage_endpoint or settings.storage_endpoint,
                            access_key=settings.storage_access_key, secret_key=settings.storage_secret_key,
                            secure=pod_secure, region=settings.storage_region)

    def get_url(self, bucket: str, key: str, expiry: timedelta) -> str:
        return self.signer.presigned_get_object(bucket, key, expires=expiry)

    def put_url(self, bucket: str, key: str, expiry: timedelta) -> str:
        return self.signer.presigned_put_object(bucket, key, expires=expiry)

    def check_object(self, bucket: str, key: str) -> None:
        """Raise StorageError naming the problem: bucket or object missing, storage unreachable."""
        try:
            self.client.stat_object(bucket, key)
        except S3Error as err:
            if err.code in ("NoSuchBucket",):
                raise StorageError(f"bucket {bucket} does not exist") from None
            if err.code in ("NoSuchKey", "NoSuchObject"):
                raise StorageError(f"object s3://{bucket}/{key} does not exist") from None
            raise StorageError(f"s3://{bucket}/{key}: {err.code}: {err.message}") from None

    def list_keys(self, bucket: str, prefix: str, limit: int, skip=lambda key: False) -> list[str]:
        """Up to `limit` keys under `prefix` (all its depth), in the order storage lists them; `skip`
        drops keys before they count."""
        out: list[str] = []
        try:
            for obj in self.client.list_objects(bucket, prefix=prefix, recursive=True):
                if not obj.is_dir and not skip(obj.object_name):
                    out.append(obj.object_name)
                    if len(out) == limit:
                        break
        except S3Error as err:
            raise StorageError(f"s3://{bucket}/{prefix}: {err.code}: {err.message}") from None
        return out

    def ensure_buckets(self) -> None:
        """Create the configured buckets if missing; storage may still be starting: retried."""
        import time
        for attempt in range(30):
            try:
                for bucket in {self.settings.bucket, self.settings.results_bucket_name}:
                    if not self.client.bucket_exists(bucket):
                        self.client.make_bucket(bucket)
                return
            except Exception as err:  # noqa: BLE001 - not up yet
                if attempt == 29:
                    raise
                log.warning("storage at %s not ready (%s); creating buckets again in 2 s",
                            self.settings.storage_endpoint, err)
                time.sleep(2)

    def with_credentials(self, access_key: str, secret_key: str) -> "ObjectStore":
        """The same endpoints with a tenant's own keys (tenancy.storage.credentialsSecret)."""
        return ObjectStore(self.settings.model_copy(update={"storage_access_key": access_key,
                                                            "storage_secret_key": secret_key}))

    def claim_results(self, bucket: str, prefix: str, owner: str) -> None:
        """Mark PREFIX as `owner`'s results (RESULTS_MARKER holds it), unless another Evaluation holds
        it, or a prefix around it, or it holds objects already: results of two Evaluations never share
        a prefix (nor show up in each other's listing)."""
        refuse = "(tenancy.storage.sharedResults is false); name another results.prefix"
        parts = prefix.split("/")
        with self._claims.hold(bucket, prefix):
            for depth in range(1, len(parts)):
                around = "/".join(parts[:depth])
                held = self.read(bucket, f"{around}/{RESULTS_MARKER}")
                if held is not None and held.decode(errors="replace") != owner:
                    raise StorageError(f"results prefix s3://{bucket}/{prefix}/ lies inside another Evaluation's "
                                       f"results s3://{bucket}/{around}/ {refuse}")
            # one listing first: an empty prefix (a new Evaluation's) is claimed without reading its marker
            if next(iter(self.client.list_objects(bucket, prefix=f"{prefix}/", recursive=True)), None):
                held = self.read(bucket, f"{prefix}/{RESULTS_MARKER}")
                if held is not None and held.decode(errors="replace") == owner:
                    return  # claimed by this Evaluation on an earlier attempt
                if held is not None:
                    raise StorageError(f"results prefix s3://{bucket}/{prefix}/ holds another Evaluation's results {refuse}")
                raise StorageError(f"results prefix s3://{bucket}/{prefix}/ already holds objects {refuse}")
            self.write(bucket, f"{prefix}/{RESULTS_MARKER}", owner.encode())

    def bucket_exists(self, bucket: str) -> bool:
        """Asked at every admission: a bucket seen in the last BUCKET_SEEN_SECONDS is taken to be
        there still (one request fewer per Evaluation in a burst)."""
        key = f"{self.settings.storage_endpoint} {self.settings.storage_access_key} {bucket}"  # as these credentials see it
        if time.monotonic() - self._buckets_seen.get(key, -1e9) < self.BUCKET_SEEN_SECONDS:
            return True
        exists = self.client.bucket_exists(bucket)
        if exists:
            self._buckets_seen[key] = time.monotonic()
        return exists

    def read(self, bucket: str, key: str, limit: int | None = None) -> bytes | None:
        """The object, or None when it (or its bucket) does not exist; StorageError past `limit` bytes."""
        try:
            resp = self.client.get_object(bucket, key)
        except S3Error as err:
            if err.code in ("NoSuchKey", "NoSuchObject", "NoSuchBucket"):
                return None
            if err.code == "AccessDenied":
                raise StorageError(f"s3://{bucket}/{key}: access denied") from None
            raise
        try:
            if limit is not None:
                data = resp.read(limit + 1)
                if len(data) > limit:
                    raise StorageError(f"s3://{bucket}/{key} is larger than {limit} bytes")
                return data
            return resp.read()
        finally:
            resp.close()
            resp.release_conn()

    def listing(self, bucket: str, prefix: str) -> dict[str, str]:
        """Every object under the prefix: path relative to it -> ETag."""
        try:
            return {o.object_name[len(prefix):]: (o.etag or "").strip('"')
                    for o in self.client.list_objects(bucket, prefix=prefix, recursive=True)}
        except S3Error as err:
            raise StorageError(f"s3://{bucket}/{prefix}: {err.code}: {err.message}") from None

    def remove_prefix(self, bucket: str, prefix: str) -> int:
        """Delete every object under the prefix; how many there were."""
        names = [o.object_name for o in self.client.list_objects(bucket, prefix=prefix, recursive=True)]
        for name in names:
            self.client.remove_object(bucket, name)
        return len(names)

    def remove(self, bucket: str, key: str) -> None:
        """Delete one object (absent: nothing to do)."""
        self.client.remove_object(bucket, key)

    def write(self, bucket: str, key: str, data: bytes, content_type: str = "text/plain") -> None:
        self.client.put_object(bucket, key, io.BytesIO(data), len(data), content_type=content_type)

    def link(self, bucket: str, key: str) -> str | None:
        base = self.settings.public_endpoint
        return f"{base.rstrip('/')}/{bucket}/{quote(key)}" if base else None


def uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


_SIGNED_QUERY = re.compile(r"(https?://[^\s?\"'<>]+)\?[^\s\"'<>]*X-Amz-[^\s\"'<>]*", re.IGNORECASE)
_SIGNED_PARAM = re.compile(r"(X-Amz-(?:Signature|Credential|Security-Token))=[^&\s\"'<>]*", re.IGNORECASE)


def without_signatures(text: str) -> str:
    """Text a user may read (a runner's log saved as runner.log) with every presigned URL's query
    string taken out: the runner never prints one, and this keeps it so whatever it printed."""
    return _SIGNED_PARAM.sub(r"\1=(removed)", _SIGNED_QUERY.sub(r"\1", text))
