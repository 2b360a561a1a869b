import sys

data = sys.stdin.read().split()
n, t = int(data[0]), int(data[1])
seen = {}
for j in range(n):
    x = int(data[2 + j])
    if t - x in seen:
        print(seen[t - x], j)  # 0-based: off by one
        break
    seen.setdefault(x, j)
else:
    print("none")
