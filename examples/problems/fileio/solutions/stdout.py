with open("input.txt") as f:
    n, *values = map(int, f.read().split())
print(max(values[:n]))  # to stdout, not output.txt
