"""Submissions of several files through the real sandbox and compilers: a directory or an archive,
built by the languages' multiFile data; the entry rules; archives that attack the runner refused
as a verdict (CompilationError naming why), never a crash and never a file outside the build."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from gavel_contract import Limits, Task, TestCase, TestVerdict, Verdict
from gavel_contract.languages import resolve
from gavel_contract.submission import MAX_BYTES, MAX_FILES
from gavel_runner.judge import judge
from gavel_runner.multifile import local_fields

TESTS = {"1": ("1 2\n", "3\n"), "2": ("40 2\n", "42\n")}


@pytest.fixture
def judge_files(tmp_path: Path):
    """judge_files({"path": "text", …}, "cpp", as_="dir" | "zip" | "tgz" | PATH) -> Result"""

    def run(files: dict[str, str | bytes] | None, language: str, as_: str = "dir", problem: str | None = None):
        lang, ver = resolve(language)
        source = tmp_path / "submission"
        if files is not None:
            for path, text in files.items():
                (source / path).parent.mkdir(parents=True, exist_ok=True)
                (source / path).write_bytes(text.encode() if isinstance(text, str) else text)
        if as_ == "zip":
            with zipfile.ZipFile(tmp_path / "s.zip", "w") as zf:
                for path, text in files.items():
                    zf.writestr(path, text)
            source = tmp_path / "s.zip"
        elif as_ == "tgz":
            with tarfile.open(tmp_path / "s.tar.gz", "w:gz") as tf:
                tf.add(source, arcname="folder")  # a zipped folder: read from inside it
            source = tmp_path / "s.tar.gz"
        elif as_ != "dir":
            source = Path(as_)
        cases = []
        for name, (inp, ans) in TESTS.items():
            (tmp_path / f"{name}.in").write_text(inp)
            (tmp_path / f"{name}.ans").write_text(ans)
            cases.append(TestCase(name=name, input=str(tmp_path / f"{name}.in"), expected=str(tmp_path / f"{name}.ans"),
                                  limits=Limits(timeMs=2000, memoryKb=262144)))
        task = Task(language=ver, languageName=lang.name, tests=cases, problemName=problem, **local_fields(source))
        return judge(task)

    return run


def accepted(result) -> bool:
    return result.verdict == Verdict.ACCEPTED and all(t.verdict == TestVerdict.PASSED for t in result.tests)


# --- C and C++: every source compiled and linked, headers beside them -----------------------------------

CPP = {
    "main.cpp": '#include <iostream>\n#include "geometry/add.h"\n'
                "int main(){long a,b;std::cin>>a>>b;std::cout<<add(a,b)*scale()<<'\\n';}\n",
    "geometry/add.h": "#pragma once\nlong add(long a, long b);\nlong scale();\n",
    "geometry/add.cpp": '#include "add.h"\nlong add(long a, long b){ return a + b; }\n',
    "scale.cc": '#include "geometry/add.h"\nlong scale(){ return 1; }\n',
}


@pytest.mark.parametrize("as_", ["dir", "zip", "tgz"])
def test_cpp_header_and_two_sources(judge_files, as_):
    result = judge_files(CPP, "cpp:17", as_)
    assert accepted(result), result.message


def test_cpp_a_missing_definition_is_a_link_error(judge_files):
    result = judge_files({k: v for k, v in CPP.items() if k != "scale.cc"}, "cpp")
    assert result.verdict == Verdict.COMPILATION_ERROR and "scale" in result.compile_output


def test_c_two_sources(judge_files):
    result = judge_files({"main.c": '#include <stdio.h>\n#include "add.h"\nint main(){long a,b;'
                                    'scanf("%ld %ld",&a,&b);printf("%ld\\n",add(a,b));}\n',
                          "add.h": "long add(long, long);\n", "add.c": "long add(long a, long b){ return a + b; }\n"},
                         "c")
    assert accepted(result), result.message


# --- Java: the class with main, wherever its package puts it ---------------------------------------------

ADDER = "package contest.util;\npublic class Adder { public static long add(long a, long b) { return a + b; } }\n"
SOLVER = ("package contest;\nimport contest.util.Adder;\nimport java.util.Scanner;\n"
          "public class Solver {\n  static public void main(final String... args) {\n"
          "    Scanner in = new Scanner(System.in);\n    System.out.println(Adder.add(in.nextLong(), in.nextLong()));\n"
          "  }\n}\n")


def test_java_a_class_in_a_package_not_named_main(judge_files):
    result = judge_files({"Solver.java": SOLVER, "src/whatever/Adder.java": ADDER}, "java")
    assert accepted(result), result.message


def test_java_several_classes_one_main_in_the_default_package(judge_files):
    result = judge_files({"Sum.java": "import java.util.*;\npublic class Sum { public static void main(String a[]) {"
                                      " Scanner s = new Scanner(System.in); System.out.println(Helper.twice("
                                      "s.nextLong() + s.nextLong()) / 2); }\n  static class Inner {} }\n",
                          "Helper.java": "class Helper { static long twice(long x) { return 2 * x; }"
                                         " static void main() {} public void main(String[] a) {} }\n"}, "java", "zip")
    assert accepted(result), result.message  # Helper's mains are not static, or take no String[]


def test_java_no_main_class_is_a_compilation_error(judge_files):
    result = judge_files({"Adder.java": ADDER, "Other.java": "class Other {}\n"}, "java")
    assert result.verdict == Verdict.COMPILATION_ERROR
    assert "no class has public static void main" in result.message


def test_java_two_main_classes_is_a_compilation_error(judge_files):
    other = SOLVER.replace("class Solver", "class Second")
    result = judge_files({"Solver.java": SOLVER, "Second.java": other, "Adder.java": ADDER}, "java")
    assert result.verdict == Verdict.COMPILATION_ERROR
    assert "2 classes have public static void main" in result.message and "contest.Second" in result.message


# --- Python, JavaScript, Go, Rust ----------------------------------------------------------------------

def test_python_main_importing_a_sibling_module(judge_files):
    result = judge_files({"main.py": "import adder\nfrom pkg.twice import twice\n"
                                     "a, b = map(int, input().split())\nprint(adder.add(a, b) * twice(1) // 2)\n",
                          "adder.py": "def add(a, b):\n    return a + b\n",
                          "pkg/__init__.py": "", "pkg/twice.py": "def twice(x):\n    return 2 * x\n"}, "python")
    assert accepted(result), result.message


def test_python_entry_named_like_the_problem_first(judge_files):
    files = {"sum.py": "import lib\nprint(lib.f(*map(int, input().split())))\n",
             "main.py": "print('not me')\n", "lib.py": "def f(a, b):\n    return a + b\n"}
    assert accepted(judge_files(files, "python", problem="sum"))
    assert judge_files(files, "python").verdict == Verdict.TEST_FAILED  # main.py without a problem name


def test_python_a_syntax_error_in_a_module_is_a_compilation_error(judge_files):
    result = judge_files({"main.py": "import lib\n", "lib.py": "def f(:\n"}, "python")
    assert result.verdict == Verdict.COMPILATION_ERROR and "lib.py" in result.compile_output


def test_python_no_entry_is_a_compilation_error(judge_files):
    result = judge_files({"a.py": "", "b.py": ""}, "python")
    assert result.verdict == Verdict.COMPILATION_ERROR and "which file is the program" in result.message


def test_javascript_main_requiring_a_sibling(judge_files):
    result = judge_files({"main.js": "const {add} = require('./lib/add');\nconst [a, b] = require('fs')"
                                     ".readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\nconsole.log(add(a, b));\n",
                          "lib/add.js": "exports.add = (a, b) => a + b;\n"}, "javascript")
    assert accepted(result), result.message


def test_go_the_package_of_the_top_directory(judge_files):
    result = judge_files({"main.go": 'package main\nimport "fmt"\nfunc main(){var a, b int64; fmt.Scan(&a, &b); '
                                     "fmt.Println(add(a, b))}\n",
                          "add.go": "package main\nfunc add(a, b int64) int64 { return a + b }\n"}, "go")
    assert accepted(result), result.message


def test_rust_the_crate_root_and_its_modules(judge_files):
    result = judge_files({"main.rs": "mod add;\nuse std::io::*;\nfn main(){let mut s=String::new();"
                                     "stdin().read_to_string(&mut s).unwrap();let v:Vec<i64>=s.split_whitespace()"
                                     ".map(|x|x.parse().unwrap()).collect();println!(\"{}\",add::add(v[0],v[1]));}\n",
                          "add.rs": "pub fn add(a: i64, b: i64) -> i64 { a + b }\n"}, "rust")
    assert accepted(result), result.message


# --- archives and directories that attack the runner ----------------------------------------------------

def zip_bytes(members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            zf.writestr(info, data, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def link_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system, info.external_attr = 3, (0o120777 << 16)
    return info


def tar_bytes(*infos: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for info, data in infos:
            info.size = len(data) if info.isreg() else 0
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def tar_info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


MAIN_C = b"int main(){return 0;}\n"
ATTACKS = {
    "traversal": ("zip", zip_bytes([("main.c", MAIN_C), ("../../../../tmp/gavel-escaped.c", b"x")]), "leading out"),
    "absolute": ("zip", zip_bytes([("main.c", MAIN_C), ("/tmp/gavel-escaped.c", b"x")]), "absolute path"),
    "zip symlink": ("zip", zip_bytes([("main.c", MAIN_C), (link_info("answers"), b"/etc/shadow")]), "symbolic link"),
    "tar symlink": ("tar.gz", tar_bytes((tar_info("main.c"), MAIN_C), (tar_info("x", tarfile.SYMTYPE, "/etc"), b"")),
                    "symbolic link"),
    "tar hard link": ("tar.gz", tar_bytes((tar_info("main.c"), MAIN_C),
                                          (tar_info("x", tarfile.LNKTYPE, "/etc/shadow"), b"")), "hard link"),
    "tar device": ("tar.gz", tar_bytes((tar_info("main.c"), MAIN_C), (tar_info("mem", tarfile.CHRTYPE), b"")),
                   "character device"),
    "zip bomb": ("zip", zip_bytes([("main.c", MAIN_C), ("bomb.h", b"\0" * (64 << 20))]), "more than 4 MiB"),
    "tar bomb": ("tar.gz", tar_bytes((tar_info("main.c"), MAIN_C), (tar_info("bomb.h"), b"\0" * (64 << 20))),
                 "more than 4 MiB"),
    "too many files": ("zip", zip_bytes([(f"f{i}.h", b"") for i in range(MAX_FILES + 1)] + [("main.c", MAIN_C)]),
                       f"more than {MAX_FILES}"),
    "not an archive": ("zip", b"#include <stdio.h>\n", "cannot read the zip archive"),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_archive_attacks_are_refused_as_a_verdict(judge_files, tmp_path, attack):
    suffix, data, why = ATTACKS[attack]
    archive = tmp_path / f"attack.{suffix}"
    archive.write_bytes(data)
    assert len(data) < 1 << 20  # the bombs are small
    result = judge_files(None, "c", as_=str(archive))
    assert result.verdict == Verdict.COMPILATION_ERROR and why in result.message, result.message
    assert not Path("/tmp/gavel-escaped.c").exists()


def test_too_large_a_directory_is_refused(judge_files):
    result = judge_files({"main.c": MAIN_C, "big1.h": b"x" * (MAX_BYTES // 2), "big2.h": b"x" * (MAX_BYTES // 2 + 1)},
                         "c")
    assert result.verdict == Verdict.COMPILATION_ERROR and "larger than 4 MiB" in result.message


def test_the_runner_process_refuses_an_archive_and_exits_0(tmp_path):
    """The pod's path: `gavel-runner run` delivers the CompilationError and exits 0 (judged)."""
    archive = tmp_path / "a.zip"
    archive.write_bytes(ATTACKS["traversal"][1])
    (tmp_path / "1.in").write_text("")
    lang, ver = resolve("c")
    task = Task(language=ver, languageName="c", submission=str(archive), submissionArchive="zip",
                tests=[TestCase(name="1", input=str(tmp_path / "1.in"), expected=str(tmp_path / "1.in"))],
                result=str(tmp_path / "result.json"))
    (tmp_path / "task.json").write_text(task.document())
    proc = subprocess.run([str(Path(sys.executable).with_name("gavel-runner")), "run", str(tmp_path / "task.json"),
                           "--termination-log", str(tmp_path / "term")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert json.loads((tmp_path / "result.json").read_text())["verdict"] == "CompilationError"


def test_a_single_file_is_judged_as_before(judge_files, tmp_path):
    src = tmp_path / "sol.cpp"
    src.write_text("#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<'\\n';}\n")
    assert local_fields(src) == {"submission": str(src)}
    assert accepted(judge_files(None, "cpp", as_=str(src)))
