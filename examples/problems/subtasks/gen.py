"""Writes tests/: python3 gen.py (deterministic). Sum of N integers, in three subtasks:
small (|a| <= 1000, fits 32 bits), medium (|a| <= 1e9, needs 64 bits), large (|a| <= 1e18: the
sum may need more than 64 bits)."""

import random
from pathlib import Path

rng = random.Random(2024)
tests = {
    "small-1": [1, 2, 3],
    "small-2": [rng.randint(-1000, 1000) for _ in range(10)],
    "small-3": [-1000] * 7,
    "medium-1": [rng.randint(9 * 10**8, 10**9) for _ in range(30)],
    "medium-2": [rng.randint(-10**9, 10**9) for _ in range(40)] + [10**9] * 10,
    "medium-3": [-10**9] * 25,
    "large-1": [rng.randint(-1000, 1000) for _ in range(100)],  # fits 32 bits
    "large-2": [rng.randint(-10**17, 10**17) for _ in range(50)],  # fits 64 bits
    "large-3": [rng.randint(9 * 10**17, 10**18) for _ in range(100)],  # 128 bits
    "large-4": [-rng.randint(9 * 10**17, 10**18) for _ in range(100)],
    "large-5": [10**18] * 10 + [rng.randint(0, 10**17) for _ in range(10)],
}
out = Path(__file__).parent / "tests"
out.mkdir(exist_ok=True)
for name, values in tests.items():
    (out / f"{name}.in").write_text(f"{len(values)}\n{' '.join(map(str, values))}\n")
    (out / f"{name}.out").write_text(f"{sum(values)}\n")
