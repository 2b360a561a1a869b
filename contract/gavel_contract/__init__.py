"""The typed contract shared by Gavel's operator and runner."""

from .models import (  # noqa: F401
    CHECKER_LIMITS, RESULT_API, SUMMARY_MAX_BYTES, TASK_API, VERDICT_CODES, Checker, CheckerArg, CheckerKind, CheckerProtocol,
    EgressCheck, EntryRule, FileIO, PROGRESS_API, PROGRESS_MAX_BYTES, Progress, Stage, Group, GroupResult, GroupScoring, Interactor,
    Language, LanguageVersion, Limits, MemoryModel, MultiFile, Order,
    Result, SECRET_TASK_MAX_BYTES, STARVED_FACTOR, TASKREF_API, SubmissionFile, SupportFile, Task, TaskRef, TestCase, TestResult, TestVerdict, Verdict,
)
from .submission import ArchiveFormat, SubmissionRefused  # noqa: F401
