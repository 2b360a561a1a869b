import sys


def main():
    data = sys.stdin.buffer.read().split()
    n, t = int(data[0]), int(data[1])
    seen = {}
    for j in range(n):
        x = int(data[2 + j])
        if t - x in seen:
            print(seen[t - x] + 1, j + 1)
            return
        seen.setdefault(x, j)
    print("none")


main()
