"""exact: byte for byte."""

from __future__ import annotations

from . import bounds
from .base import _Difference, _mismatch, _Source


def _exact(out: _Source, ans: _Source) -> _Difference | None:
    offset = newlines = 0
    while True:
        got, want = out.read(offset, bounds.CHUNK), ans.read(offset, bounds.CHUNK)
        if got == want:
            if not got:
                return None
            newlines += got.count(b"\n")
            offset += len(got)
            continue
        at = _mismatch(got, want)
        line = newlines + got.count(b"\n", 0, at) + 1
        return _Difference(f"byte {offset + at} (line {line}) differs: "
                           f"output has {out.size} bytes, answer {ans.size}", line)
