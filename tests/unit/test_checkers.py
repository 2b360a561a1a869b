from gavel_contract import Checker, CheckerKind
from gavel_runner import checkers


def test_exact():
    assert checkers.exact(b"1 2\n", b"1 2\n") == (True, "")
    ok, msg = checkers.exact(b"1 2 \n", b"1 2\n")
    assert not ok and "byte 3" in msg


def test_lines_ignores_trailing_whitespace_and_blank_lines():
    assert checkers.lines(b"1  \r\n2\t\n\n\n", b"1\n2\n")[0]
    assert checkers.lines(b"1\n2", b"1\n2\n")[0]
    ok, msg = checkers.lines(b"1\n3\n", b"1\n2\n")
    assert not ok and msg == "line 2: expected '2', got '3'"
    ok, msg = checkers.lines(b"1\n", b"1\n2\n")
    assert not ok and msg == "expected 2 lines, got 1"
    # leading whitespace and inner spacing still count
    assert not checkers.lines(b" 1\n", b"1\n")[0]
    assert not checkers.lines(b"1  2\n", b"1 2\n")[0]


def test_tokens():
    assert checkers.tokens(b"1\n2   3", b"1 2 3\n")[0]
    ok, msg = checkers.tokens(b"1 2", b"1 2 3")
    assert not ok and msg == "expected 3 tokens, got 2"


def test_float_absolute_and_relative():
    assert checkers.tokens(b"0.3333", b"0.33333333", 1e-3)[0]
    assert not checkers.tokens(b"0.33", b"0.33333333", 1e-3)[0]
    assert checkers.tokens(b"1000001", b"1000000", 1e-6)[0]  # relative
    assert checkers.tokens(b"nan inf", b"nan inf", 1e-6)[0]
    assert not checkers.tokens(b"inf", b"1e308", 1e-6)[0]
    assert not checkers.tokens(b"abc", b"1.0", 1e-6)[0]
    assert checkers.tokens(b"yes 1.0", b"yes 1", 1e-9)[0]


def test_parse():
    assert Checker.parse("float:1e-4") == Checker(kind=CheckerKind.FLOAT, epsilon=1e-4)
    assert Checker.parse("tokens").kind == CheckerKind.TOKENS
    assert Checker.parse("./check.cpp") == Checker(kind=CheckerKind.CUSTOM, program="./check.cpp")


def test_diff_text_is_bounded():
    text = checkers.diff_text("line 1 differs", b"".join(b"%d\n" % i for i in range(10000)), b"x\n", max_lines=20)
    assert text.startswith("line 1 differs\n") and "more diff lines" in text
