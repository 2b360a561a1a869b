"""Material written by others, fetched at test time and never committed: problemtools (the problem
package format's reference implementation, Kattis/problemtools) as its source distribution on PyPI,
which carries its example problems (examples/: hello, different, guess, oddecho) and its default
output validator's test cases (tests/default_validator_tests/).

Fetched once with pip into $GAVEL_CACHE/others/ (default /var/cache/gavel); a test needing it is
skipped, saying why, when the registry cannot be reached."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

PROBLEMTOOLS_VERSION = "1.20260907"
CACHE = Path(os.environ.get("GAVEL_CACHE", "/var/cache/gavel")) / "others"


def problemtools() -> Path:
    """The unpacked problemtools sdist (its top directory), or pytest.skip."""
    top = CACHE / f"problemtools-{PROBLEMTOOLS_VERSION}"
    if (top / "examples").is_dir():
        return top
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        run = subprocess.run([sys.executable, "-m", "pip", "download", f"problemtools=={PROBLEMTOOLS_VERSION}",
                              "--no-deps", "--no-binary", ":all:", "-d", tmp],
                             capture_output=True, text=True, timeout=600)
        archives = list(Path(tmp).glob("problemtools-*.tar.gz"))
        if run.returncode != 0 or not archives:
            pytest.skip(f"problemtools {PROBLEMTOOLS_VERSION} could not be fetched from PyPI: "
                        f"{(run.stderr or run.stdout).strip()[-300:]}")
        with tarfile.open(archives[0]) as tar:
            tar.extractall(tmp, filter="data")
        os.replace(Path(tmp) / top.name, top)
    return top
