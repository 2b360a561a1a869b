while True:  # thinks forever before its first guess
    pass
