"""Which file of a submission of several files is the program, by the language's entry rule
(gavel_contract.EntryRule), and where Java's sources go: pure functions of names and contents.

named: the first of the language's entryNames found in the top directory ({problem}: the problem's
name), else the only source. java-main-class: each source placed where its `package` declaration
says, and after compiling, the one class with `public static void main(String[])`, read from the
class files (exact, whatever the source's spelling: `String... a`, `String a[]`, modifiers in any
order), never from the source text.
"""

from __future__ import annotations

import fnmatch
import re
import struct

from gavel_contract import MultiFile
from gavel_contract.submission import SubmissionRefused


def sources(spec: MultiFile, paths: list[str]) -> list[str]:
    """The paths whose file names match one of the language's source globs, sorted."""
    return sorted(p for p in paths if any(fnmatch.fnmatchcase(p.rsplit("/", 1)[-1], g) for g in spec.sources))


def named_entry(spec: MultiFile, paths: list[str], problem: str | None) -> str:
    """The entry by name: the first of entryNames in the top directory, else the only source."""
    top = set(p for p in paths if "/" not in p)
    for name in spec.entry_names:
        if "{problem}" in name:
            if not problem:
                continue
            name = name.replace("{problem}", problem)
        if name in top:
            return name
    found = sources(spec, paths)
    if len(found) == 1:
        return found[0]
    tried = ", ".join(n for n in spec.entry_names if problem or "{problem}" not in n).replace("{problem}", problem or "")
    if not found:
        raise SubmissionRefused(f"no source file ({', '.join(spec.sources)}) among the files")
    raise SubmissionRefused(f"which file is the program? none is named {tried} in the top directory, and there are "
                            f"{len(found)} sources ({', '.join(found[:5])}{', …' if len(found) > 5 else ''})")


# --- Java ---------------------------------------------------------------------------------------------

_COMMENTS = re.compile(rb"//[^\n]*|/\*.*?\*/", re.S)
_PACKAGE = re.compile(rb"\A\s*(?:@[\w.]+(?:\s*\([^)]*\))?\s*)*package\s+([A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*)\s*;")


def java_package(source: bytes) -> str | None:
    """The package a Java source declares (`package a.b;` before anything else but comments), or None."""
    found = _PACKAGE.match(_COMMENTS.sub(b" ", source[:64 << 10]))
    return re.sub(rb"\s", b"", found.group(1)).decode() if found else None


def java_layout(files: dict[str, bytes]) -> dict[str, bytes]:
    """The files with each .java moved to the directory its package names (a/b/Name.java for
    `package a.b;`, the top for none); other files stay where they are. Two sources landing on
    one path are refused."""
    out: dict[str, bytes] = {}
    for path, data in files.items():
        if path.endswith(".java"):
            package = java_package(data)
            name = path.rsplit("/", 1)[-1]
            path = f"{package.replace('.', '/')}/{name}" if package else name
        if path in out:
            raise SubmissionRefused(f"two files would be {path} (a Java source goes where its package says)")
        out[path] = data
    return out


_MAIN_DESCRIPTOR = b"([Ljava/lang/String;)V"
_ACC_PUBLIC, _ACC_STATIC = 0x0001, 0x0008
# constant pool entries by tag: the bytes after the tag (Utf8: a length, then that many)
_CP_SIZES = {3: 4, 4: 4, 5: 8, 6: 8, 7: 2, 8: 2, 9: 4, 10: 4, 11: 4, 12: 4, 15: 3, 16: 2, 17: 4, 18: 4, 19: 2, 20: 2}


class ClassFileError(ValueError):
    pass


def main_class(data: bytes) -> str | None:
    """The class a class file defines (a.b.Name) when it has `public static void main(String[])`,
    else None; ClassFileError when it is not a class file."""
    try:
        if data[:4] != b"\xca\xfe\xba\xbe":
            raise ClassFileError("not a class file")
        count, = struct.unpack_from(">H", data, 8)
        at, utf8, classes = 10, {}, {}
        index = 1
        while index < count:
            tag = data[at]
            if tag == 1:
                size, = struct.unpack_from(">H", data, at + 1)
                utf8[index] = data[at + 3:at + 3 + size]
                at += 3 + size
            elif tag in _CP_SIZES:
                if tag == 7:
                    classes[index], = struct.unpack_from(">H", data, at + 1)
                at += 1 + _CP_SIZES[tag]
                index += tag in (5, 6)  # a long or a double takes two entries
            else:
                raise ClassFileError(f"constant pool tag {tag}")
            index += 1
        _, this, _, interfaces = struct.unpack_from(">HHHH", data, at)
        at += 8 + 2 * interfaces
        for members in ("fields", "methods"):
            n, = struct.unpack_from(">H", data, at)
            at += 2
            for _ in range(n):
                flags, name, descriptor, attributes = struct.unpack_from(">HHHH", data, at)
                at += 8
                for _ in range(attributes):
                    length, = struct.unpack_from(">I", data, at + 2)
                    at += 6 + length
                if members == "methods" and utf8.get(name) == b"main" and utf8.get(descriptor) == _MAIN_DESCRIPTOR \
                        and flags & _ACC_PUBLIC and flags & _ACC_STATIC:
                    return utf8[classes[this]].decode("utf-8", "replace").replace("/", ".")
        return None
    except (struct.error, IndexError, KeyError) as err:
        raise ClassFileError(f"truncated or malformed: {err}") from None


def one_main_class(found: list[str]) -> str:
    """The class to run among those with main, or SubmissionRefused: none, or more than one."""
    if not found:
        raise SubmissionRefused("no class has public static void main(String[] args)")
    if len(found) > 1:
        names = sorted(found)
        raise SubmissionRefused(f"{len(names)} classes have public static void main(String[] args), one must: "
                                + ", ".join(names[:10]))
    return found[0]
