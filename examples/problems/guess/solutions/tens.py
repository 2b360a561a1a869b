# by tens until past the secret, then by ones from the ten below
ten = 10
while True:
    print(ten, flush=True)
    reply = input()
    if reply == "=":
        raise SystemExit
    if reply == "<":
        break
    ten += 10
for guess in range(ten - 9, ten):
    print(guess, flush=True)
    if input() == "=":
        break
