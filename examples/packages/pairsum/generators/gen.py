#!/usr/bin/env python3
"""Writes data/ (run from the package directory): python3 generators/gen.py"""
import random
from pathlib import Path

random.seed(20260101)


def write(path: str, t: int, a: list[int]) -> None:
    p = Path("data") / path
    p.parent.mkdir(parents=True, exist_ok=True)
    p.with_suffix(".in").write_text(f"{len(a)} {t}\n{' '.join(map(str, a))}\n")
    pos = {}
    answer = "none"
    for j, x in enumerate(a):
        if t - x in pos:
            answer = f"{pos[t - x] + 1} {j + 1}"
            break
        pos.setdefault(x, j)
    p.with_suffix(".ans").write_text(answer + "\n")


def no_pair(n: int, t: int, low: int, high: int) -> list[int]:
    """Numbers with no two summing to t: all below t/2 but one band."""
    return [random.randint(low, min(high, t // 2 - 1)) for _ in range(n)]


write("sample/1", 9, [2, 7, 11, 15])
write("sample/2", 10, [1, 2, 3])
write("secret/small/01-first-last", 0, [5, 1, 2, 3, -5])
write("secret/small/02-negative", -3, [-1, -2, 4, 8])
write("secret/small/03-none", 100, [1, 2, 3, 4, 5])
write("secret/small/04-same-value", 8, [4, 1, 4])
big = no_pair(30_000, 10**9, -10**9, 10**9)
big[-1], big[12_345] = 10**9 - big[12_345] + 0, big[12_345]
big[-1] = 10**9 - big[12_345]
write("secret/large/01-far-apart", 10**9, big)
huge = [random.randint(0, 10**9 // 2) for _ in range(30_000)]
huge[7], huge[-2] = 2 * 10**9, 2 * 10**9 - 3
write("secret/large/02-overflow", 4 * 10**9 - 3, huge)
write("secret/large/03-none", 2 * 10**9, no_pair(30_000, 2 * 10**9, -10**9, 10**9 - 1))
