with open("input.txt") as f:
    n, *values = map(int, f.read().split())
with open("output.txt", "w") as f:
    print(max(values[:n]), file=f)
