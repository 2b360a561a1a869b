#!/usr/bin/env python3
"""Input validator: exit 42 when stdin holds n, then n integers."""
import re
import sys

lines = sys.stdin.read().split("\n")
assert len(lines) == 3 and lines[2] == "" and re.fullmatch(r"\d+", lines[0])
n = int(lines[0])
a = lines[1].split(" ")
assert 1 <= n <= 20_000 and len(a) == n and all(re.fullmatch(r"-?\d+", x) and abs(int(x)) <= 10**9 for x in a)
sys.exit(42)
