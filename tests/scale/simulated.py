"""Simulated nodes: kwok (sigs.k8s.io/kwok) as a host process against the cluster's real API
server, so that thousands of runner pods are scheduled, "run" and end without a CPU or an image.

kwok manages only the nodes it is told to (annotation `kwok.x-k8s.io/node=fake`), which this
module creates: labelled `gavel.dev/simulated=true` and tainted NoSchedule with the same key, so
that nothing lands on them but the runner pods of namespaces whose tenancy policy imposes that
nodeSelector and toleration (`imposed_placement`). kwok's stages (its state machine for nodes and
pods) are the fast ones it ships, except that a runner pod ends Succeeded a second or few after
it is Ready, its container terminated with exit code 0 and, as its termination message, the
summary a real runner writes for one passed test: the operator finds no result.json in storage
and judges from that summary (following.finish, status.result_from_summary), as it does when a
real runner could not upload.

Every address a fake node has is loopback: the API server's calls for a runner pod's log go to
kwok's own port on 127.0.0.1 (plain HTTP, so they fail at once) and never leave this machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import yaml

from gavel_contract import RESULT_API

REPO = Path(__file__).resolve().parents[2]
ANNOTATION = "kwok.x-k8s.io/node"
LABEL = "gavel.dev/simulated"
TAINT = {"key": LABEL, "value": "true", "effect": "NoSchedule"}
# what a real runner writes to its termination log for one passed test (gavel_contract Result.summary)
SUMMARY = json.dumps({"apiVersion": RESULT_API, "verdict": "Accepted", "passed": 1, "total": 1, "tests": "P",
                      "message": "judged by a simulated runner (kwok)"}, separators=(",", ":"))


def imposed_placement() -> dict:
    """The tenancy policy (GAVEL_NAMESPACE_TENANCY value) that sends a namespace's runner pods to the
    simulated nodes, and only there."""
    return {"placement": {"imposed": {"nodeSelector": {LABEL: "true"},
                                      "tolerations": [{"key": LABEL, "operator": "Exists", "effect": "NoSchedule"}]}}}


def binary() -> str:
    """kwok, built into $GAVEL_CACHE on first use (scripts/kwok.sh: ~1.5 min cold)."""
    return os.environ.get("GAVEL_KWOK") or subprocess.run(
        [str(REPO / "scripts" / "kwok.sh")], check=True, capture_output=True, text=True).stdout.strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stage(name: str, kind: str, selector: dict, next_: dict, delay_ms: tuple[int, int] | None = None,
           immediate: bool = False) -> dict:
    spec = {"resourceRef": {"apiGroup": "v1", "kind": kind}, "selector": selector, "next": next_}
    if delay_ms:
        spec["delay"] = {"durationMilliseconds": delay_ms[0], "jitterDurationMilliseconds": delay_ms[1]}
    if immediate:
        spec["immediateNextStage"] = True
    return {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage", "metadata": {"name": name}, "spec": spec}


def _expr(key: str, op: str, *values: str) -> dict:
    return {"key": key, "operator": op, **({"values": list(values)} if values else {})}


NODE_CONDITIONS = """
{{ $now := Now }}
{{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
conditions:
{{ range NodeConditions }}
- lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $lastTransitionTime | Quote }}
  message: {{ .message | Quote }}
  reason: {{ .reason | Quote }}
  status: {{ .status | Quote }}
  type: {{ .type | Quote }}
{{ end }}
"""

NODE_INITIALIZE = NODE_CONDITIONS + """
addresses:
- {address: {{ NodeIP | Quote }}, type: InternalIP}
- {address: {{ .metadata.name | Quote }}, type: Hostname}
{{ with NodePort }}
daemonEndpoints:
  kubeletEndpoint:
    Port: {{ . }}
{{ end }}
allocatable:
{{ with .status.allocatable }}
{{ YAML . 1 }}
{{ else }}
  {cpu: "64", memory: 256Gi, pods: "110"}
{{ end }}
capacity:
{{ with .status.capacity }}
{{ YAML . 1 }}
{{ else }}
  {cpu: "64", memory: 256Gi, pods: "110"}
{{ end }}
nodeInfo:
  architecture: amd64
  containerRuntimeVersion: kwok
  kernelVersion: kwok
  kubeProxyVersion: kwok
  kubeletVersion: kwok
  operatingSystem: linux
phase: Running
"""

POD_READY = """
{{ $now := Now }}
conditions:
- {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Initialized}
- {lastTransitionTime: {{ $now | Quote }}, status: "True", type: Ready}
- {lastTransitionTime: {{ $now | Quote }}, status: "True", type: ContainersReady}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  restartCount: 0
  started: true
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
{{ with NodeIPWith .spec.nodeName }}
hostIP: {{ . | Quote }}
{{ end }}
{{ with PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
podIP: {{ . | Quote }}
{{ end }}
phase: Running
startTime: {{ $now | Quote }}
"""

RUNNER_JUDGED = """
{{ $now := Now }}
conditions:
- {lastTransitionTime: {{ $now | Quote }}, status: "False", type: Ready, reason: PodCompleted}
- {lastTransitionTime: {{ $now | Quote }}, status: "False", type: ContainersReady, reason: PodCompleted}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    terminated:
      exitCode: 0
      reason: Completed
      message: @SUMMARY@
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
phase: Succeeded
"""


def stages(judge_ms: tuple[int, int]) -> list[dict]:
    """kwok's stages: its fast node and pod stages, and the runner's end after `judge_ms` (from, to)."""
    not_ready = _expr('.status.conditions.[] | select( .type == "Ready" ) | .status', "NotIn", "True")
    ready = _expr('.status.conditions.[] | select( .type == "Ready" ) | .status', "In", "True")
    alive = _expr(".metadata.deletionTimestamp", "DoesNotExist")
    return [
        _stage("node-initialize", "Node", {"matchExpressions": [not_ready]},
               {"statusTemplate": NODE_INITIALIZE}),
        # with a node Lease (kwok renews it every nodeLeaseDurationSeconds / 4): the node's status
        # itself is written again only every 10 minutes or so
        _stage("node-heartbeat-with-lease", "Node", {"matchExpressions": [_expr(".status.phase", "In", "Running"), ready]},
               {"statusTemplate": NODE_CONDITIONS}, delay_ms=(600_000, 610_000), immediate=True),
        _stage("pod-ready", "Pod", {"matchExpressions": [alive, _expr(".status.phase", "In", "Pending"), not_ready]},
               {"statusTemplate": POD_READY}),
        _stage("gavel-runner-judged", "Pod",
               {"matchLabels": {"gavel.dev/role": "runner"},
                "matchExpressions": [alive, _expr(".status.phase", "In", "Running")]},
               {"statusTemplate": RUNNER_JUDGED.replace("@SUMMARY@", json.dumps(SUMMARY))}, delay_ms=judge_ms),
        # any other Job's pod that tolerates the taint: done at once
        _stage("pod-complete", "Pod",
               {"matchExpressions": [alive, _expr(".status.phase", "In", "Running"),
                                     _expr(".metadata.ownerReferences.[].kind", "In", "Job"),
                                     _expr('.metadata.labels["gavel.dev/role"]', "DoesNotExist")]},
               {"statusTemplate": "phase: Succeeded\n"}),
        _stage("pod-delete", "Pod", {"matchExpressions": [_expr(".metadata.deletionTimestamp", "Exists")]},
               {"delete": True}),
    ]


def node(name: str, pods: int = 110) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": {ANNOTATION: "fake"},
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "type": "kwok", LABEL: "true"}},
            "spec": {"taints": [TAINT]},
            "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": str(pods)},
                       "capacity": {"cpu": "64", "memory": "256Gi", "pods": str(pods)}}}


class Kwok:
    """kwok as a host process managing `nodes` fake nodes it is given (created here, deleted by
    stop()). `kube`: the tests' kubectl wrapper (tests/kubectl.py)."""

    def __init__(self, kube, work: Path, nodes: int = 10, judge_ms: tuple[int, int] = (1000, 3000),
                 prefix: str = "gavel-sim"):
        self.kube, self.work = kube, work
        self.names = [f"{prefix}-{i}" for i in range(nodes)]
        self.judge_ms = judge_ms
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = work / "kwok.log"

    def start(self) -> "Kwok":
        self.work.mkdir(parents=True, exist_ok=True)
        config = self.work / "kwok.yaml"
        options = {"manageNodesWithAnnotationSelector": f"{ANNOTATION}=fake",
                   "nodeIP": "127.0.0.1", "nodePort": self.port, "serverAddress": f"127.0.0.1:{self.port}",
                   "nodeLeaseDurationSeconds": 40, "nodeLeaseParallelism": 4, "nodePlayStageParallelism": 4,
                   "podPlayStageParallelism": 16, "podsOnNodeSyncParallelism": 2}
        docs = [{"apiVersion": "config.kwok.x-k8s.io/v1alpha1", "kind": "KwokConfiguration",
                 "metadata": {"name": "gavel"}, "options": options}, *stages(self.judge_ms)]
        config.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([binary(), "--kubeconfig", self.kube.kubeconfig, "--config", str(config)],
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"kwok did not start:\n{self.log_tail()}")
                time.sleep(0.2)
        self.kube.apply(yaml.safe_dump_all([node(n) for n in self.names]))
        self.kube.wait_for(f"{len(self.names)} simulated nodes Ready", lambda: self.ready() == len(self.names), 120)
        return self

    def ready(self) -> int:
        items = self.kube.json("get", "nodes", "-l", f"{LABEL}=true")["items"]
        return sum(any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions") or [])
                   for n in items)

    def stop(self) -> None:
        """Delete the fake nodes (kwok still running: their pods' deletions complete), then stop kwok."""
        with contextlib.suppress(Exception):
            self.kube("delete", "nodes", "-l", f"{LABEL}=true", "--ignore-not-found", "--wait=true",
                      "--timeout=120s", timeout=150)
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:]) \
            if self.log_path.exists() else "(no kwok log)"

    def __enter__(self) -> "Kwok":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
