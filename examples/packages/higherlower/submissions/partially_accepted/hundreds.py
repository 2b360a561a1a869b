# steps of 100, then of 10, then of 1: right, but with up to 28 guesses
low = 0
for step in (100, 10, 1):
    guess = low + step
    while True:
        print(min(guess, 1000), flush=True)
        answer = input()
        if answer == "correct":
            raise SystemExit
        if answer == "lower":
            break
        low = guess
        guess += step
