"""The nodes are Ready, and a Job running a locally built image completes, with its
termination message and logs readable through the API server."""
import os

import pytest

from conftest import TESTBOX_IMAGE


def test_nodes_ready(kube):
    """Every node Ready: one on the local route, KIND_NODES (default 3) on kind."""
    nodes = kube.json("get", "nodes")["items"]
    expected = int(os.environ.get("KIND_NODES", "3")) if os.environ.get("CLUSTER") == "kind" else 1
    assert len(nodes) == expected, [n["metadata"]["name"] for n in nodes]
    for node in nodes:
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
        assert ready == "True", node["metadata"]["name"]
        assert node["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.")


def test_system_components_healthy(kube):
    assert kube("get", "--raw", "/readyz").strip() == "ok"
    # CoreDNS (a Deployment on the node) answers the kube-dns Service.
    kube("-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=60s")


def test_job_with_local_image_completes(kube, namespace):
    kube.apply(f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: hello, namespace: {namespace}}}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      containers:
      - name: main
        image: {TESTBOX_IMAGE}
        imagePullPolicy: Never
        command: [/bin/sh, -c]
        args: ["echo hello from gavel; echo line two; printf 'verdict=Accepted' > /dev/termination-log"]
""")
    job = kube.wait_for("job hello to complete",
                        lambda: (j := kube.json("-n", namespace, "get", "job", "hello"))["status"].get("succeeded") == 1 and j)
    conditions = {c["type"]: c["status"] for c in job["status"]["conditions"]}
    assert conditions.get("Complete") == "True"
    pod = kube.json("-n", namespace, "get", "pods", "-l", "job-name=hello")["items"][0]
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0
    assert terminated["message"] == "verdict=Accepted"
    assert kube("-n", namespace, "logs", "job/hello") == "hello from gavel\nline two\n"


@pytest.mark.skipif(os.environ.get("CLUSTER") == "kind" and os.environ.get("KIND_OFFLINE", "1") != "1",
                    reason="kind's upstream node image may pull")
def test_missing_image_never_reaches_a_registry(kube, namespace):
    """Images are local only: a pod naming a missing image fails to pull, and containerd's
    attempt goes to the closed loopback proxy, not to a registry."""
    kube("-n", namespace, "run", "nopull", "--image=docker.io/library/gavel-no-such-image:1",
         "--image-pull-policy=IfNotPresent", "--restart=Never")

    def waiting():
        pod = kube.json("-n", namespace, "get", "pod", "nopull")
        state = pod["status"]["containerStatuses"][0]["state"]
        return state.get("waiting", {}).get("reason") in ("ErrImagePull", "ImagePullBackOff") and state["waiting"]

    waiting_state = kube.wait_for("pull to fail", waiting, timeout=60)
    message = waiting_state.get("message", "")
    events = kube("-n", namespace, "get", "events", "--field-selector", "involvedObject.name=nopull")
    assert "127.0.0.1:9" in message + events, message + events
