import signal

from gavel_contract import Limits, TestVerdict
from gavel_runner.sandbox import Measurement, parse
from gavel_runner.verdicts import Starved, classify

LIMITS = Limits(timeMs=1000, memoryKb=65536, outputKb=64)


def m(**kw):
    base = dict(exit_code=0, signal=None, cpu_ms=10, wall_ms=12, rss_kb=1000, killed="none", leftovers=0, dropped=True)
    return Measurement(**{**base, **kw})


def test_clean_run_goes_to_the_checker():
    assert classify(m(), LIMITS, 10) == (None, "")


def test_time_is_cpu_time_or_wall_time():
    assert classify(m(cpu_ms=1001), LIMITS, 0)[0] == TestVerdict.TIME_LIMIT_EXCEEDED
    assert classify(m(killed="cpu", cpu_ms=990), LIMITS, 0)[0] == TestVerdict.TIME_LIMIT_EXCEEDED
    v, msg = classify(m(killed="wall", wall_ms=3001, signal=9, exit_code=None), LIMITS, 0)
    assert v == TestVerdict.TIME_LIMIT_EXCEEDED and "sleeping" in msg
    assert LIMITS.wall_limit_ms == 3000


def test_waiting_for_a_cpu_is_not_wall_time():
    # a crowded node: 3.5 s of wall, 2.9 s of it waiting for a CPU (sandbox.c's waited_ms)
    assert classify(m(cpu_ms=550, wall_ms=3500, waited_ms=2900), LIMITS, 0) == (None, "")
    v, msg = classify(m(cpu_ms=20, wall_ms=3600, waited_ms=500, killed="wall", signal=9, exit_code=None), LIMITS, 0)
    assert v == TestVerdict.TIME_LIMIT_EXCEEDED
    assert msg == ("wall time 3100 ms exceeds the limit of 3000 ms (CPU time 20 ms: sleeping or blocked, "
                   "not counting 500 ms waiting for a CPU)")
    # stretched to 3 x its wall limit by waiting: the node's fault, no verdict
    try:
        classify(m(cpu_ms=300, wall_ms=9010, waited_ms=8600, killed="starved", signal=9, exit_code=None), LIMITS, 0)
    except Starved as err:
        assert "waited 8600 ms of 9010 ms for a CPU" in str(err)
    else:
        raise AssertionError("a starved run was given a verdict")


def test_memory_is_measured_peak():
    assert classify(m(rss_kb=65537), LIMITS, 0)[0] == TestVerdict.MEMORY_LIMIT_EXCEEDED
    assert classify(m(rss_kb=65536), LIMITS, 0)[0] is None
    # a crash under the limit is a crash, not a guess at memory
    assert classify(m(signal=signal.SIGSEGV, exit_code=None, rss_kb=60000), LIMITS, 0)[0] == TestVerdict.RUNTIME_ERROR


def test_output_limit():
    assert classify(m(), LIMITS, 64 * 1024 + 1)[0] == TestVerdict.OUTPUT_LIMIT_EXCEEDED
    assert classify(m(signal=signal.SIGXFSZ, exit_code=None), LIMITS, 0)[0] == TestVerdict.OUTPUT_LIMIT_EXCEEDED


def test_runtime_errors_name_the_cause():
    assert classify(m(exit_code=3), LIMITS, 0) == (TestVerdict.RUNTIME_ERROR, "exit code 3")
    assert classify(m(signal=11, exit_code=None), LIMITS, 0) == (TestVerdict.RUNTIME_ERROR, "killed by SIGSEGV")


def test_parse_sandbox_line():
    got = parse("exit=-1 signal=9 cpu_ms=3 wall_ms=300 rss_kb=1500 killed=wall leftovers=1 dropped=1\n")
    assert got == Measurement(None, 9, 3, 300, 1500, "wall", 1, True)
    got = parse("exit=0 signal=0 cpu_ms=601 wall_ms=3104 waited_ms=2485 rss_kb=1016 killed=none leftovers=0 dropped=0 "
                "cleaned=0 end_ms=34821008\n")
    assert (got.wall_ms, got.waited_ms, got.end_ms) == (3104, 2485, 34821008)


def test_the_starved_factor_is_one_number():
    """sandbox.c kills a run as starved at STARVED_FACTOR x its wall limit; the runner's watchdog and the
    operator's pod deadline allow as much from the contract's constant."""
    import re
    from pathlib import Path
    from gavel_contract import STARVED_FACTOR
    source = (Path(__file__).resolve().parents[2] / "runner-image" / "gavel_runner" / "sandbox.c").read_text()
    assert int(re.search(r"#define STARVED_FACTOR (\d+)", source).group(1)) == STARVED_FACTOR
