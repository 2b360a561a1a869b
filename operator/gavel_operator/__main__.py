"""`python -m gavel_operator`: run the operator (kopf) with Gavel's handlers."""

from __future__ import annotations

import os
import sys


def main() -> None:
    from kopf.cli import main as kopf_main

    from .settings import Settings

    # GAVEL_NAMESPACES (comma-separated) confines it to those namespaces; default: all of them
    namespaces = Settings.from_env().namespace_list
    scope = [arg for n in namespaces for arg in ("--namespace", n)] or ["--all-namespaces"]
    args = ["run", "--standalone", *scope, "-m", "gavel_operator.handlers",
            "--liveness", os.environ.get("GAVEL_LIVENESS", "http://0.0.0.0:8081/healthz"),
            "--log-format", os.environ.get("GAVEL_LOG_FORMAT", "json"), *sys.argv[1:]]
    sys.argv = ["kopf", *args]
    kopf_main()


if __name__ == "__main__":
    main()
