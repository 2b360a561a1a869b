"""Ceilings: a namespace's maximums, checked at admission with the limit in the message."""

import json

from gavel_contract import Limits
from gavel_operator.ceilings import DEFAULT, Ceilings, violation
from gavel_operator.settings import Settings

LIMITS = [("1", Limits(timeMs=1000, memoryKb=65536)), ("2", Limits(timeMs=5000, memoryKb=65536))]


def test_within_every_ceiling_passes():
    assert violation(Ceilings(maxTests=2, maxTimeMs=5000, maxMemoryKb=65536), "a", 2, LIMITS, 300) is None
    assert violation(Ceilings(), "a", 1000, LIMITS, 86_400) is None  # no ceiling: nothing refused


def test_each_ceiling_names_the_limit_and_the_setting():
    assert violation(Ceilings(maxTests=1), "team-a", 2, LIMITS, 300) == \
        "2 tests exceed namespace team-a's ceiling of 1 (ceilings.maxTests)"
    assert violation(Ceilings(maxTimeMs=2000), "team-a", 2, LIMITS, 300) == \
        "test 2: timeMs 5000 exceeds namespace team-a's ceiling of 2000 (ceilings.maxTimeMs)"
    assert "wallMs 11000" in violation(Ceilings(maxWallMs=10000), "a", 2, LIMITS, 300)
    assert "memoryKb 65536" in violation(Ceilings(maxMemoryKb=32768), "a", 2, LIMITS, 300)
    assert "outputKb 65536" in violation(Ceilings(maxOutputKb=1024), "a", 2, LIMITS, 300)
    assert "(ceilings.maxDeadlineSeconds)" in violation(Ceilings(maxDeadlineSeconds=100), "a", 2, LIMITS, 300)
    threads = [("1", Limits(processes=64)), ("2", Limits(processes=512))]
    assert violation(Ceilings(maxProcesses=256), "a", 2, threads, 300) == \
        "test 2: processes 512 exceeds namespace a's ceiling of 256 (ceilings.maxProcesses)"


def test_processes_not_asked_for_are_the_languages_and_not_held_to_the_ceiling():
    # the Language's own value (Java's 64, C's 64) is the administrator's: a ceiling below it holds
    # only what an Evaluation or a Problem asks for
    assert violation(Ceilings(maxProcesses=8), "a", 2, LIMITS, 300) is None


def test_a_namespace_ceiling_is_laid_over_the_default():
    default = Ceilings(maxTests=100, maxRunning=5)
    settings = Settings(ceilings=default, namespace_ceilings={"contest": Ceilings(maxRunning=20)})
    assert settings.ceilings_for("contest") == Ceilings(maxTests=100, maxRunning=20)
    assert settings.ceilings_for("other") == default


def test_ceilings_from_the_environment_as_the_chart_sets_them():
    s = Settings.from_env({"GAVEL_CEILINGS": '{"maxTimeMs": 2000}',
                           "GAVEL_NAMESPACE_CEILINGS": '{"contest": {"maxRunning": 3}}'})
    assert s.ceilings.max_time_ms == 2000 and s.namespace_ceilings["contest"].max_running == 3


def maximal_request(tests: int = 100):
    """What an attacker asks for: every limit at the CRD's maximum, and many tests."""
    from gavel_operator.resources import EvaluationSpec

    big = {"timeMs": 600_000, "wallMs": 1_200_000, "memoryKb": 16 * 1024 * 1024, "outputKb": 1024 * 1024,
           "processes": 4096}
    return EvaluationSpec.model_validate({
        "language": "cpp", "submission": {"key": "ns/s.cpp"}, "limits": big,
        "tests": [{"name": str(i), "input": {"key": f"ns/{i}.in"}, "expected": {"key": f"ns/{i}.out"}}
                  for i in range(1, tests + 1)]})


def check(spec, settings, namespace="team-a"):
    from gavel_contract.languages import builtin_languages
    from gavel_operator import jobs

    version = builtin_languages()["cpp"].default_version()
    limits = [jobs.resolve_limits(version, spec, t) for t in spec.tests]
    return violation(settings.ceilings_for(namespace), namespace, len(spec.tests),
                     list(zip([t.name for t in spec.tests], limits)), jobs.deadline_seconds(spec, limits, settings))


def test_the_default_ceilings_refuse_the_maximal_request_naming_the_ceiling():
    # issue 21: with no ceiling, 100 tests at the CRD's maximum got a Job of 16,832 MiB and 33 hours
    assert check(maximal_request(), Settings()) == \
        "test 1: timeMs 600000 exceeds namespace team-a's ceiling of 20000 (ceilings.maxTimeMs)"
    assert "(ceilings.maxTests)" in check(maximal_request(201), Settings())
    # an administrator raises them for one namespace; the others keep the defaults
    raised = Settings(namespace_ceilings={"contest": Ceilings(maxTimeMs=600_000, maxWallMs=1_200_000,
                                                              maxMemoryKb=16 << 20, maxOutputKb=1 << 20,
                                                              maxProcesses=4096, maxDeadlineSeconds=86_400 * 2)})
    assert "(ceilings.maxDeadlineSeconds)" not in (check(maximal_request(), raised, "contest") or "")
    assert check(maximal_request(), raised, "contest") is None
    assert "(ceilings.maxTimeMs)" in check(maximal_request(), raised, "team-a")
    fast = maximal_request(1).model_copy(update={"limits": maximal_request(1).limits.model_copy(
        update={"time_ms": 1000, "wall_ms": None, "memory_kb": 65536, "output_kb": 1024})})
    assert check(fast, Settings()) == \
        "test 1: processes 4096 exceeds namespace team-a's ceiling of 256 (ceilings.maxProcesses)"


def test_the_largest_job_the_default_ceilings_allow():
    from gavel_contract.languages import builtin_languages
    from gavel_operator import jobs

    d = Settings().ceilings
    assert d == DEFAULT and None not in d.model_dump().values()
    version = builtin_languages()["cpp"].default_version()
    limit = Limits(timeMs=d.max_time_ms, wallMs=d.max_wall_ms, memoryKb=d.max_memory_kb, outputKb=d.max_output_kb)
    memory = jobs.memory_mi(version, [limit], Settings(), checker=True, interactor=True)
    assert memory <= 2048, memory  # MiB: 1 GiB for the test, its interactor's, the sandbox, /dev/shm, the runner
    assert d.max_deadline_seconds <= 3600 and d.max_running <= Settings().max_running // 2


def test_the_charts_default_ceilings_are_the_operators():
    from pathlib import Path

    import yaml

    values = yaml.safe_load((Path(__file__).resolve().parents[2] / "charts/gavel/values.yaml").read_text())
    assert Ceilings.model_validate(values["ceilings"]["default"]) == DEFAULT
    # the chart hands them to the operator as GAVEL_CEILINGS, whole
    assert Settings.from_env({"GAVEL_CEILINGS": json.dumps(values["ceilings"]["default"])}).ceilings == DEFAULT


def test_every_example_fits_under_the_default_ceilings():
    from pathlib import Path

    import yaml

    from gavel_operator.resources import EvaluationSpec

    root = Path(__file__).resolve().parents[2] / "examples"
    for path in [root / "evaluation.yaml", *sorted((root / "evaluations").glob("*.yaml"))]:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "Evaluation" and doc["spec"].get("tests"):
                assert check(EvaluationSpec.model_validate(doc["spec"]), Settings()) is None, path
    for path in sorted((root / "problems").glob("*/problem.yaml")):
        problem = yaml.safe_load(path.read_text())
        spec = {"language": "cpp", "submission": {"key": "ns/s.cpp"}, "limits": problem.get("limits") or {},
                "tests": [{"name": "1", "input": {"key": "ns/1.in"}, "expected": {"key": "ns/1.out"}}]}
        assert check(EvaluationSpec.model_validate(spec), Settings()) is None, path
