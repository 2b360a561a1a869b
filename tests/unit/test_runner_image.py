"""The runner image copies only what the runner needs, and its key (cluster/images.sh key runner)
follows exactly those files: a README, docs, tests or operator change does not rebuild it."""

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "runner-image" / "Dockerfile"


def copied_sources() -> list[str]:
    sources = []
    for line in DOCKERFILE.read_text().splitlines():
        words = line.split()
        if words and words[0].upper() == "COPY" and not any(w.startswith("--from=") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


def test_the_image_copies_only_the_runners_files():
    assert copied_sources() == ["runner-image/gavel_runner/sandbox.c", "runner-image/pyproject.toml",
                                "contract/gavel_contract", "languages", "runner-image/gavel_runner"]


def test_the_runners_package_follows_the_repositorys():
    whole = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runner = tomllib.loads((ROOT / "runner-image" / "pyproject.toml").read_text())
    for key in ("name", "version", "requires-python", "dependencies", "scripts"):
        assert runner["project"][key] == whole["project"][key], key
    packages = runner["tool"]["setuptools"]["packages"]
    # every package of the contract and the runner the repository installs, subpackages included
    # (gavel_runner.checkers: left out, the image's runner failed at its first import)
    assert packages == [p for p in whole["tool"]["setuptools"]["packages"]
                        if p.split(".")[0] in ("gavel_contract", "gavel_runner")]
    for package in packages:  # laid out as in the repository, whose directories the image copies
        if package in runner["tool"]["setuptools"]["package-dir"]:
            assert runner["tool"]["setuptools"]["package-dir"][package] == whole["tool"]["setuptools"]["package-dir"][package]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_image_key_follows_only_the_copied_files(tmp_path):
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    repo = tmp_path / "repo"
    for name in filter(None, files.decode().split("\0")):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)

    def key() -> str:
        out = subprocess.run(["bash", str(repo / "cluster" / "images.sh"), "key", "runner"], capture_output=True,
                             text=True, check=True, env={"PATH": "/usr/bin:/bin", "GAVEL_CACHE": str(tmp_path / "c")})
        return out.stdout.strip()

    first = key()
    assert len(first) == 16
    for name in ("README.md", "docs/cluster.md", "operator/gavel_operator/handlers.py", "tests/unit/test_ceilings.py",
                 "client/gavel_client/cli.py", "pyproject.toml", "Makefile"):
        with open(repo / name, "a") as f:
            f.write("\n# changed\n")
    (repo / "runner-image" / "gavel_runner" / "__pycache__").mkdir()
    (repo / "runner-image" / "gavel_runner" / "__pycache__" / "judge.cpython-311.pyc").write_bytes(b"x")
    assert key() == first  # nothing the image copies changed
    for name in ("runner-image/gavel_runner/judge.py", "languages/c.yaml", "contract/gavel_contract/models.py",
                 "runner-image/Dockerfile"):
        before = key()
        with open(repo / name, "a") as f:
            f.write("\n# changed\n")
        assert key() != before, name


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_each_family_image_has_its_own_key_and_packages():
    """runner and runner-FAMILY: one Dockerfile, told apart by their packages (part of the key)."""
    names = ["runner", "runner-native", "runner-jvm", "runner-dotnet", "runner-functional", "runner-scripting"]

    def images_sh(*args: str) -> str:
        return subprocess.run(["bash", str(ROOT / "cluster" / "images.sh"), *args], capture_output=True, text=True,
                              check=True, env={"PATH": "/usr/bin:/bin", "GAVEL_CACHE": "/nonexistent"}).stdout.strip()

    keys = {n: images_sh("key", n) for n in names}
    assert len(set(keys.values())) == len(names)
    assert "openjdk-17-jdk-headless" in images_sh("packages", "runner").split()
    assert {"kotlin", "scala"} <= set(images_sh("packages", "runner-jvm").split())
    refused = subprocess.run(["bash", str(ROOT / "cluster" / "images.sh"), "key", "runner-cobol"],
                             capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "GAVEL_CACHE": "/nonexistent"})
    assert refused.returncode != 0 and "no runner image runner-cobol" in refused.stderr
