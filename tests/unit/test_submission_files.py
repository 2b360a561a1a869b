"""Submissions of several files, the pure parts: path rules, archives read as hostile files, entry
rules, the build plan from the language data, and what the operator puts in the task."""

import io
import stat
import tarfile
import zipfile
from datetime import timedelta

import pytest

from gavel_contract import ArchiveFormat, Task, TestCase
from gavel_contract.languages import resolve
from gavel_contract.submission import MAX_BYTES, MAX_ENTRIES, SubmissionRefused, archive_format, checked_path, is_prefix
from gavel_runner import entrypoints, multifile
from gavel_runner.archives import read_archive


# --- names ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, why", [
    ("../evil.c", "leading out"), ("a/../../evil.c", "leading out"), ("/etc/passwd", "absolute"),
    ("C:/x.c", "absolute"), ("a\\b.c", "backslash"), ("-o.c", "not start"), ("my file.cpp", "letters, digits"),
    ("a/" * 10 + "x.c", "deeper"), ("x" * 201, "longer"),
])
def test_paths_refused(path, why):
    with pytest.raises(SubmissionRefused, match=why):
        checked_path(path)


def test_paths_kept_or_skipped():
    assert checked_path("./src//main.cpp") == "src/main.cpp"
    assert checked_path("Main+1.java") == "Main+1.java"
    assert checked_path(".git/config") is None and checked_path("__MACOSX/._a.c") is None
    assert checked_path("src/.DS_Store") is None


def test_archive_and_prefix_by_name():
    assert archive_format("s.ZIP") == ArchiveFormat.ZIP and archive_format("s.tar.gz") == ArchiveFormat.TAR
    assert archive_format("s.tgz") == archive_format("s.tar.xz") == ArchiveFormat.TAR
    assert archive_format("main.cpp") is None and archive_format("zip") is None
    assert is_prefix("ns/subs/1/") and not is_prefix("ns/subs/1.zip")


# --- archives ------------------------------------------------------------------------------------------

def zip_of(*members: tuple[str, bytes], mode: int | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.create_system, info.external_attr = 3, mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


def tar_of(*members: tarfile.TarInfo | tuple[str, bytes], compression: str = "gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}") as tf:
        for m in members:
            if isinstance(m, tuple):
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
            else:
                tf.addfile(m)
    return buf.getvalue()


def special(name: str, kind: bytes, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize("compression", ["gz", "bz2", "xz", ""])
def test_tar_files_read_whatever_the_compression(compression):
    data = tar_of(("a/main.cpp", b"int main(){}"), special("a", tarfile.DIRTYPE), compression=compression)
    assert read_archive(data, ArchiveFormat.TAR) == [("a/main.cpp", b"int main(){}")]


def test_zip_files_read():
    assert read_archive(zip_of(("x/", b""), ("x/a.py", b"print(1)")), ArchiveFormat.ZIP) == [("x/a.py", b"print(1)")]


@pytest.mark.parametrize("member, why", [
    (special("link", tarfile.SYMTYPE, "/etc/shadow"), "symbolic link"),
    (special("hard", tarfile.LNKTYPE, "/etc/shadow"), "hard link"),
    (special("null", tarfile.CHRTYPE), "character device"),
    (special("disk", tarfile.BLKTYPE), "block device"),
    (special("fifo", tarfile.FIFOTYPE), "FIFO"),
])
def test_tar_links_and_devices_refused(member, why):
    with pytest.raises(SubmissionRefused, match=why):
        read_archive(tar_of(("main.c", b""), member), ArchiveFormat.TAR)


def test_zip_symlink_and_device_refused():
    with pytest.raises(SubmissionRefused, match="symbolic link"):
        read_archive(zip_of(("l", b"/etc/shadow"), mode=stat.S_IFLNK | 0o777), ArchiveFormat.ZIP)
    with pytest.raises(SubmissionRefused, match="not a regular file"):
        read_archive(zip_of(("d", b""), mode=stat.S_IFCHR | 0o666), ArchiveFormat.ZIP)


def test_bombs_stop_at_the_limit_while_unpacking():
    zeros = b"\0" * (MAX_BYTES + 1)
    with pytest.raises(SubmissionRefused, match="more than 4 MiB"):
        read_archive(zip_of(("bomb.c", zeros)), ArchiveFormat.ZIP)
    with pytest.raises(SubmissionRefused, match="more than 4 MiB"):
        read_archive(tar_of(("bomb.c", zeros)), ArchiveFormat.TAR)
    # many small members adding up past it: counted over the whole archive
    with pytest.raises(SubmissionRefused, match="more than 4 MiB"):
        read_archive(zip_of(*[(f"{i}.c", b"\0" * (MAX_BYTES // 4)) for i in range(5)]), ArchiveFormat.ZIP)


def test_a_header_lying_about_its_size_does_not_matter():
    """zipfile reads what the stream holds; the count is of bytes that came out, not of headers."""
    data = bytearray(zip_of(("a.c", b"x" * 1000)))
    local = data.index(b"PK\x03\x04")
    data[local + 22:local + 26] = (10).to_bytes(4, "little")  # local header: uncompressed size 10
    assert read_archive(bytes(data), ArchiveFormat.ZIP)[0][1] == b"x" * 1000


def test_a_gzip_stream_of_zeros_is_cut_short():
    """A tar.gz whose stream is a huge header (a pax record of many MiB) is capped as a whole."""
    info = tarfile.TarInfo("a.c")
    info.pax_headers = {"comment": "x" * (MAX_BYTES + (5 << 20))}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(info, io.BytesIO(b""))
    with pytest.raises(SubmissionRefused, match="unpacks to more than"):
        read_archive(buf.getvalue(), ArchiveFormat.TAR)


def test_too_many_entries_and_damage():
    with pytest.raises(SubmissionRefused, match="entries"):
        read_archive(zip_of(*[(f"d{i}/", b"") for i in range(MAX_ENTRIES + 1)]), ArchiveFormat.ZIP)
    with pytest.raises(SubmissionRefused, match="cannot read the zip archive"):
        read_archive(b"PK\x03\x04 not really", ArchiveFormat.ZIP)
    with pytest.raises(SubmissionRefused, match="cannot read the tar archive"):
        read_archive(b"\x1f\x8b" + b"\0" * 100, ArchiveFormat.TAR)


def task_with(tmp_path, lang: str, **fields) -> Task:
    _, ver = resolve(lang)
    (tmp_path / "t.in").write_text("")
    return Task(language=ver, languageName=lang.split(":")[0], tests=[
        TestCase(name="1", input=str(tmp_path / "t.in"), expected=str(tmp_path / "t.in"))], **fields)


def test_archive_names_checked_and_a_zipped_folder_read_from_inside(tmp_path):
    (tmp_path / "evil.zip").write_bytes(zip_of(("../../etc/cron.d/x", b"")))
    task = task_with(tmp_path, "cpp", submission=str(tmp_path / "evil.zip"), submissionArchive="zip")
    with pytest.raises(SubmissionRefused, match="leading out"):
        multifile.gather(task)
    (tmp_path / "ok.tgz").write_bytes(tar_of(("sol/main.cpp", b"m"), ("sol/a.h", b"h"), ("sol/.git/HEAD", b"")))
    task = task_with(tmp_path, "cpp", submission=str(tmp_path / "ok.tgz"), submissionArchive="tar")
    assert multifile.gather(task) == {"main.cpp": b"m", "a.h": b"h"}


def test_files_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(multifile, "MAX_FILES", 2)
    for name in ("a.py", "b.py", "c.py"):
        (tmp_path / name).write_text("")
    task = task_with(tmp_path, "python", submissionFiles=[
        {"path": n, "location": str(tmp_path / n)} for n in ("a.py", ".hidden", "b.py", "c.py")])
    with pytest.raises(SubmissionRefused, match="more than 2 files"):
        multifile.gather(task)


# --- entry rules and plans -----------------------------------------------------------------------------

def test_python_entry_by_problem_name_then_main_then_only_source(tmp_path):
    spec = resolve("python")[1].multi_file
    assert entrypoints.named_entry(spec, ["main.py", "sum.py", "util.py"], "sum") == "sum.py"
    assert entrypoints.named_entry(spec, ["main.py", "util.py"], "sum") == "main.py"
    assert entrypoints.named_entry(spec, ["lib/x.py", "README"], None) == "lib/x.py"
    with pytest.raises(SubmissionRefused, match="which file is the program"):
        entrypoints.named_entry(spec, ["a.py", "b.py"], "sum")
    with pytest.raises(SubmissionRefused, match="no source file"):
        entrypoints.named_entry(spec, ["README"], None)


def test_plans_fill_the_language_data(tmp_path):
    cpp = multifile.plan(task_with(tmp_path, "cpp:20", submission="x.zip", submissionArchive="zip"),
                         {"main.cpp": b"", "lib/a.cc": b"", "lib/a.h": b""})
    assert cpp.language.compile[-3:] == ["main", "lib/a.cc", "main.cpp"] and cpp.language.run == ["{build}/main"]
    py = multifile.plan(task_with(tmp_path, "python", submission="x.zip", submissionArchive="zip", problemName="hello"),
                        {"hello.py": b"", "util.py": b""})
    assert py.language.compile[-2:] == ["hello.py", "util.py"] and py.language.run[-1] == "{build}/hello.py"
    rust = multifile.plan(task_with(tmp_path, "rust", submission="x.zip", submissionArchive="zip"),
                          {"main.rs": b"", "geometry.rs": b""})
    assert rust.language.compile[-1] == "main.rs"
    java = multifile.plan(task_with(tmp_path, "java", submission="x.zip", submissionArchive="zip"),
                          {"src/Solver.java": b"package a.b;\nclass Solver {}", "Util.java": b"class Util {}"})
    assert "{entry}" in java.language.run and set(java.files) == {"a/b/Solver.java", "Util.java"}
    assert java.language.run[-1] == "{entry}"  # the class, once compiled
    with pytest.raises(SubmissionRefused, match="both a file and a directory"):
        multifile.plan(task_with(tmp_path, "c", submission="x.zip", submissionArchive="zip"),
                       {"a": b"", "a/b.c": b""})


def test_single_file_tasks_keep_their_document(tmp_path):
    task = task_with(tmp_path, "cpp", submission="main.cpp")
    assert task.language.multi_file is None and "multiFile" not in task.document()
    assert "submissionFiles" not in task.document() and "problemName" not in task.document()


@pytest.mark.parametrize("source, package", [
    (b"package a.b;", "a.b"), (b"// c\n/* package x; */ package  a . b ;\nclass M{}", "a.b"),
    (b"import java.util.*; class M {}", None), (b"class M { String package_ = \"package x;\"; }", None),
])
def test_java_package_declaration(source, package):
    assert entrypoints.java_package(source) == package


def test_java_sources_moved_where_their_package_says():
    laid = entrypoints.java_layout({"x/Main.java": b"package p.q; class Main{}", "Other.java": b"class Other{}",
                                    "data.txt": b""})
    assert laid == {"p/q/Main.java": b"package p.q; class Main{}", "Other.java": b"class Other{}", "data.txt": b""}
    with pytest.raises(SubmissionRefused, match="two files would be"):
        entrypoints.java_layout({"a/M.java": b"package p;", "b/M.java": b"package p;"})


def test_one_main_class():
    assert entrypoints.one_main_class(["a.Main"]) == "a.Main"
    with pytest.raises(SubmissionRefused, match="no class"):
        entrypoints.one_main_class([])
    with pytest.raises(SubmissionRefused, match="2 classes"):
        entrypoints.one_main_class(["B", "A"])
    with pytest.raises(entrypoints.ClassFileError):
        entrypoints.main_class(b"\xca\xfe\xba\xbe\0\0\0\x3d\0\x05\x01")


# --- the operator's side -------------------------------------------------------------------------------

def test_the_operator_names_a_prefix_files_or_an_archive():
    from gavel_contract.languages import builtin_languages
    from gavel_operator import jobs
    from gavel_operator.objectstore import ObjectStore
    from gavel_operator.resources import EvaluationSpec
    from gavel_operator.settings import Settings

    class Listing(ObjectStore):
        def list_keys(self, bucket, prefix, limit, skip=lambda key: False):
            keys = [f"{prefix}{k}" for k in (".DS_Store", "main.cpp", "lib/a.h")]
            return [k for k in keys if not skip(k)][:limit]

    settings = Settings(storage_endpoint="127.0.0.1:9000", storage_access_key="k", storage_secret_key="s")
    store, lang = Listing(settings), builtin_languages()["cpp"]
    tests = [{"name": "1", "input": {"key": "p/1.in"}, "expected": {"key": "p/1.out"}}]
    for key, check in [
        ("ns/s/1/", lambda t: [f.path for f in t.submission_files] == ["main.cpp", "lib/a.h"]
         and t.submission is None and "X-Amz-Signature=" in t.submission_files[0].location),
        ("ns/s/1.tar.gz", lambda t: t.submission_archive == ArchiveFormat.TAR and t.problem_name == "sum"),
        ("ns/s/1.cpp", lambda t: t.submission_archive is None and not t.submission_files and t.problem_name is None),
    ]:
        spec = EvaluationSpec.model_validate({"language": "cpp", "submission": {"key": key}, "tests": tests,
                                              "problem": "sum"})
        where = jobs.placement(spec, "ns", "e1", "uid-1", settings)
        task = jobs.build_task("ns/e1", spec, lang, lang.default_version(), where, store, settings, timedelta(hours=1))
        assert check(task), key
