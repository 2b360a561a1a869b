"""What bounds the checkers' memory and the excerpt they write: read at call time (bounds.CHUNK), so
that tests may shrink them to put chunk boundaries everywhere."""

CHUNK = 1 << 20  # bytes read at a time (tests shrink it to put chunk boundaries everywhere)
FLOAT_CHUNK = 256 << 10  # float and unordered split a chunk into a list of items: smaller keeps that list small
LONG_TOKEN = 1 << 20  # float: a longer token cannot be a number and is kept as a hash
HEAD = 256  # bytes kept of a line or token for a message: _show's 60 characters need at most 4*61+3
CONTEXT = 3  # lines of the excerpt before and after the first difference
ROW_CHARS = 200  # an excerpt line is cut to this many characters
ROW_HEAD = 4 * ROW_CHARS + 4  # bytes kept of an excerpt line
MAX_DIFF = 16 << 10  # the whole excerpt, in bytes
EXACT_ITEMS = 8192  # unordered, naming an item: up to this many items per file, and
EXACT_BYTES = 4 << 20  # this many bytes in both files, all are counted; else those of one bucket
BUCKET_BITS = 13  # of 2**13 buckets (by the items' hashes), so ~1/8192 of the items
