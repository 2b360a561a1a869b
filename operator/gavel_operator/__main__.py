"""`python -m gavel_operator`: run the operator (kopf) with Gavel's handlers."""

from __future__ import annotations

import os
import sys


def main() -> None:
    from kopf.cli import main as kopf_main

    args = ["run", "--standalone", "--all-namespaces", "-m", "gavel_operator.handlers",
            "--liveness", os.environ.get("GAVEL_LIVENESS", "http://0.0.0.0:8081/healthz"),
            "--log-format", os.environ.get("GAVEL_LOG_FORMAT", "json"), *sys.argv[1:]]
    sys.argv = ["kopf", *args]
    kopf_main()


if __name__ == "__main__":
    main()
