"""The typed contract shared by Gavel's operator and runner."""

from .models import (  # noqa: F401
    CHECKER_LIMITS, RESULT_API, SUMMARY_MAX_BYTES, TASK_API, VERDICT_CODES, Checker, CheckerArg, CheckerKind, CheckerProtocol,
    EgressCheck, FileIO, Group, GroupResult, GroupScoring, Interactor, Language, LanguageVersion, Limits, MemoryModel, Order,
    Result, SECRET_TASK_MAX_BYTES, TASKREF_API, SupportFile, Task, TaskRef, TestCase, TestResult, TestVerdict, Verdict,
)
