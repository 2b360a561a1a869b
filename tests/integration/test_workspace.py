"""The judgement's directories as the runner makes them (workspace.py), and the egress check.
Run as root, as in the runner image: ownership and modes are the point."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time

import pytest

from gavel_contract import EgressCheck
from gavel_runner import egress
from gavel_runner.workspace import UnsafeDirectory, expose, fresh_dir, seal, secure_base

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="ownership needs root (the runner image runs as root)")
UID = 1_999_999_001


def test_a_world_writable_base_without_sticky_bit_is_refused(tmp_path):
    # the pod's emptyDir as the kubelet makes it: 0777, no sticky bit
    base = tmp_path / "emptydir"
    base.mkdir()
    base.chmod(0o777)
    with pytest.raises(UnsafeDirectory, match="without the sticky bit"):
        secure_base(base)
    # the pod's own mount (GAVEL_WORK_DIR): the runner closes it before anything runs
    assert secure_base(base, owned_mount=True) == base
    assert stat.S_IMODE(base.stat().st_mode) == 0o711


def test_a_sticky_temp_dir_is_safe(tmp_path):
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    assert secure_base(sticky) == sticky


def test_seal_follows_nothing_and_keeps_only_files_dirs_and_links(tmp_path):
    build = tmp_path / "build"
    build.mkdir()
    (build / "main").write_text("x")
    (build / "main").chmod(0o775)
    (build / "sub").mkdir()
    victim = tmp_path / "victim"
    victim.write_text("root's")
    victim.chmod(0o600)
    (build / "link").symlink_to(victim)
    os.mkfifo(build / "fifo")
    os.link(victim, build / "hardlink")
    for p in (build, build / "main", build / "sub"):
        os.chown(p, UID, UID)
    seal(build)
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600  # the link's target untouched
    assert not (build / "fifo").exists() and not (build / "hardlink").exists()
    st = (build / "main").stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o555)
    assert stat.S_IMODE((build / "sub").stat().st_mode) == 0o555


def test_fresh_dir_and_expose(tmp_path):
    run = fresh_dir(tmp_path / "run", UID, UID)
    assert (run.stat().st_uid, stat.S_IMODE(run.stat().st_mode)) == (UID, 0o700)
    (run / "left").write_text("x")
    assert not (fresh_dir(tmp_path / "run", UID, UID) / "left").exists()
    src = tmp_path / "answer"
    src.write_text("42\n")
    src.chmod(0o600)
    files = expose({"answer": src}, tmp_path / "check", UID)
    st = files["answer"].stat()
    assert (st.st_gid, stat.S_IMODE(st.st_mode), files["answer"].read_text()) == (UID, 0o640, "42\n")
    assert stat.S_IMODE((tmp_path / "check").stat().st_mode) == 0o750


def test_fresh_dir_trusts_an_unchanged_ctime_only(tmp_path):
    # found empty, then (in the same clock tick or a later one) something made there: always seen
    for pause in (0, 0.02):
        run = fresh_dir(tmp_path / "run", UID, UID)
        assert fresh_dir(run, UID, UID) == run  # found empty again: marked when its ctime is settled
        time.sleep(pause)
        (run / "left").write_text("x")
        assert not (fresh_dir(run, UID, UID) / "left").exists()
        os.chmod(run, 0o777)  # a chmod changes the ctime too
        assert stat.S_IMODE(fresh_dir(run, UID, UID).stat().st_mode) == 0o700


def test_egress_check_waits_until_refused():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    threading.Timer(0.6, server.close).start()  # "the policy arrives" after 0.6 s
    start = time.monotonic()
    waited = egress.wait_closed(EgressCheck(addresses=[f"127.0.0.1:{port}"], timeoutSeconds=10))
    assert 0.4 < waited < 5 and time.monotonic() - start < 5


def test_egress_check_gives_up_when_never_refused():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with pytest.raises(egress.EgressOpen, match="not enforced"):
            egress.wait_closed(EgressCheck(addresses=[f"127.0.0.1:{port}"], timeoutSeconds=1))
