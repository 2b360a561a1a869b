#!/usr/bin/env python3
"""Interactive output validator (problem package format): validate.py input answer feedback_dir,
talking with the submission on stdin and stdout. Exit 42 accepts (score.txt: the test's points),
43 rejects; judgemessage.txt says why."""
import sys

MAX_GUESSES = 30


def main() -> None:
    secret = int(open(sys.argv[1]).read())
    feedback = sys.argv[3]
    log = open(feedback + "judgemessage.txt", "w")

    def finish(code: int, message: str) -> None:
        log.write(message + "\n")
        log.close()
        sys.exit(code)

    for guesses in range(1, MAX_GUESSES + 1):
        line = sys.stdin.readline()
        if not line:
            finish(43, f"no guess {guesses}: the program ended")
        try:
            guess = int(line)
        except ValueError:
            finish(43, f"guess {guesses} is not a number: {line.strip()[:40]!r}")
        if not 1 <= guess <= 1000:
            finish(43, f"guess {guesses} is out of range: {guess}")
        if guess == secret:
            print("correct", flush=True)
            points = 20 if guesses <= 10 else max(2, 20 - 2 * (guesses - 10))
            with open(feedback + "score.txt", "w") as f:
                f.write(f"{points}\n")
            finish(42, f"found {secret} in {guesses} guesses: {points} points")
        print("higher" if guess < secret else "lower", flush=True)
    finish(43, f"not found in {MAX_GUESSES} guesses")


main()
