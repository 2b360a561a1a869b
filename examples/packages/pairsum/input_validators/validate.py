#!/usr/bin/env python3
"""Input validator: exit 42 when the input on stdin is well-formed."""
import re
import sys

lines = sys.stdin.read().split("\n")
assert len(lines) == 3 and lines[2] == ""
assert re.fullmatch(r"\d+ -?\d+", lines[0])
n, t = map(int, lines[0].split())
assert 2 <= n <= 30_000 and abs(t) <= 4 * 10**9
a = lines[1].split(" ")
assert len(a) == n and all(re.fullmatch(r"-?\d+", x) and abs(int(x)) <= 2 * 10**9 for x in a)
sys.exit(42)
