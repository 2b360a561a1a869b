#!/usr/bin/env python3
"""Writes data/ (run from the package directory): python3 generators/gen.py"""
import random
from fractions import Fraction
from pathlib import Path

random.seed(7)


def write(path: str, a: list[int]) -> None:
    p = Path("data") / path
    p.parent.mkdir(parents=True, exist_ok=True)
    p.with_suffix(".in").write_text(f"{len(a)}\n{' '.join(map(str, a))}\n")
    mean = Fraction(sum(a), len(a))
    p.with_suffix(".ans").write_text(f"{float(mean):.9f}\n")


write("sample/1", [1, 2, 4])
write("sample/2", [-5, 5, 7, 1])
for i in range(1, 5):
    write(f"secret/group1/{i:02}", [random.randint(-100, 100) for _ in range(random.randint(1, 10))])
write("secret/group2/01-random", [random.randint(-10**9, 10**9) for _ in range(20_000)])
write("secret/group2/02-all-max", [10**9] * 19_999 + [10**9 - 1])
write("secret/group2/03-positive", [random.randint(10**8, 10**9) for _ in range(20_000)])
write("secret/group2/04-one", [-10**9])
