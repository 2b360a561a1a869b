print(0, flush=True)  # out of range
