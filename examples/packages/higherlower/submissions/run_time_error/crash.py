print(500, flush=True)
input()
raise RuntimeError("gave up")
