"""File I/O through the real judge: the program reads input.txt and writes output.txt in its
scratch directory, with stdin empty; what it leaves there is checked and uploaded, and a link,
a FIFO or anything but a file it made is never followed or opened by the runner (root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gavel_contract import Checker, FileIO, Limits, Task, TestCase, TestVerdict, Verdict
from gavel_contract.languages import resolve
from gavel_runner.judge import judge

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root (the runner image runs as root)")

TESTS = {"1": ("1 2\n", "3\n"), "2": ("40 2\n", "42\n")}
BOTH = FileIO(input="input.txt", output="output.txt")


@pytest.fixture
def judge_io(tmp_path: Path):
    """judge_io(source, language, tests, file_io=BOTH, **limits) -> (Result, the directory of the test files)"""
    count = iter(range(1_000_000))

    def run(source: str, language: str, tests: dict[str, tuple[str, str]] | None = None,
            file_io: FileIO | None = BOTH, checker: str | Checker = "lines", **limits):
        lang, ver = resolve(language)
        where = tmp_path / f"j{next(count)}"
        where.mkdir()
        (where / ver.source_file).write_text(source)
        cases = []
        for name, (inp, ans) in (tests or TESTS).items():
            (where / f"{name}.in").write_text(inp)
            (where / f"{name}.ans").write_text(ans)
            cases.append(TestCase(name=name, input=str(where / f"{name}.in"), expected=str(where / f"{name}.ans"),
                                  stdout=str(where / "out" / f"{name}.stdout"),
                                  stderr=str(where / "out" / f"{name}.stderr"),
                                  diff=str(where / "out" / f"{name}.diff"),
                                  limits=Limits(**{"timeMs": 2000, "memoryKb": 65536, **limits})))
        task = Task(language=ver, languageName=lang.name, submission=str(where / ver.source_file), tests=cases,
                    checker=checker if isinstance(checker, Checker) else Checker.parse(checker), fileIO=file_io)
        return judge(task), where

    return run


# each prints noise on stdout (not the output) and says so when stdin was not empty
C_SUM = r"""#include <stdio.h>
int main(void) {
    long a, b;
    int stdin_empty = getchar() == EOF;
    FILE *in = fopen("input.txt", "r"), *out = fopen("output.txt", "w");
    if (!in || !out || fscanf(in, "%ld %ld", &a, &b) != 2) return 9;
    fprintf(out, stdin_empty ? "%ld\n" : "stdin was not empty %ld\n", a + b);
    puts("noise on stdout");
    return 0;
}
"""

PY_SUM = """import sys
stdin_empty = sys.stdin.read() == ""
a, b = map(int, open("input.txt").read().split())
with open("output.txt", "w") as f:
    print(a + b if stdin_empty else "stdin was not empty", file=f)
print("noise on stdout")
"""


@pytest.mark.parametrize("language, source", [("c", C_SUM), ("python", PY_SUM)])
def test_reads_input_txt_and_writes_output_txt(judge_io, language, source):
    result, where = judge_io(source, language)
    assert result.verdict == Verdict.ACCEPTED, [(t.verdict, t.message) for t in result.tests]
    # the output file is what is uploaded as the test's stdout (the program's own stdout is not kept)
    assert (where / "out" / "2.stdout").read_text() == "42\n"
    assert result.tests[1].stdout == str(where / "out" / "2.stdout")


def test_only_the_output_is_a_file(judge_io):
    src = "a, b = map(int, input().split())\nopen('output.txt', 'w').write(f'{a + b}\\n')\n"
    result, _ = judge_io(src, "python", file_io=FileIO(output="output.txt"))
    assert result.verdict == Verdict.ACCEPTED, [(t.verdict, t.message) for t in result.tests]


def test_only_the_input_is_a_file(judge_io):
    src = "import sys\nassert sys.stdin.read() == ''\nprint(sum(map(int, open('data.in').read().split())))\n"
    result, where = judge_io(src, "python", file_io=FileIO(input="data.in"))
    assert result.verdict == Verdict.ACCEPTED, [(t.verdict, t.message) for t in result.tests]
    assert (where / "out" / "1.stdout").read_text() == "3\n"


def test_the_input_file_is_the_programs_own_and_nothing_else_is_there(judge_io):
    src = ("import os\nst = os.stat('input.txt')\n"
           "ok = st.st_uid == os.getuid() and sorted(os.listdir('.')) == ['input.txt']\n"
           "open('output.txt', 'w').write('3\\n' if ok else f'{st.st_uid} {os.getuid()} {os.listdir(\".\")}\\n')\n")
    result, _ = judge_io(src, "python", {"1": ("1 2\n", "3\n")})
    assert result.verdict == Verdict.ACCEPTED, [(t.verdict, t.message) for t in result.tests]


def test_writing_nothing_is_a_wrong_answer(judge_io):
    result, where = judge_io('print("3")\n', "python")
    assert result.verdict == Verdict.TEST_FAILED
    t = result.tests[0]
    assert t.verdict == TestVerdict.WRONG_ANSWER and t.message == "no output.txt written"
    assert not (where / "out" / "1.stdout").exists()


def test_a_crash_stays_a_runtime_error(judge_io):
    t = judge_io("open('output.txt', 'w').write('3\\n')\nraise SystemExit(4)\n", "python")[0].tests[0]
    assert t.verdict == TestVerdict.RUNTIME_ERROR and t.exit_code == 4


LINK = r"""#include <stdio.h>
#include <unistd.h>
int main(void) { return symlink("%s", "output.txt") ? 9 : 0; }
"""


def test_a_symlink_to_shadow_is_not_followed(judge_io):
    t = judge_io(LINK % "/etc/shadow", "c", {"1": ("", "x\n")})[0].tests[0]
    assert t.verdict == TestVerdict.WRONG_ANSWER and "symbolic link" in t.message, t


def test_a_symlink_to_the_answer_is_not_followed(judge_io, tmp_path):
    # the answer the runner reads is this local file (root's, out of the program's reach): a runner
    # that followed the link as root would find it equal to itself
    answer = tmp_path / "j0" / "1.ans"
    result, where = judge_io(LINK % answer, "c", {"1": ("1 2\n", "3\n")})
    assert where / "1.ans" == answer
    t = result.tests[0]
    assert t.verdict == TestVerdict.WRONG_ANSWER and "symbolic link" in t.message, t
    assert not (where / "out" / "1.stdout").exists()


def test_a_symlink_to_the_input_file_is_not_followed(judge_io):
    t = judge_io(LINK % "input.txt", "c", {"1": ("3\n", "3\n")})[0].tests[0]
    assert t.verdict == TestVerdict.WRONG_ANSWER and "symbolic link" in t.message, t


def test_a_fifo_is_never_opened(judge_io):
    src = '#include <sys/stat.h>\nint main(void){return mkfifo("output.txt",0666)?9:0;}\n'
    t = judge_io(src, "c", {"1": ("", "x\n")})[0].tests[0]
    assert t.verdict == TestVerdict.WRONG_ANSWER and t.message == "output.txt is not a regular file", t


def test_a_directory_is_not_an_output(judge_io):
    src = '#include <sys/stat.h>\nint main(void){return mkdir("output.txt",0777)?9:0;}\n'
    t = judge_io(src, "c", {"1": ("", "x\n")})[0].tests[0]
    assert t.verdict == TestVerdict.WRONG_ANSWER and t.message == "output.txt is not a regular file", t


def test_a_hard_link_to_someone_elses_file_is_not_read(judge_io):
    # refused by the kernel (protected_hardlinks, or another file system), else by the runner
    src = '#include <unistd.h>\nint main(void){link("/etc/passwd","output.txt");return 0;}\n'
    t = judge_io(src, "c", {"1": ("", Path("/etc/passwd").read_text())})[0].tests[0]
    assert t.verdict == TestVerdict.WRONG_ANSWER, t
    assert t.message in ("no output.txt written", "output.txt is not a file the program made (a hard link?)")


def test_a_huge_output_file(judge_io):
    src = ('#include <stdio.h>\n#include <string.h>\nint main(void){FILE*f=fopen("output.txt","w");char b[65536];'
           'memset(b,49,sizeof b);for(int i=0;i<1024;i++)fwrite(b,1,sizeof b,f);fclose(f);return 0;}\n')
    t = judge_io(src, "c", {"1": ("", "1\n")}, outputKb=1024)[0].tests[0]
    assert t.verdict == TestVerdict.OUTPUT_LIMIT_EXCEEDED, t


def test_an_output_file_one_byte_over_the_cap(judge_io):
    # SIGXFSZ ignored: the file stops at the cap plus one byte, and the runner sees it is over
    src = ('#include <signal.h>\n#include <stdio.h>\n#include <string.h>\n'
           'int main(void){signal(SIGXFSZ,SIG_IGN);FILE*f=fopen("output.txt","w");char b[4096];'
           'memset(b,49,sizeof b);for(int i=0;i<300;i++)fwrite(b,1,sizeof b,f);fclose(f);return 0;}\n')
    t = judge_io(src, "c", {"1": ("", "1\n")}, outputKb=1024)[0].tests[0]
    assert t.verdict == TestVerdict.OUTPUT_LIMIT_EXCEEDED and "output.txt exceeds" in t.message, t


def test_a_custom_checker_reads_the_output_file(judge_io, tmp_path):
    checker = tmp_path / "check.py"
    checker.write_text("import sys\nout = open(sys.argv[2]).read()\nsys.exit(0 if out == '3\\n' else 1)\n")
    result, _ = judge_io(C_SUM, "c", {"1": ("1 2\n", "")},
                         checker=Checker(kind="custom", program=str(checker), language="python"))
    assert result.verdict == Verdict.ACCEPTED, [(t.verdict, t.message) for t in result.tests]
