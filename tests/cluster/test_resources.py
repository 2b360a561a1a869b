"""Memory limits are enforced (OOMKilled, recorded by the Job) and Guaranteed pods
(whose containers get a negative oom_score_adj) start."""
from conftest import TESTBOX_IMAGE


def test_memory_limit_oomkills_and_job_records_it(kube, namespace):
    # 64 MiB limit; python allocates and touches 200 MiB.
    kube.apply(f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: hog, namespace: {namespace}}}
spec:
  backoffLimit: 0
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes: {{operator: In, values: [137]}}
  template:
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      containers:
      - name: main
        image: {TESTBOX_IMAGE}
        imagePullPolicy: Never
        command: [python3, -c, "b = bytearray(200 * 1024 * 1024); print('survived', len(b))"]
        resources:
          limits: {{memory: 64Mi}}
""")
    job = kube.wait_for("job hog to fail",
                        lambda: (j := kube.json("-n", namespace, "get", "job", "hog"))["status"].get("failed") == 1
                        and any(c["type"] == "Failed" for c in j["status"].get("conditions", [])) and j)
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert failed["status"] == "True"
    assert failed["reason"] == "PodFailurePolicy"
    assert "137" in failed["message"]
    pod = kube.json("-n", namespace, "get", "pods", "-l", "job-name=hog")["items"][0]
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["reason"] == "OOMKilled"
    assert terminated["exitCode"] == 137


def test_guaranteed_pod_starts(kube, namespace):
    kube.apply(f"""
apiVersion: v1
kind: Pod
metadata: {{name: guaranteed, namespace: {namespace}}}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  containers:
  - name: main
    image: {TESTBOX_IMAGE}
    imagePullPolicy: Never
    command: [/bin/sh, -c, "echo started"]
    resources:
      requests: {{cpu: 100m, memory: 64Mi}}
      limits: {{cpu: 100m, memory: 64Mi}}
""")
    pod = kube.wait_for("pod guaranteed to succeed",
                        lambda: (p := kube.json("-n", namespace, "get", "pod", "guaranteed"))["status"]["phase"] == "Succeeded" and p,
                        timeout=90)
    assert pod["status"]["qosClass"] == "Guaranteed"
    assert kube("-n", namespace, "logs", "guaranteed") == "started\n"
