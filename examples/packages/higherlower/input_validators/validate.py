#!/usr/bin/env python3
import re
import sys

text = sys.stdin.read()
assert re.fullmatch(r"[1-9]\d*\n", text) and 1 <= int(text) <= 1000
sys.exit(42)
