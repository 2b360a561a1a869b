"""Pods reach Services in other namespaces (by ClusterIP and by DNS name), and
NetworkPolicy is enforced: deny-all egress stops that, and a policy that allows one
destination allows exactly that one."""
import pytest

from conftest import TESTBOX_IMAGE


def web_server(kube, ns: str, name: str, body: str) -> str:
    """A busybox httpd pod behind a ClusterIP Service on port 80; returns the Service IP."""
    kube.apply(f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {ns}, labels: {{app: {name}}}}}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  containers:
  - name: httpd
    image: {TESTBOX_IMAGE}
    imagePullPolicy: Never
    command: [/bin/sh, -c, "mkdir -p /srv && echo {body} > /srv/index.html && exec busybox httpd -f -p 8080 -h /srv"]
    ports: [{{containerPort: 8080}}]
    readinessProbe:
      tcpSocket: {{port: 8080}}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
""")
    kube("-n", ns, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=90s")
    return kube("-n", ns, "get", "svc", name, "-o", "jsonpath={.spec.clusterIP}").strip()


def client(kube, ns: str) -> None:
    kube.apply(f"""
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: {ns}, labels: {{app: client}}}}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: {TESTBOX_IMAGE}
    imagePullPolicy: Never
    command: [sleep, "3600"]
""")
    kube("-n", ns, "wait", "--for=condition=Ready", "pod/client", "--timeout=90s")


def fetch(kube, ns: str, url: str) -> str | None:
    """Body fetched by the client pod, or None if the connection failed."""
    # (busybox wget's own -T timeout segfaults in Debian's busybox-static 1.35: use timeout(1).)
    proc = kube.run("-n", ns, "exec", "client", "--", "timeout", "3", "busybox", "wget", "-q", "-O-", url,
                    check=False, timeout=30)
    return proc.stdout.strip() if proc.returncode == 0 else None


def eventually(kube, what, check, timeout=45):
    """check() must hold; NetworkPolicy changes take a moment to reach the node."""
    kube.wait_for(what, check, timeout=timeout, interval=1)
    for _ in range(2):  # and keep holding
        assert check(), f"{what}: did not hold"


@pytest.fixture
def topology(kube, make_namespace):
    a, b, c = make_namespace(), make_namespace(), make_namespace()
    ip_web = web_server(kube, a, "web", "hello-from-web")
    ip_other = web_server(kube, b, "other", "hello-from-other")
    client(kube, c)
    return {"a": a, "b": b, "client_ns": c, "web": f"http://{ip_web}/", "other": f"http://{ip_other}/"}


def test_service_in_other_namespace_reachable(kube, topology):
    c = topology["client_ns"]
    eventually(kube, "web via ClusterIP", lambda: fetch(kube, c, topology["web"]) == "hello-from-web")
    eventually(kube, "other via ClusterIP", lambda: fetch(kube, c, topology["other"]) == "hello-from-other")
    dns = f"http://web.{topology['a']}.svc.cluster.local/"
    eventually(kube, "web via its DNS name", lambda: fetch(kube, c, dns) == "hello-from-web")


def test_network_policy_deny_then_allow_one(kube, topology):
    c = topology["client_ns"]
    eventually(kube, "web reachable before any policy", lambda: fetch(kube, c, topology["web"]) == "hello-from-web")

    kube.apply(f"""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: deny-egress, namespace: {c}}}
spec:
  podSelector: {{}}
  policyTypes: [Egress]
""")
    eventually(kube, "egress to web denied", lambda: fetch(kube, c, topology["web"]) is None)
    assert fetch(kube, c, topology["other"]) is None

    kube.apply(f"""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: allow-web, namespace: {c}}}
spec:
  podSelector: {{matchLabels: {{app: client}}}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {topology['a']}}}}}
      podSelector: {{matchLabels: {{app: web}}}}
    ports: [{{port: 8080, protocol: TCP}}]
""")
    eventually(kube, "egress to web allowed", lambda: fetch(kube, c, topology["web"]) == "hello-from-web")
    eventually(kube, "egress to other still denied", lambda: fetch(kube, c, topology["other"]) is None)

    kube("-n", c, "delete", "networkpolicy", "deny-egress", "allow-web")
    eventually(kube, "other reachable again without policies", lambda: fetch(kube, c, topology["other"]) == "hello-from-other")


def test_pod_reaches_api_server_through_kubernetes_service(kube, namespace):
    """In-cluster clients (the operator) reach the API server at kubernetes.default.svc."""
    client(kube, namespace)
    probe = ("import socket; s = socket.create_connection(('kubernetes.default.svc.cluster.local', 443), 5); "
             "print('connected', s.getpeername()[1])")
    out = kube("-n", namespace, "exec", "client", "--", "python3", "-c", probe)
    assert out.strip() == "connected 443"
