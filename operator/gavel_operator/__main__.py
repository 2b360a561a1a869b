"""`python -m gavel_operator`: run the operator (kopf) with Gavel's handlers; with
GAVEL_LEADER_LEASE (namespace/name), only once this replica holds that Lease (leader.py)."""

from __future__ import annotations

import logging
import os
import sys
from urllib.parse import urlsplit


def prepare(settings) -> None:
    """What must happen before kopf is imported and any thread starts."""
    from .heap import limit_arenas

    if settings.malloc_arenas:
        limit_arenas(settings.malloc_arenas)
    # kopf imports the official client's models when it is installed (to recognise its objects in
    # kopf.adopt): 23 MB the operator never uses, since it speaks to the API server itself (kube.py).
    # Installed beside it (a dev venv: gavel_client's extra), it is kept out of this process.
    sys.modules.setdefault("kubernetes", None)  # type: ignore[arg-type]


def main() -> None:
    from .settings import Settings

    settings = Settings.from_env()
    prepare(settings)
    from kopf.cli import main as kopf_main

    # GAVEL_NAMESPACES (comma-separated) confines it to those namespaces; default: all of them
    scope = [arg for n in settings.namespace_list for arg in ("--namespace", n)] or ["--all-namespaces"]
    liveness = os.environ.get("GAVEL_LIVENESS", "http://0.0.0.0:8081/healthz")
    args = ["run", "--standalone", *scope, "-m", "gavel_operator.handlers", "--liveness", liveness,
            "--log-format", os.environ.get("GAVEL_LOG_FORMAT", "json"), *sys.argv[1:]]
    sys.argv = ["kopf", *args]
    if not settings.leader_lease:
        kopf_main()
        return
    import kopf

    from .leader import lead

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    kopf_settings = kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=kopf_settings) or \
        kopf.login_with_kubeconfig(settings=kopf_settings)

    def run_kopf() -> None:
        root = logging.getLogger()
        for handler in list(root.handlers):  # kopf adds its own (--log-format): one line per record, not two
            root.removeHandler(handler)
        kopf_main()

    lead(info, settings.leader_lease, urlsplit(liveness).port, settings.metrics_port, run_kopf)


if __name__ == "__main__":
    main()
