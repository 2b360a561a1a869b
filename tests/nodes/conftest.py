"""The many-node tier (CLUSTER=kind, one control plane and two workers): the chart installed as in
tests/e2e, and the kind nodes, which are Docker containers, paused, killed, drained and brought
back while Evaluations run on them. The bundled MinIO stays on the control plane, the one node
these tests never stop (its data is an emptyDir: a lost node would lose every submission)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from chart import NAMESPACE, RELEASE, crds, helm, install_fresh, kube, namespace, storage  # noqa: F401 (fixtures)

KIND_CLUSTER = os.environ.get("KIND_CLUSTER", "gavel")
# cluster/lib.sh: the offline route runs kind's nodes in a dockerd of its own
DOCKER_HOST = "unix:///run/gavel-kind/docker.sock" if os.environ.get("KIND_OFFLINE", "1") == "1" else None
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"
MINIO_ON_CONTROL_PLANE = [
    f"storage.bundled.nodeSelector.{CONTROL_PLANE_TAINT.replace('.', chr(92) + '.')}=",
    f"storage.bundled.tolerations[0].key={CONTROL_PLANE_TAINT}",
    "storage.bundled.tolerations[0].operator=Exists", "storage.bundled.tolerations[0].effect=NoSchedule"]


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CLUSTER") != "kind":
        skip = pytest.mark.skip(reason="the many-node tier runs on the kind route: CLUSTER=kind make test-nodes")
        for item in items:
            item.add_marker(skip)


def docker(*args: str, check: bool = True) -> str:
    env = {**os.environ, **({"DOCKER_HOST": DOCKER_HOST} if DOCKER_HOST else {})}
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, env=env, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def pause(name: str, attempts: int = 10) -> int:
    """docker pause, tried again while cgroup v1's freezer gives up ("unable to freeze": runc
    freezes, polls, thaws and retries a bounded number of times, and a node forking runner
    processes can outlast that; runc#2791 calls it "a game of chances"). A failed try leaves the
    node thawed. Returns the tries it took."""
    for attempt in range(1, attempts):
        try:
            docker("pause", name)
            return attempt
        except AssertionError as err:
            if "unable to freeze" not in str(err):
                raise
        time.sleep(0.5)
    docker("pause", name)  # the last try: its failure is the test's
    return attempts


def ready_nodes(kube) -> set[str]:
    return {n["metadata"]["name"] for n in kube.json("get", "nodes")["items"]
            if {c["type"]: c["status"] for c in n["status"]["conditions"]}.get("Ready") == "True"}


def wait_nodes_ready(kube, timeout: float = 300) -> list[str]:
    """Every node Ready (a test may have stopped one): the workers' names, sorted."""
    nodes = [n["metadata"]["name"] for n in kube.json("get", "nodes")["items"]]
    for name in nodes:
        state = docker("inspect", "-f", "{{.State.Status}}", name, check=False)
        if state == "paused":
            docker("unpause", name)
        elif state in ("exited", "created"):
            docker("start", name)
    kube.wait_for("every node Ready", lambda: ready_nodes(kube) == set(nodes), timeout=timeout, interval=2)
    workers = sorted(n for n in nodes if not n.endswith("-control-plane"))
    assert len(workers) >= 2, f"the many-node tier needs two workers (KIND_NODES=3), not {workers}"
    return workers


@pytest.fixture(scope="session")
def installed(kube, helm, crds):
    wait_nodes_ready(kube)
    yield from install_fresh(kube, helm, *MINIO_ON_CONTROL_PLANE)


@pytest.fixture
def workers(kube, installed) -> list[str]:
    return wait_nodes_ready(kube)


def lease_holder(kube) -> str:
    """The pod name of the operator replica that holds the Lease (its identity: POD_SUFFIX)."""
    out = kube.run("-n", NAMESPACE, "get", "lease", f"{RELEASE}-operator", "-o", "jsonpath={.spec.holderIdentity}",
                   check=False)
    return out.stdout.strip().rsplit("_", 1)[0] if out.returncode == 0 else ""


def operator_pod(kube) -> dict:
    """The active operator replica's pod (the other waits for the Lease)."""
    holder = kube.wait_for("an operator replica holding the Lease", lambda: lease_holder(kube), 120, 1)
    return kube.json("-n", NAMESPACE, "get", "pod", holder)


def operators_apart(kube) -> dict:
    """The active replica's pod, once the standby runs on another node. The chart's anti-affinity
    is preferred, not required: a standby evicted from a paused worker comes back beside the
    active one, and a node kill would then take both (a new pod: ~90 s, not the Lease's 10 s).
    Such a standby is deleted until the scheduler puts its replacement on the other worker."""
    def apart():
        active = operator_pod(kube)
        pods = kube.json("-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=gavel-operator")["items"]
        others = [p for p in pods if p["metadata"]["name"] != active["metadata"]["name"]
                  and not p["metadata"].get("deletionTimestamp")]
        if len(others) != 1 or others[0]["status"].get("phase") != "Running":
            return None
        if others[0]["spec"].get("nodeName") == active["spec"]["nodeName"]:
            kube.run("-n", NAMESPACE, "delete", "pod", others[0]["metadata"]["name"], "--wait=false")
            return None
        return active
    return kube.wait_for("the standby operator on another node than the active one", apart, 180, 2)


def runner_pods(kube, namespace: str) -> list[dict]:
    return kube.json("-n", namespace, "get", "pods", "-l", "gavel.dev/role=runner")["items"]


def judging_on(kube, namespace: str, node: str) -> list[str]:
    """The Evaluations whose runner is running on `node` right now."""
    return [p["metadata"]["labels"]["gavel.dev/evaluation"] for p in runner_pods(kube, namespace)
            if p["spec"].get("nodeName") == node and p["status"].get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")]


class Clock:
    """Seconds since a disruption, for the measurements the tests print."""

    def __init__(self):
        self.start = time.monotonic()

    def __call__(self) -> float:
        return round(time.monotonic() - self.start, 1)
