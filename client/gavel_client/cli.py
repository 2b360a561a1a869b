"""`gavel submit`, `gavel status`, `gavel fetch` (argument parsing lives with `gavel judge`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import client


def _table(obj: dict) -> str:
    st = obj.get("status") or {}
    rows = [f"{obj['metadata']['namespace']}/{obj['metadata']['name']}: {st.get('phase')} "
            f"{st.get('verdict') or ''} {st.get('passed') or ''}".rstrip()]
    for t in st.get("tests") or []:
        rows.append(f"  {t['name']:<12} {t['verdict']:<20} {t.get('cpuTimeMs', 0):>6} ms {t.get('memoryKb', 0):>8} kB"
                    f"  {t.get('message', '')}"[:160])
    if (pr := st.get("progress") or {}).get("summary") and st.get("phase") == "Running":
        rows.append(f"  progress {pr['summary']}" + (f", running test {pr['test']}" if pr.get("test") else "")
                    + "".join(f", {v} {n}" for v, n in (pr.get("verdicts") or {}).items()))
    if st.get("message"):
        rows.append(f"  {st['message']}"[:500])
    for field in ("logUrl", "outputsUrl"):
        if st.get(field):
            rows.append(f"  {field}: {st[field]}")
    for key, where in (st.get("locations") or {}).items():
        if key != "links":
            rows.append(f"  {key}: {where}")
    return "\n".join(rows)


def main(args: argparse.Namespace) -> int:
    storage = client.Storage.from_env(endpoint=args.s3_endpoint, bucket=args.bucket)
    if args.command == "submit":
        from gavel_runner.cli import discover_tests

        spec = {"queue": args.queue, "priority": args.priority, "callbackUrl": args.callback_url}
        limits = {k: v for k, v in (("timeMs", args.time_limit), ("memoryKb", args.memory_limit),
                                    ("processes", args.processes)) if v}
        if limits:
            spec["limits"] = limits
        if args.checker:
            kind, _, eps = args.checker.partition(":")
            spec["checker"] = {"kind": kind, **({"epsilon": float(eps)} if eps else {})}
        obj = client.submit(storage, args.namespace, Path(args.source), args.language,
                            discover_tests(Path(args.tests)), name=args.name, prefix=args.prefix, **spec)
        name = obj["metadata"]["name"]
        print(f"created evaluation {args.namespace}/{name}", file=sys.stderr)
        if not args.wait:
            print(name)
            return 0
        obj = client.wait(args.namespace, name, on_change=lambda o: print(
            f"  … {(o.get('status') or {}).get('phase')}", file=sys.stderr))
        print(_table(obj))
        if args.output_dir:
            for path in client.fetch(storage, obj, Path(args.output_dir)):
                print(f"  fetched {path}")
        return 0
    if args.command == "status":
        obj = client.wait(args.namespace, args.name) if args.wait else client.get(args.namespace, args.name)
        print(json.dumps(obj.get("status") or {}, indent=2) if args.json else _table(obj))
        return 0
    obj = client.get(args.namespace, args.name)
    if args.url:  # links to hand on, printed only: never written anywhere
        try:
            links = client.signed_links(storage, obj, args.expires)
        except (client.NotItsOwn, ValueError) as err:
            print(f"gavel fetch: {err}", file=sys.stderr)
            return 1
        for name, url in links.items():
            print(f"{name}\t{url}")
        return 0
    if not args.output_dir:
        print("gavel fetch: give --output-dir DIR, or --url", file=sys.stderr)
        return 2
    for path in client.fetch(storage, obj, Path(args.output_dir)):
        print(path)
    return 0
