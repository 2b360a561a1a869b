import sys
from fractions import Fraction

data = sys.stdin.read().split()
n = int(data[0])
print(f"{float(Fraction(sum(map(int, data[1:1 + n])), n)):.9f}")
