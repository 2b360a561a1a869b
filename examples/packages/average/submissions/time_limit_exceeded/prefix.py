import sys

data = sys.stdin.read().split()
n = int(data[0])
a = [int(x) for x in data[1:1 + n]]
total = 0
for i in range(n):  # quadratic: fine for group 1, far too slow for the larger tests of group 2
    total = 0
    for x in a[:i + 1]:
        total += x
print(f"{total / n:.9f}")
