"""Programs in each language of the family images (languages/*.yaml whose image is gavel-runner-FAMILY):
the host's integration tests (tests/integration/test_more_languages.py) and the family images on the
cluster (tests/e2e/test_families.py) judge the same ones."""

# name: (A+B, prints 0, does not compile, fails at run time, never ends, touches 200 MB or more)
PROGRAMS: dict[str, tuple[str, str, str, str, str, str]] = {
    "fortran": (
        "program main\n  integer(8) :: a, b\n  read(*,*) a, b\n  print '(I0)', a + b\nend program main\n",
        "program main\n  print '(I0)', 0\nend program main\n",
        "program main\n  integer :: x\n  x = 'text'\nend program main\n",
        "program main\n  error stop 3\nend program main\n",
        "program main\n  do\n  end do\nend program main\n",
        "program main\n  integer(1), allocatable :: b(:)\n  integer :: i\n  allocate(b(200*1024*1024))\n"
        "  do i = 1, size(b)\n    b(i) = int(mod(i, 7), 1)\n  end do\n  print *, sum(int(b, 8))\nend program main\n",
    ),
    "ada": (
        "with Ada.Text_IO; with Ada.Long_Long_Integer_Text_IO; use Ada.Long_Long_Integer_Text_IO;\n"
        "procedure Main is\n   A, B : Long_Long_Integer;\nbegin\n   Get (A); Get (B);\n   Put (A + B, Width => 0);\n"
        "   Ada.Text_IO.New_Line;\nend Main;\n",
        'with Ada.Text_IO;\nprocedure Main is\nbegin\n   Ada.Text_IO.Put_Line ("0");\nend Main;\n',
        "procedure Main is\nbegin\n   X := 1;\nend Main;\n",
        "procedure Main is\nbegin\n   raise Program_Error;\nend Main;\n",
        "procedure Main is\n   X : Integer := 0 with Volatile;\nbegin\n   loop\n      X := (X + 1) mod 1000;\n"
        "   end loop;\nend Main;\n",
        "with Ada.Text_IO;\nprocedure Main is\n   type Block is array (1 .. 1048576) of Character;\n"
        "   type Block_Access is access Block;\n   Blocks : array (1 .. 200) of Block_Access;\nbegin\n"
        "   for I in Blocks'Range loop\n      Blocks (I) := new Block;\n      Blocks (I).all := (others => 'x');\n"
        "   end loop;\n   Ada.Text_IO.Put_Line (Integer'Image (Blocks'Length));\nend Main;\n",
    ),
    "d": (
        'import std.stdio;\nvoid main() { long a, b; readf(" %d %d", &a, &b); writeln(a + b); }\n',
        "import std.stdio;\nvoid main() { writeln(0); }\n",
        'void main() { int x = "s"; }\n',
        'void main() { throw new Exception("boom"); }\n',
        "void main() { for (;;) {} }\n",
        "import std.stdio;\nvoid main() { ubyte[][] b; foreach (i; 0 .. 200) { auto x = new ubyte[1 << 20]; x[] = 1; "
        "b ~= x; } writeln(b.length); }\n",
    ),
    "pascal": (
        "program main;\nvar a, b: int64;\nbegin\n  readln(a, b);\n  writeln(a + b);\nend.\n",
        "program main;\nbegin\n  writeln(0);\nend.\n",
        "program main;\nbegin\n  x := 1;\nend.\n",
        "program main;\nvar i: integer;\nbegin\n  i := 0;\n  writeln(10 div i);\nend.\n",
        "program main;\nvar x: int64;\nbegin\n  x := 0;\n  while true do inc(x);\nend.\n",
        "program main;\nvar p: array[1..200] of pointer; i: integer;\nbegin\n  for i := 1 to 200 do begin\n"
        "    getmem(p[i], 1 shl 20);\n    fillchar(p[i]^, 1 shl 20, 1);\n  end;\n  writeln(200);\nend.\n",
    ),
    "kotlin": (
        'fun main() {\n    val (a, b) = readLine()!!.trim().split(" ").map { it.toLong() }\n    println(a + b)\n}\n',
        "fun main() {\n    println(0)\n}\n",
        'fun main() {\n    val x: Int = "s"\n}\n',
        'fun main() {\n    throw RuntimeException("boom")\n}\n',
        "fun main() {\n    var x = 0L\n    while (true) {\n        x++\n        if (x == -1L) break\n    }\n}\n",
        "fun main() {\n    val b = Array(200) { ByteArray(1 shl 20) { 1 } }\n    println(b.size)\n}\n",
    ),
    "scala": (
        "object Main {\n  def main(args: Array[String]): Unit = {\n"
        '    val Array(a, b) = scala.io.StdIn.readLine().trim.split(" +").map(_.toLong)\n    println(a + b)\n  }\n}\n',
        "object Main {\n  def main(args: Array[String]): Unit = println(0)\n}\n",
        'object Main {\n  def main(args: Array[String]): Unit = { val x: Int = "s" }\n}\n',
        'object Main {\n  def main(args: Array[String]): Unit = throw new RuntimeException("boom")\n}\n',
        "object Main {\n  def main(args: Array[String]): Unit = { var x = 0L; while (x != -1L) x += 1 }\n}\n",
        "object Main {\n  def main(args: Array[String]): Unit = {\n"
        "    val b = Array.fill(200)(Array.fill[Byte](1 << 20)(1))\n    println(b.length)\n  }\n}\n",
    ),
    "csharp": (
        "using System;\nclass P {\n  static void Main() {\n    var s = Console.ReadLine().Split(' ');\n"
        "    Console.WriteLine(long.Parse(s[0]) + long.Parse(s[1]));\n  }\n}\n",
        "class P {\n  static void Main() { System.Console.WriteLine(0); }\n}\n",
        'class P {\n  static void Main() { int x = "s"; }\n}\n',
        'class P {\n  static void Main() { throw new System.Exception("boom"); }\n}\n',
        "class P {\n  static void Main() { long x = 0; while (x != -1) x++; }\n}\n",
        "class P {\n  static void Main() {\n    var b = new byte[200][];\n    for (int i = 0; i < 200; i++) {\n"
        "      b[i] = new byte[1 << 20];\n      for (int j = 0; j < b[i].Length; j++) b[i][j] = 1;\n    }\n"
        "    System.Console.WriteLine(b.Length);\n  }\n}\n",
    ),
    "haskell": (
        "main :: IO ()\nmain = interact $ \\s -> let [a, b] = map read (words s) :: [Integer] in show (a + b) ++ \"\\n\"\n",
        'main :: IO ()\nmain = putStrLn "0"\n',
        'main :: IO ()\nmain = putStrLn (1 + "s")\n',
        'main :: IO ()\nmain = error "boom"\n',
        "loop :: Int -> Int\nloop n = if n < 0 then n else loop (n + 1)\nmain :: IO ()\nmain = print (loop 0)\n",
        "import qualified Data.ByteString as B\nmain :: IO ()\n"
        "main = do\n  bs <- mapM (\\i -> return $! B.replicate 1048576 (fromIntegral i)) [1 .. 200 :: Int]\n"
        "  print (sum (map B.length bs))\n  print (B.length (last bs))\n",
    ),
    "ocaml": (
        'let () = Scanf.scanf " %d %d" (fun a b -> Printf.printf "%d\\n" (a + b))\n',
        'let () = print_endline "0"\n',
        "let () = print_endline 1\n",
        'let () = failwith "boom"\n',
        "let () = let x = ref 0 in while true do incr x done; print_int !x\n",
        "let () = let b = Array.init 200 (fun _ -> Bytes.make (1 lsl 20) 'x') in print_int (Array.length b)\n",
    ),
    "prolog": (
        "main :- read_line_to_string(user_input, S), split_string(S, \" \", \" \", [A, B]),\n"
        "    number_string(X, A), number_string(Y, B), Z is X + Y, format(\"~d~n\", [Z]).\n",
        "main :- writeln(0).\n",
        "main :- writeln(0\n",
        "main :- X is 1 / 0, writeln(X).\n",
        "loop(X) :- Y is X + 1, loop(Y).\nmain :- loop(0).\n",
        "main :- numlist(1, 10000000, L), length(L, N), writeln(N).\n",
    ),
    "pypy": (
        "a, b = map(int, input().split())\nprint(a + b)\n",
        "print(0)\n",
        "def f(:\n",
        "print(1 // 0)\n",
        "x = 0\nwhile True:\n    x += 1\n",
        "blocks = [bytearray(b'x' * (1 << 20)) for _ in range(200)]\nprint(len(blocks))\n",
    ),
    "ruby": (
        "a, b = gets.split.map(&:to_i)\nputs a + b\n",
        "puts 0\n",
        "def f(\n",
        'raise "boom"\n',
        "x = 0\nloop { x += 1 }\n",
        'b = Array.new(200) { |i| i.chr * (1 << 20) }\nputs b.size\n',
    ),
    "lua": (
        'local a, b = io.read("n", "n")\nprint(a + b)\n',
        "print(0)\n",
        "print(\n",
        'error("boom")\n',
        "local x = 0\nwhile true do x = x + 1 end\n",
        "local t = {}\nfor i = 1, 200 do t[i] = string.rep(string.char(i), 1 << 20) end\nprint(#t)\n",
    ),
    "perl": (
        "my ($a, $b) = split ' ', <STDIN>;\nprint $a + $b, \"\\n\";\n",
        'print "0\\n";\n',
        'print "x" +;\n',
        'die "boom\\n";\n',
        "my $x = 0;\nwhile (1) { $x++ }\n",
        'my @b = map { chr($_) x (1 << 20) } 1 .. 200;\nprint scalar(@b), "\\n";\n',
    ),
    "php": (
        "<?php\n[$a, $b] = array_map('intval', explode(' ', trim(fgets(STDIN))));\necho $a + $b, \"\\n\";\n",
        '<?php\necho "0\\n";\n',
        "<?php\necho ;\n",
        '<?php\nthrow new Exception("boom");\n',
        "<?php\n$x = 0;\nwhile (true) { $x++; }\n",
        '<?php\n$b = [];\nfor ($i = 0; $i < 200; $i++) { $b[] = str_repeat(chr($i), 1 << 20); }\necho count($b), "\\n";\n',
    ),
    "bash": (
        "read -r a b\necho $((a + b))\n",
        "echo 0\n",
        "if true; then\n  echo 1\n",
        "ls /no/such/directory || exit 3\n",
        "x=0\nwhile true; do x=$((x + 1)); done\n",
        "s=x\nfor i in $(seq 28); do s=$s$s; done\necho ${#s}\n",
    ),
    "awk": (
        "{ print $1 + $2 }\n",
        "BEGIN { print 0 }\n",
        "{ print ( }\n",
        "BEGIN { x = 0; print 1 / x }\n",
        "BEGIN { while (1) x++ }\n",
        'BEGIN { s = "x"; for (i = 0; i < 28; i++) s = s s; print length(s) }\n',
    ),
    "r": (
        'x <- scan(file("stdin"), quiet = TRUE)\ncat(x[1] + x[2], "\\n", sep = "")\n',
        'cat("0\\n")\n',
        "f <- function( {\n",
        'stop("boom")\n',
        "x <- 0\nrepeat { x <- x + 1 }\n",
        'b <- lapply(1:200, function(i) rep(as.raw(i %% 256), 2^20))\ncat(length(b), "\\n")\n',
    ),
}

# one allocation past the runtime's own heap limit (memoryArgs), well under the sandbox's: the runtime
# refuses it, exits with its out-of-memory code and words, and the test is MemoryLimitExceeded
HEAP = {
    "kotlin": "fun main() {\n    val x = LongArray(100000000)\n    println(x.size)\n}\n",
    "scala": "object Main {\n  def main(args: Array[String]): Unit = println(new Array[Long](100000000).length)\n}\n",
    "csharp": "class P {\n  static void Main() { var b = new long[100000000]; System.Console.WriteLine(b.Length); }\n}\n",
    "pypy": "x = [0] * 100000000\nprint(len(x))\n",
    "php": '<?php\n$s = str_repeat("x", 200000000);\necho strlen($s), "\\n";\n',
    "prolog": "main :- length(L, 20000000), writeln(L).\n",
}
HEAP["haskell"] = PROGRAMS["haskell"][5]  # (a Data.Map of 10 million goes past the RSS limit first: GC copying)
