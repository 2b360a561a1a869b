"""examples/contest.yaml through the installed chart, as `make demo` runs it: the example Problems and
the eight Evaluations labelled for the contest, judged by real Jobs; the scoreboard's HTML page, read
from storage, opened in a real browser (headless Chromium) and its rendered text read back from the
PDF Chromium prints: the ranking a person sees, not only the file's markup."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import yaml

from chart import ROOT, apply

EXAMPLES = ROOT / "examples"
PROBLEMS = ("sum", "subtasks", "fileio")
# (rank, name, score) as examples/contest.yaml says: sum 4 + subtasks 70; sum 3 (wrong answer on one
# test of four) + fileio 50
EXPECTED = [(1, "Team One", 74), (2, "Team Two", 53)]


def in_namespace(doc: dict, namespace: str) -> dict:
    """An example as it is, its storage keys under this namespace's prefix instead of default/."""
    text = yaml.safe_dump(doc).replace("default/problems/", f"{namespace}/problems/")
    return yaml.safe_load(text)


def chromium(*args: str) -> None:
    browser = shutil.which("chromium")
    assert browser, "chromium missing: scripts/install-toolchains.sh installs it"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    "--window-size=1200,800", *args], check=True, capture_output=True, timeout=120)


def test_the_demo_contest_ranked_and_rendered(kube, namespace, storage, tmp_path):
    for name in PROBLEMS:
        source = EXAMPLES / "problems" / name
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            storage.put(f"{namespace}/problems/{name}/{path.relative_to(source).as_posix()}", path.read_text())
    problems = [d for d in yaml.safe_load_all((EXAMPLES / "problems.yaml").read_text()) if d["metadata"]["name"] in PROBLEMS]
    apply(kube, namespace, [in_namespace(p, namespace) for p in problems])
    for name in PROBLEMS:
        kube("-n", namespace, "wait", "--for=condition=Ready", f"problem/{name}", "--timeout=60s")
    labelled = [d for d in (yaml.safe_load(p.read_text()) for p in sorted((EXAMPLES / "evaluations").glob("*.yaml")))
                if (d["metadata"].get("labels") or {}).get("gavel.dev/contest") == "demo"]
    assert len(labelled) == 8
    apply(kube, namespace, [in_namespace(d, namespace) for d in labelled])
    apply(kube, namespace, [yaml.safe_load((EXAMPLES / "contest.yaml").read_text())])

    deadline = time.monotonic() + 600
    while True:
        status = kube.json("-n", namespace, "get", "contest", "demo").get("status") or {}
        if status.get("judged") == 8 and status.get("pending") == 0:
            break
        assert time.monotonic() < deadline, status
        time.sleep(2)
    assert [(r["rank"], r["name"], r["score"]) for r in status["top"]] == EXPECTED, status
    assert status["leader"] == "Team One" and not status.get("message"), status
    table = kube("-n", namespace, "get", "contests")
    assert "ioi" in table and "Team One" in table, table

    url = status["scoreboards"]["publicHtml"]
    bucket, key = url.removeprefix("s3://").split("/", 1)
    page = tmp_path / "public.html"
    resp = storage.client.get_object(bucket, key)
    try:
        page.write_bytes(resp.read())
    finally:
        resp.close()
        resp.release_conn()
    chromium(f"--print-to-pdf={tmp_path / 'page.pdf'}", page.as_uri())
    chromium(f"--screenshot={tmp_path / 'page.png'}", page.as_uri())
    assert (tmp_path / "page.png").stat().st_size > 5_000  # a page drawn, not a blank one
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "page.pdf"), "-"], check=True,
                          capture_output=True, text=True).stdout
    # the rendered rows, in the order a reader sees them: "1    Team One    74    4    70"
    rows = [(int(m[1]), m[2], int(m[3])) for m in re.finditer(r"^\s*(\d+)\s+(Team \w+)\s+(\d+)", text, re.M)]
    assert rows == EXPECTED, text
    assert "Gavel demo contest" in text, text
