#!/usr/bin/env python3
"""Output validator (problem package format): validate.py input answer feedback_dir < output.
Exit 42: accepted; 43: wrong answer, said in feedback_dir/judgemessage.txt."""
import sys


def wrong(feedback: str, message: str) -> None:
    with open(feedback + "judgemessage.txt", "w") as f:
        f.write(message + "\n")
    sys.exit(43)


def main() -> None:
    input_file, answer_file, feedback = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(input_file) as f:
        n, t = map(int, f.readline().split())
        a = list(map(int, f.readline().split()))
    with open(answer_file) as f:
        exists = f.read().split() != ["none"]
    words = sys.stdin.read().split()
    if not exists:
        if words != ["none"]:
            wrong(feedback, f"there is no pair, but the output is {' '.join(words[:3])!r}")
        sys.exit(42)
    if len(words) != 2 or not all(w.lstrip("-").isdigit() for w in words):
        wrong(feedback, f"expected two indices, got {' '.join(words[:3])!r}")
    i, j = map(int, words)
    if not 1 <= i < j <= n:
        wrong(feedback, f"indices {i} {j} are not 1 <= i < j <= {n}")
    if a[i - 1] + a[j - 1] != t:
        wrong(feedback, f"a[{i}] + a[{j}] = {a[i - 1] + a[j - 1]}, not {t}")
    sys.exit(42)


main()
