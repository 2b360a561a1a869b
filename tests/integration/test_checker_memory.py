"""The built-in checkers on outputs at the 64 MiB cap, in order and unordered: bounded memory and the
right verdicts.

Each comparison runs in a child Python process that reports its peak RSS (VmHWM) above its RSS
after the imports. The budget is under half an output, so reading either file whole (or
splitting it into a list, 1.4 GiB for short lines) fails it. Times are printed (run with -s), not
asserted: machines are noisy.
"""

import json
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path

import pytest

from gavel_contract import Checker
from gavel_runner import checkers
from gavel_runner.checkers import _show
from gavel_runner.sandbox import under_gvisor

# the checker's own peak is read from /proc/self/status (VmHWM), which gVisor does not give
pytestmark = pytest.mark.skipif(under_gvisor(), reason="no VmHWM in gVisor's /proc/self/status")

CAP = 64 << 20  # outputKb's default
BUDGET_MIB = 32

CHILD = """
import gc, json, re, sys, time
from pathlib import Path
from gavel_contract import Checker
from gavel_runner import checkers

def kib(field):  # this process's own figures: ru_maxrss would include the forked pytest's
    return int(re.search(field + r":\\s+(\\d+)", Path("/proc/self/status").read_text())[1])

gc.collect()
try:
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak to now, dropping the imports' transient peak
except OSError:
    pass
base = kib("VmHWM")
start = time.perf_counter()
cpu = time.process_time()
if sys.argv[1] == "read_bytes":  # the old way, to show that the measurement sees whole files
    output, answer = Path(sys.argv[2]).read_bytes(), Path(sys.argv[3]).read_bytes()
    outcome = checkers.check_bytes(Checker.parse("exact"), output, answer)
else:  # a --checker spec, or a whole Checker as JSON (options the spec cannot say: order, ignoreCase)
    spec = sys.argv[1]
    checker = Checker.model_validate_json(spec) if spec.startswith("{") else Checker.parse(spec)
    outcome = checkers.check_files(checker, Path(sys.argv[2]), Path(sys.argv[3]))
seconds = time.perf_counter() - start
print(json.dumps({"accepted": outcome.accepted, "message": outcome.message, "diff": outcome.diff,
                  "seconds": seconds, "cpu": time.process_time() - cpu, "base_mib": base / 1024,
                  "peak_mib": (kib("VmHWM") - base) / 1024}))
"""

def write(path: Path, blocks: Iterable[bytes]) -> Path:
    with path.open("wb") as f:
        for block in blocks:
            f.write(block)
    return path


def short_lines() -> Iterator[bytes]:
    """Lines "0\\n", "1\\n", ... up to the cap: SHORT_LINES of them, SHORT_SIZE bytes."""
    for i in range(0, SHORT_LINES, 100_000):
        yield b"".join(b"%d\n" % n for n in range(i, i + 100_000))


SHORT_LINES = 8_500_000
SHORT_SIZE = sum((min(SHORT_LINES, 10 ** k) - (10 ** (k - 1) if k > 1 else 0)) * (k + 1) for k in range(1, 8))


def repeat(unit: bytes, size: int) -> Iterator[bytes]:
    block = unit * ((1 << 20) // len(unit))
    for _ in range(size // len(block)):
        yield block
    yield (unit * (size % len(block) // len(unit) + 1))[:size % len(block)]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Iterator[dict[str, tuple[Path, Path, Path]]]:
    """shape -> (output at the cap, an equal answer (a copy), a differing answer)."""
    d = tmp_path_factory.mktemp("outputs")
    short = write(d / "short", short_lines())
    shutil.copyfile(short, d / "short.diff")
    with (d / "short.diff").open("r+b") as f:  # the last line replaced
        last = b"%d\n" % (SHORT_LINES - 1)
        f.seek(-len(last), 2)
        f.write(b"different\n")
    outputs = {
        "short": (short, d / "short.diff"),
        "long": (write(d / "long", chain(repeat(b"a", CAP - 1), [b"\n"])),
                 write(d / "long.diff", chain(repeat(b"a", CAP - 2), [b"b\n"]))),
        "blank": (write(d / "blank", repeat(b" \t\r\n\v\f \n", CAP)), write(d / "blank.diff", [b"x\n"])),
        "tokens": (write(d / "tokens", repeat(b"1 ", CAP)),
                   write(d / "tokens.diff", chain(repeat(b"1 ", CAP - 2), [b"2 "]))),
    }
    shapes = {}
    for shape, (output, differing) in outputs.items():
        assert CAP - 1_000_000 < output.stat().st_size <= CAP, shape
        shutil.copyfile(output, d / f"{shape}.equal")
        shapes[shape] = output, d / f"{shape}.equal", differing
    yield shapes
    shutil.rmtree(d)  # 750 MiB: not worth keeping with pytest's last three temp dirs


def run(checker: str | Checker, output: Path, answer: Path) -> dict:
    """The comparison in a child process: its result, time, CPU and peak memory above its imports."""
    spec = checker.model_dump_json(by_alias=True) if isinstance(checker, Checker) else checker
    child = subprocess.run([sys.executable, "-c", CHILD, spec, str(output), str(answer)],
                           capture_output=True, text=True, timeout=600)
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout)
    name = (f"{checker.kind.value} {checker.order.value} ignoreCase={checker.ignore_case}"
            if isinstance(checker, Checker) else checker)
    print(f"\n{name:10} {output.name:6} vs {answer.name:12} {result['seconds']:6.2f} s ({result['cpu']:.2f} s CPU)  "
          f"peak +{result['peak_mib']:5.1f} MiB (baseline {result['base_mib']:.0f} MiB)  {result['message'][:60]!r}")
    return result


def expected_rejection(checker: str, shape: str) -> str:
    """The message for the differing answer (or its start, when it shows a long line or token)."""
    noun = "line" if checker == "lines" else "token"
    return {
        ("exact", "short"): f"byte {SHORT_SIZE - len(b'%d' % (SHORT_LINES - 1)) - 1} (line {SHORT_LINES}) differs",
        ("exact", "long"): f"byte {CAP - 2} (line 1) differs: output has {CAP} bytes, answer {CAP}",
        ("exact", "blank"): f"byte 0 (line 1) differs: output has {CAP} bytes, answer 2",
        ("exact", "tokens"): f"byte {CAP - 2} (line 1) differs: output has {CAP} bytes, answer {CAP}",
        ("lines", "tokens"): "line 1: expected '1 1 1 1",
        ("lines", "blank"): "expected 1 lines, got 0",
    }.get((checker, shape)) or {
        "short": f"{noun} {SHORT_LINES}: expected 'different', got '{SHORT_LINES - 1}'",
        "long": f"{noun} 1: expected 'aaaa",
        "blank": "expected 1 tokens, got 0",
        "tokens": f"token {CAP // 2}: expected '2', got '1'",
    }[shape]


@pytest.mark.parametrize("shape", ["short", "long", "blank", "tokens"])
@pytest.mark.parametrize("checker", ["exact", "lines", "tokens", "float:1e-6"])
def test_bounded_memory_at_the_output_cap(shapes, checker, shape):
    output, equal, differing = shapes[shape]
    result = run(checker, output, equal)
    assert result["accepted"] and result["message"] == "" and result["diff"] == ""
    assert result["peak_mib"] < BUDGET_MIB

    result = run(checker, output, differing)
    assert not result["accepted"]
    assert result["message"].startswith(expected_rejection(checker, shape)), result["message"]
    assert result["diff"].startswith(result["message"] + "\n") and len(result["diff"].encode()) <= 16 << 10
    assert "--- expected" in result["diff"] and "+++ output" in result["diff"]
    assert result["peak_mib"] < BUDGET_MIB


def test_the_measurement_sees_a_whole_file(shapes):
    output, equal, _ = shapes["short"]
    result = run("read_bytes", output, equal)
    assert result["accepted"] and result["peak_mib"] > 2 * 60  # both files, ~63 MiB each


# --- unordered checkers at the cap (keyed multiset fingerprints) ------------------------------------

WIDTH = 63  # 1 Mi lines of 64 bytes (8-byte lines take ~4x longer: README, Measured)
LINES = CAP // (WIDTH + 1)
STEP = 0x9E3779B1  # odd: i -> STEP * i mod 2**20 is a shuffle of the lines



def write_lines(path: Path, order, changed: dict[int, bytes] | None = None) -> Path:
    fmt = b"%0" + str(WIDTH).encode() + b"d\n"
    with path.open("wb") as f:
        for start in range(0, LINES, 1 << 16):
            f.write(b"".join((changed or {}).get(order(i), fmt % order(i)) for i in range(start, start + (1 << 16))))
    return path


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    d = tmp_path_factory.mktemp("unordered")
    shuffle = lambda i: STEP * i % LINES  # noqa: E731
    files = (write_lines(d / "answer", lambda i: i), write_lines(d / "shuffled", shuffle),
             write_lines(d / "changed", shuffle, {777: b"x" * WIDTH + b"\n"}))
    assert all(f.stat().st_size == CAP for f in files)
    yield files
    for f in files:
        f.unlink()


@pytest.mark.parametrize("c", [Checker(kind="lines", order="unordered"),
                               Checker(kind="tokens", order="unordered", ignoreCase=True)],
                         ids=["lines", "tokens-ignore-case"])
def test_unordered_at_the_output_cap_in_bounded_memory(big, c):
    answer, shuffled, changed = big
    result = run(c, shuffled, answer)
    assert result["accepted"] and result["peak_mib"] < BUDGET_MIB

    result = run(c, changed, answer)
    noun = c.kind.value[:-1]
    assert not result["accepted"] and result["message"] in (  # beyond EXACT_ITEMS: either, by its bucket
        f"{noun} {_show(b'%0*d' % (WIDTH, 777))} appears 1 time in the answer, 0 in the output",
        f"{noun} {_show(b'x' * WIDTH)} appears 0 times in the answer, 1 in the output")
    assert result["diff"].startswith(result["message"] + "\n--- expected\n+++ output\n@@ -")
    assert len(result["diff"].encode()) <= checkers.MAX_DIFF and result["peak_mib"] < BUDGET_MIB


@pytest.mark.parametrize("shape", ["short lines", "1-byte tokens", "2-byte tokens", "one long line"])
def test_unordered_batches_under_tracemalloc(tmp_path, shape):
    """The worst shapes of a batch (the most items in a FLOAT_CHUNK, or one long item), on 1 MiB (4 batches
    and more; tracemalloc makes each allocation slow): Python's own allocations stay under 12 MiB, and do
    not grow with the output (the test above measures the whole process at the cap)."""
    size = 1 << 20
    item, sep, n = {"short lines": (lambda i: b"%d" % (i * 7919 % 1_000_000), b"\n", size // 7),
                    "1-byte tokens": (lambda i: b"%d" % (i % 10), b" ", size // 2),
                    "2-byte tokens": (lambda i: b"%02x" % (i % 256), b" ", size // 3),
                    "one long line": (lambda i: b"ab" * (size // 2), b"\n", 1)}[shape]
    (tmp_path / "ans").write_bytes(sep.join(map(item, range(n))))
    output = sep.join(map(item, reversed(range(n))))  # the same items in another order
    (tmp_path / "out").write_bytes(output)
    (tmp_path / "bad").write_bytes(output[:-1] + b"zz")
    c = Checker(kind="tokens" if "tokens" in shape else "lines", order="unordered")
    for name, accepted in (("out", True), ("bad", False)):
        tracemalloc.start()
        start = time.perf_counter()
        try:
            outcome = checkers.check_files(c, tmp_path / name, tmp_path / "ans")
            peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
        finally:
            tracemalloc.stop()
        print(f"\n{shape} {name}: {time.perf_counter() - start:.2f} s, tracemalloc peak {peak:.1f} MiB")
        assert outcome.accepted is accepted, outcome.message
        assert peak < 12
