"""Operator settings, from the environment (the Helm chart sets them; see README)."""

from __future__ import annotations

import json
import os

from pydantic import BaseModel, Field, field_validator

from .ceilings import DEFAULT as DEFAULT_CEILINGS
from .ceilings import Ceilings
from .links import check_template
from .tenancy import TenantPolicy


class Settings(BaseModel):
    # Storage the operator holds credentials for; pods only ever get presigned URLs.
    storage_endpoint: str = Field("127.0.0.1:9000", description="host:port the operator reaches storage at")
    storage_secure: bool = False
    storage_access_key: str = ""
    storage_secret_key: str = ""
    storage_region: str = "us-east-1"
    pod_storage_endpoint: str | None = Field(None, description="host:port runner pods reach storage at "
                                                               "(presigned URLs name it); default: storage_endpoint")
    pod_storage_secure: bool | None = None
    public_endpoint: str | None = Field(None, description="base http(s) URL for links in status, e.g. "
                                                          "https://s3.example.com; none: no links")
    bucket: str = Field("gavel", description="default bucket of submissions and tests")
    results_bucket: str | None = Field(None, description="default bucket of results; default: bucket")
    create_buckets: bool = Field(False, description="create the buckets at start (the chart's bundled MinIO)")
    storage_retries: int = Field(8, ge=1, description="admission attempts while storage is unreachable, then Failed")
    storage_retry_delay_seconds: float = Field(5, gt=0, description="first back-off; doubles, at most 60 s")

    # Concurrency: running Evaluations in all and per queue; the rest wait as Queued.
    max_running: int = 20
    # The operator's own memory under a burst (intake.py, heap.py; `make bench-memory`).
    max_admitting: int = Field(32, ge=0, description="admissions handled at once (storage check, task Secret, Job); "
                                                     "the rest wait in line, by name, in creation order; 0: no bound "
                                                     "(a task each)")
    heap_trim_seconds: float = Field(30, ge=0, description="collect garbage and give freed heap back to the "
                                                           "kernel this often; 0: never")
    malloc_arenas: int = Field(2, ge=0, description="glibc malloc arenas at most; 0: glibc's default (8 per core)")
    queue_limits: dict[str, int] = Field(default_factory=dict, description="queue name -> cap")
    kueue: bool = Field(False, description="hand queue names to Kueue (suspended Jobs) instead of capping here")

    # Runner pods.
    image_pull_policy: str = "IfNotPresent"
    image_pull_grace_seconds: int = Field(120, description="how long a pod may fail to pull its image "
                                                           "before the attempt counts as failed")
    runner_memory_overhead_mi: int = 256
    node_lost_seconds: int = Field(30, ge=0, le=3600, description="how long a runner pod stays on a node that "
                                   "stopped answering (its not-ready/unreachable taints) before Kubernetes evicts it "
                                   "and its Job runs it again on another node; Kubernetes' own default is 300")
    runner_cpu: str = Field("1", description="CPU request of a runner pod")
    runner_cpu_limit: str | None = Field(None, description="CPU limit of a runner pod; default: the request "
                                                          "(requests equal limits: Guaranteed QoS)")
    scratch_size_mi: int = Field(1024, description="the runner's private disk (inputs, answers, outputs), root-only")
    sandbox_size_mi: int = Field(128, ge=16, description="memory-backed, size-capped space the submission and "
                                                         "checker may write (build, scratch): full is ENOSPC, "
                                                         "never an eviction; counted in the pod's memory")
    job_ttl_seconds: int = 3600
    namespaces: str = Field("", description="comma-separated namespaces to serve; empty: all of them")
    finished_ttl_seconds: int = Field(0, ge=0, description="delete an Evaluation this long after its verdict "
                                                           "(results stay in storage); 0: keep it")
    compile_wall_seconds: int = 60
    start_grace_seconds: int = Field(180, description="added to the derived deadline: pod start, fetches, uploads")
    pending_seconds: int = Field(3600, ge=0, description="how long a runner Job's pods may wait for a node in all, "
                                 "beyond its attempts' own deadlines (which run only once a pod is on a node)")

    # Ceilings: what an Evaluation may ask for (ceilings.py), by default and per namespace. Without
    # GAVEL_CEILINGS, ceilings.DEFAULT (safe on a shared cluster); GAVEL_CEILINGS replaces it whole.
    ceilings: Ceilings = Field(default_factory=lambda: DEFAULT_CEILINGS.model_copy())
    namespace_ceilings: dict[str, Ceilings] = Field(default_factory=dict, description="namespace -> its ceilings, "
                                                                                      "over the default ones")

    # Tenancy (tenancy.py): the storage each namespace may read and write, and the placement it may
    # ask for, by default and per namespace.
    tenancy: TenantPolicy = Field(default_factory=TenantPolicy)
    namespace_tenancy: dict[str, TenantPolicy] = Field(default_factory=dict, description="namespace -> its "
                                                                                         "policy, over the default")

    # Callbacks.
    callback_retries: int = 6
    callback_timeout_seconds: float = 10.0
    # callbackUrl is the tenant's: loopback, link-local, private (cluster Service and Pod) and
    # other special ranges are refused unless allowed here.
    callback_allowed: list[str] = Field(default_factory=list, description="CIDRs callbacks may reach despite "
                                                                          "the default refusal, e.g. [\"10.20.0.0/16\"]")
    callback_denied: list[str] = Field(default_factory=list, description="CIDRs callbacks may never reach "
                                                                         "(wins over callback_allowed)")
    callback_per_destination: int = Field(2, ge=1, description="deliveries in flight per scheme://host:port; a "
                                                               "slow receiver delays only its own callbacks")

    # Egress of runner pods: a NetworkPolicy the operator keeps in every namespace it runs Jobs
    # in, allowing these rules only (NetworkPolicyEgressRule objects; typically the storage
    # endpoint and DNS). None: no policy is made.
    runner_egress: list[dict] | None = None
    # With that policy: addresses it must refuse, which each runner waits to see refused before running
    # any submission code (`kubernetes`: the API server's Service, from the pod's environment).
    egress_check_addresses: list[str] = Field(default_factory=lambda: ["kubernetes"])
    egress_check_timeout_seconds: int = Field(60, ge=1, le=600)

    # The node cache (the chart's cache DaemonSet): runner pods fetch inputs and answers through it,
    # once per node (runner-image/gavel_runner/nodecache.py). None: each pod fetches from storage.
    node_cache: str | None = Field(None, description="http://host:port of the node cache's node-local Service")

    # Progress (progress.py): each runner overwrites a small object at most this often while it judges;
    # one task of the operator reads those of the Running Evaluations this often, this many at once.
    progress_seconds: int = Field(2, ge=1, le=60, description="how often progress is written and read")
    progress_concurrency: int = Field(8, ge=1, le=64, description="progress objects read at once")

    # Links a person can open (links.py): templates with {namespace}, {name}, {uid}, {pod}, {job},
    # {bucket}, {prefix}, rendered into status.logUrl and status.outputsUrl. Empty: no link.
    log_url_template: str = Field("", description="e.g. https://logs.example.com/?pod={namespace}/{pod}")
    outputs_url_template: str = Field("", description="e.g. https://console.example.com/browser/{bucket}/{prefix}/")

    # Contests (contests.py): a contest whose judgements changed is rebuilt this long after the change,
    # once for every change meanwhile (a burst of completions: one rebuild per this many seconds).
    contest_rebuild_seconds: float = Field(2.0, ge=0.1, le=300, description="debounce of scoreboard rebuilds")

    metrics_port: int = 8080
    leader_lease: str = Field("", description="namespace/name of the Lease that elects the one active replica "
                                             "(leader.py); empty: no election, this process is the only one")

    @field_validator("log_url_template", "outputs_url_template")
    @classmethod
    def _template(cls, value: str) -> str:
        return check_template(value)

    def ceilings_for(self, namespace: str) -> Ceilings:
        """The namespace's own ceilings laid over the default ones."""
        return self.ceilings.over(self.namespace_ceilings.get(namespace))

    def tenancy_for(self, namespace: str) -> TenantPolicy:
        return self.tenancy.over(self.namespace_tenancy.get(namespace))

    @property
    def namespace_list(self) -> list[str]:
        return [n.strip() for n in self.namespaces.split(",") if n.strip()]

    @property
    def results_bucket_name(self) -> str:
        return self.results_bucket or self.bucket

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        """GAVEL_<FIELD> variables; dicts as JSON, booleans as true/false."""
        env = os.environ if env is None else env
        values = {}
        for name, field in cls.model_fields.items():
            raw = env.get(f"GAVEL_{name.upper()}")
            if raw is None:
                continue
            values[name] = json.loads(raw) if field.annotation in (dict[str, int], list[dict] | None, list[str], Ceilings, dict[str, Ceilings],
                                                                 TenantPolicy, dict[str, TenantPolicy]) else raw
        return cls.model_validate(values)
