"""Guess the number: run as `interactor input answer` (testlib's convention); the program's
guesses arrive on stdin, the replies go to stdout. Exit 0: found in 7 guesses or fewer; 7 with
`points 0.5` on stderr: in 8 to 20; 1: never found, or more than 20 guesses, or not a number."""

import sys

secret = int(open(sys.argv[1]).read())
for guesses in range(1, 21):
    line = sys.stdin.readline()
    try:
        guess = int(line)
    except ValueError:
        sys.stderr.write(f"guess {guesses}: expected a number, got {line.strip()[:20]!r}\n")
        sys.exit(1)
    if guess == secret:
        print("=", flush=True)
        if guesses <= 7:
            sys.stderr.write(f"found in {guesses} guesses\n")
            sys.exit(0)
        sys.stderr.write(f"points 0.5\nfound in {guesses} guesses (more than 7)\n")
        sys.exit(7)
    print("<" if secret < guess else ">", flush=True)
sys.stderr.write("not found in 20 guesses\n")
sys.exit(1)
