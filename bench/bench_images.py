"""make bench-images: what a node without the images pays for the first Evaluation in each runner
image, against the second, on the demo install of the local cluster. Prints numbers; asserts nothing.

A node here gets images from archives (`cluster/images.sh`: what `docker save` wrote, imported by
containerd), the stand-in for a registry pull: no registry is reachable from this machine. The
bench removes every runner image from the node's containerd (`ctr images rm --sync`: unreferenced
layers go too), then, image by image: imports its archive (timed: the "pull"), applies one
Evaluation of A+B in a language of that image (the first: the pod starts from an image just
unpacked, its files not in the page cache) and, once judged, a second (warm). The images share
their bottom layers (the debootstrapped base and python3): the archives' layers are listed to say
how many bytes a node that takes them all fetches, against the sum of their sizes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import kubectl  # noqa: E402
from bench_operator import INPUTS, RELEASE, RELEASE_NS, bundled_storage  # noqa: E402
from bench_runner import hello_programs  # noqa: E402  (A+B in every language, from the integration tests)

NS = "gavel-bench-images"
CONTAINERD_SOCK = "/run/gavel-containerd/containerd.sock"  # cluster/lib.sh: the local cluster's containerd
FAMILIES = ("native", "jvm", "dotnet", "functional", "scripting")
# image -> a language judged in it (the first one's start-up is what a contestant waits for)
LANGUAGES = {"runner": "cpp", "runner-native": "pascal", "runner-jvm": "kotlin", "runner-dotnet": "csharp",
             "runner-functional": "haskell", "runner-scripting": "ruby"}
FINAL = {"Succeeded", "Failed", "Canceled"}


def sh(*args: str, **kw) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kw).stdout.strip()


def tag(image: str) -> str:
    return f"gavel.local/{image}:dev"  # cluster/images.sh project_tag; its archive holds the chart's tag too


def tags(image: str) -> list[str]:
    app = next(line.split('"')[1] for line in (ROOT / "charts" / "gavel" / "Chart.yaml").read_text().splitlines()
               if line.startswith("appVersion:"))
    return [tag(image), f"gavel.local/{image}:{app}"]


def seconds(a: str, b: str) -> float:
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(b) - parse(a)).total_seconds()


def layers(archive: str) -> dict[str, int]:
    """The layers of a `docker save` archive, by name (the layer's digest), with their sizes."""
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        members = {m.name: m.size for m in tar.getmembers()}
    return {layer: members[layer] for entry in manifest for layer in entry["Layers"]}


def ctr(*args: str) -> str:
    return sh("ctr", "-a", CONTAINERD_SOCK, "-n", "k8s.io", *args)


def evaluation(name: str, language: str) -> dict:
    return {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": name},
            "spec": {"language": language, "submission": {"key": f"{NS}/hello/{language}"},
                     "limits": {"timeMs": 5000, "memoryKb": 262144},
                     "tests": [{"name": str(i), "input": {"key": f"{NS}/sum/tests/{i}.in"},
                                "expected": {"key": f"{NS}/sum/tests/{i}.out"}} for i in range(1, 5)]}}


def judged(kube: kubectl.Kube, name: str, timeout: float = 600) -> dict:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        ev = kube.json("-n", NS, "get", "evaluation", name)
        if (ev.get("status") or {}).get("phase") in FINAL:
            st = ev["status"]
            if st.get("verdict") != "Accepted":
                raise SystemExit(f"{name}: {st.get('phase')} {st.get('verdict')} {st.get('message')}")
            return ev
        time.sleep(0.5)
    raise SystemExit(f"{name}: not judged in {timeout:.0f} s")


def main() -> None:
    if os.environ.get("CLUSTER", "local") != "local":
        raise SystemExit("make bench-images runs on the local cluster (CLUSTER=local): it removes images from its "
                         "containerd")
    kube = kubectl.from_environment()
    helm = sh(str(ROOT / "scripts" / "helm.sh"))
    print(f"[bench] every family's languages in the install (languages.families={{{','.join(FAMILIES)}}})", flush=True)
    sh(helm, "--kubeconfig", kube.kubeconfig, "upgrade", RELEASE, str(ROOT / "charts" / "gavel"), "-n", RELEASE_NS,
       "--reuse-values", "--set", f"languages.families={{{','.join(FAMILIES)}}}", "--wait", "--timeout", "5m")
    kube("create", "namespace", NS, check=False)
    storage = bundled_storage(kube)
    for i, text in enumerate(INPUTS, 1):
        storage.put(f"{NS}/sum/tests/{i}.in", f"{text}\n".encode())
        storage.put(f"{NS}/sum/tests/{i}.out", f"{sum(int(x) for x in text.split())}\n".encode())
    programs = hello_programs()
    for language in LANGUAGES.values():
        storage.put(f"{NS}/hello/{language}", programs[language].encode())
    archives = {image: sh(str(ROOT / "cluster" / "images.sh"), "archive", image) for image in LANGUAGES}
    for image, archive in archives.items():
        if not Path(archive).is_file():
            raise SystemExit(f"no archive of {image} ({archive}): make images-families")
    sizes = {image: layers(archive) for image, archive in archives.items()}

    kube("-n", NS, "delete", "evaluations", "--all", "--wait=true", "--timeout=180s", check=False)
    print("[bench] removing the runner images from the node", flush=True)
    for image in LANGUAGES:
        for ref in tags(image):
            try:
                ctr("images", "rm", "--sync", ref)
            except subprocess.CalledProcessError:
                pass  # not on the node
    rows, seen = [], set()
    try:
        for image, language in LANGUAGES.items():
            print(f"[bench] {image}: importing, then two Evaluations in {language}", flush=True)
            start = time.perf_counter()
            sh(str(ROOT / "cluster" / "images.sh"), "reload", tag(image))
            imported = time.perf_counter() - start
            new = sum(size for layer, size in sizes[image].items() if layer not in seen)
            seen |= set(sizes[image])
            times = []
            for attempt in ("first", "second"):
                name = f"{image}-{attempt}"
                kube("-n", NS, "apply", "-f", "-", input=json.dumps(evaluation(name, language)))
                ev = judged(kube, name)
                times.append(seconds(ev["metadata"]["creationTimestamp"], ev["status"]["finishedAt"]))
            rows.append((image, language, sum(sizes[image].values()), new, imported, *times))
    finally:
        for image in LANGUAGES:  # whatever happened, the node holds every image again
            sh(str(ROOT / "cluster" / "images.sh"), "reload", tag(image))
        kube("-n", NS, "delete", "evaluations", "--all", "--wait=false", check=False)
    mb = 1e6
    print()
    print("| image | language | archive MB | new layers MB (in this order) | import s | first Evaluation s | "
          "second s |")
    print("|---|---|---|---|---|---|---|")
    for image, language, size, new, imported, first, second in rows:
        print(f"| `{image}` | {language} | {size / mb:,.0f} | {new / mb:,.0f} | {imported:.1f} | {first:.0f} | "
              f"{second:.0f} |")
    total = sum(r[2] for r in rows)
    unique = sum(r[3] for r in rows)
    print(f"\nall six: {total / mb:,.0f} MB of archives, {unique / mb:,.0f} MB of distinct layers "
          f"({(1 - unique / total) * 100:.0f}% shared)")


if __name__ == "__main__":
    main()
