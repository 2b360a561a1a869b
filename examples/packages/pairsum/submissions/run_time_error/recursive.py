import sys

# recursion past Python's limit on the large inputs: RecursionError
def find(data, t, j, seen):
    if j == len(data):
        return None
    x = data[j]
    if t - x in seen:
        return seen[t - x] + 1, j + 1
    seen.setdefault(x, j)
    return find(data, t, j + 1, seen)


words = sys.stdin.read().split()
n, t = int(words[0]), int(words[1])
pair = find([int(x) for x in words[2:2 + n]], t, 0, {})
print(*pair) if pair else print("none")
