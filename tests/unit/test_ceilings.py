"""Ceilings: a namespace's maximums, checked at admission with the limit in the message."""

from gavel_contract import Limits
from gavel_operator.ceilings import Ceilings, violation
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


def test_a_namespace_ceiling_is_laid_over_the_default():
    default = Ceilings(maxTests=100, maxRunning=5)
    settings = Settings(ceilings=default, namespace_ceilings={"contest": Ceilings(maxRunning=20)})
    assert settings.ceilings_for("contest") == Ceilings(maxTests=100, maxRunning=20)
    assert settings.ceilings_for("other") == default


def test_ceilings_from_the_environment_as_the_chart_sets_them():
    s = Settings.from_env({"GAVEL_CEILINGS": '{"maxTimeMs": 2000}',
                           "GAVEL_NAMESPACE_CEILINGS": '{"contest": {"maxRunning": 3}}'})
    assert s.ceilings.max_time_ms == 2000 and s.namespace_ceilings["contest"].max_running == 3
