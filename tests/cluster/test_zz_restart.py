"""`make cluster-down` then `make cluster` gives a working cluster again, and cluster-down
leaves no process, mount, interface or iptables rule of the cluster behind. Runs last
(file name), since it replaces the cluster the other tests use."""
import os
import subprocess
import time

import pytest

from conftest import REPO, TESTBOX_IMAGE, Kube, wait_for_default_sa

pytestmark = pytest.mark.skipif(os.environ.get("CLUSTER", "local") != "local",
                                reason="checks the host-process cluster's leftovers")


CACHE = os.environ.get("GAVEL_CACHE", "/var/cache/gavel")


def make(target: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "-C", str(REPO), target], capture_output=True, text=True,
                          timeout=timeout, check=True)


def leftovers() -> list[str]:
    found = []
    mounts = open("/proc/self/mountinfo").read()
    if "/var/lib/gavel-cluster" in mounts or "/run/gavel-containerd" in mounts:
        found.append("mounts")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    if "gavel0" in links:
        found.append("bridge gavel0")
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    if any(tag in rules for tag in ("KUBE-", "CNI-", "gavel-cluster")):
        found.append("iptables rules")
    # Processes the cluster started: its components (binaries in the cache; kubectl is a
    # client), its containerd and shims. Clients of the cluster (ctr, kubectl) do not count.
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        component = exe.startswith(tuple(f"{CACHE}/{c}-" for c in ("k8s", "etcd", "kube-router", "coredns"))) \
            and os.path.basename(exe) != "kubectl"
        runtime = "containerd" in os.path.basename(exe) and (
            "/var/lib/gavel-cluster/" in cmd or "/run/gavel-containerd" in cmd)
        if component or runtime:
            found.append(f"process {pid}: {cmd[:80]}")
    # Containers: the pod cgroups are gone (and with them every container process).
    found += [f"cgroup {d}" for d in ("/sys/fs/cgroup/memory/kubepods", "/sys/fs/cgroup/pids/kubepods")
              if os.path.isdir(d)]
    return found


def local_images() -> list[str]:
    out = subprocess.run(["ctr", "-a", "/run/gavel-containerd/containerd.sock", "-n", "k8s.io", "images", "ls", "-q"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(line for line in out.split() if line.startswith("gavel.local/"))


def test_down_then_up_gives_working_cluster(kube: Kube):
    before = local_images()
    make("cluster-down")
    assert leftovers() == []
    start = time.monotonic()
    make("cluster")
    warm = time.monotonic() - start
    print(f"warm start took {warm:.0f}s")
    # The images loaded before (e.g. the runner image, for tests that run later) come back
    # from the cache: a down/up must not leave the cluster poorer than it was.
    subprocess.run(["bash", str(REPO / "cluster/images.sh"), "reload", *before], check=True, capture_output=True)
    assert set(before) <= set(local_images())
    ns = "gavel-test-restart"
    kube("create", "namespace", ns)
    wait_for_default_sa(kube, ns)
    kube("-n", ns, "run", "again", f"--image={TESTBOX_IMAGE}", "--image-pull-policy=Never", "--restart=Never",
         "--command", "--", "/bin/echo", "again")
    kube.wait_for("pod again to succeed",
                  lambda: kube("-n", ns, "get", "pod", "again", "-o", "jsonpath={.status.phase}") == "Succeeded", 90)
    assert kube("-n", ns, "logs", "again") == "again\n"
    kube("delete", "namespace", ns, "--wait=false")
