"""Every language: accepted, wrong answer, compilation error, time and memory limits,
through the real sandbox and the real Debian toolchains (64 MB limit throughout)."""

import pytest

from gavel_contract import TestVerdict, Verdict
from gavel_runner.sandbox import under_gvisor

# gVisor gives private memory in 2 MiB-aligned blocks and counts them in a process's RSS: these
# toolchains' compilers pass the 512 MB compile limit there (javac 695 MB, measured; docs/gvisor.md)
HEAVY_UNDER_GVISOR = {"go", "java", "javascript", "rust"}


def languages(names):
    return [pytest.param(n, marks=pytest.mark.xfail(reason="compile memory under gVisor (docs/gvisor.md)",
                                                   strict=False))
            if under_gvisor() and n in HEAVY_UNDER_GVISOR else n for n in sorted(names)]

TESTS = {"1": ("1 2\n", "3\n"), "2": ("40 2\n", "42\n")}

SUM = {
    "c": '#include <stdio.h>\nint main(){long a,b;scanf("%ld %ld",&a,&b);printf("%ld\\n",a+b);}\n',
    "c:c11": '#include <stdio.h>\nint main(){long a,b;scanf("%ld %ld",&a,&b);printf("%ld\\n",a+b);}\n',
    "cpp": "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<'\\n';}\n",
    "cpp:20": "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<'\\n';}\n",
    "cpp:23": "#include <iostream>\n#include <utility>\nenum class E{k=1};\n"  # std::to_underlying is C++23
              "int main(){long a,b;std::cin>>a>>b;std::cout<<a+b*std::to_underlying(E::k)<<'\\n';}\n",
    "python": "a, b = map(int, input().split())\nprint(a + b)\n",
    "java": "import java.util.*;\npublic class Main{public static void main(String[] x){Scanner s=new Scanner(System.in);"
            "System.out.println(s.nextLong()+s.nextLong());}}\n",
    "go": 'package main\nimport "fmt"\nfunc main(){var a, b int64; fmt.Scan(&a, &b); fmt.Println(a+b)}\n',
    "rust": "use std::io::*;\nfn main(){let mut s=String::new();stdin().read_to_string(&mut s).unwrap();"
            "let v:Vec<i64>=s.split_whitespace().map(|x|x.parse().unwrap()).collect();println!(\"{}\",v[0]+v[1]);}\n",
    "javascript": "const s=require('fs').readFileSync(0,'utf8').trim().split(/\\s+/).map(Number);console.log(s[0]+s[1]);\n",
}

WRONG = {
    "c": '#include <stdio.h>\nint main(){puts("0");}\n',
    "cpp": "#include <iostream>\nint main(){std::cout<<0<<'\\n';}\n",
    "python": "print(0)\n",
    "java": "public class Main{public static void main(String[] x){System.out.println(0);}}\n",
    "go": 'package main\nimport "fmt"\nfunc main(){fmt.Println(0)}\n',
    "rust": 'fn main(){println!("0");}\n',
    "javascript": "console.log(0);\n",
}

BROKEN = {
    "c": "int main(){ return undefined_name; }\n",
    "cpp": "int main(){ std::vector<int> v; }\n",
    "python": "def f(:\n",
    "java": "public class Main{ void }\n",
    "go": "package main\nfunc main(){ x := }\n",
    "rust": "fn main(){ let x: i32 = \"s\"; }\n",
    "javascript": "function (\n",
}

LOOP = {
    "c": "int main(){volatile unsigned long x=0;for(;;)x++;}\n",
    "cpp": "int main(){volatile unsigned long x=0;for(;;)x++;}\n",
    "python": "x = 0\nwhile True:\n    x += 1\n",
    "java": "public class Main{public static void main(String[] a){long x=0;while(true){x++;if(x==-1)break;}}}\n",
    "go": "package main\nvar x int\nfunc main(){for{x++}}\n",
    "rust": "fn main(){let mut x:u64=0;loop{x=unsafe{std::ptr::read_volatile(&x)}+1;}}\n",
    "javascript": "let x=0;for(;;){x++;}\n",
}

# touch 200 MB, well past the 64 MB limit
HOG = {
    "c": "#include <stdlib.h>\n#include <string.h>\nint main(){for(int i=0;i<200;i++){char*p=malloc(1<<20);if(!p)return 3;"
         "memset(p,1,1<<20);}return 0;}\n",
    "cpp": "#include <vector>\nint main(){std::vector<std::vector<char>> v;for(int i=0;i<200;i++)v.emplace_back(1<<20,1);}\n",
    "python": "blocks = [bytearray(b'x' * (1 << 20)) for _ in range(200)]\n",
    "java": "public class Main{public static void main(String[] a){byte[][] b=new byte[200][];"
            "for(int i=0;i<200;i++){b[i]=new byte[1<<20];java.util.Arrays.fill(b[i],(byte)1);}}}\n",
    "go": "package main\nimport \"fmt\"\nfunc main(){b:=make([][]byte,200);for i:=range b{b[i]=make([]byte,1<<20);"
          "for j:=range b[i]{b[i][j]=1}};fmt.Println(len(b))}\n",
    "rust": "fn main(){let mut v=Vec::new();for _ in 0..200{v.push(vec![1u8;1<<20]);}println!(\"{}\",v.len());}\n",
    "javascript": "const b=[];for(let i=0;i<200;i++){b.push(Buffer.alloc(1<<20,1));}console.log(b.length);\n",
}


@pytest.mark.parametrize("language", languages(SUM))
def test_accepted(judge_source, language):
    result = judge_source(SUM[language], language, TESTS)
    assert result.verdict == Verdict.ACCEPTED, result.message + result.compile_output
    assert [t.name for t in result.tests] == ["1", "2"]
    for t in result.tests:
        assert 0 < t.memory_kb < 65536
        assert t.exit_code == 0


@pytest.mark.parametrize("language", languages(WRONG))
def test_wrong_answer(judge_source, language):
    result = judge_source(WRONG[language], language, TESTS)
    assert result.verdict == Verdict.TEST_FAILED
    assert all(t.verdict == TestVerdict.WRONG_ANSWER for t in result.tests)
    assert "expected '3', got '0'" in result.tests[0].message


@pytest.mark.parametrize("language", sorted(BROKEN))
def test_compilation_error(judge_source, language):
    result = judge_source(BROKEN[language], language, TESTS)
    assert result.verdict == Verdict.COMPILATION_ERROR, result.message
    assert result.compile_output and result.tests == []


@pytest.mark.parametrize("language", languages(LOOP))
def test_time_limit(judge_source, language):
    result = judge_source(LOOP[language], language, {"1": ("", "")}, timeMs=300)
    (t,) = result.tests
    assert t.verdict == TestVerdict.TIME_LIMIT_EXCEEDED, t
    assert t.cpu_time_ms >= 300 and "CPU time" in t.message


@pytest.mark.parametrize("language", languages(HOG))
def test_memory_limit(judge_source, language):
    result = judge_source(HOG[language], language, {"1": ("", "200\n")}, timeMs=5000)
    (t,) = result.tests
    assert t.verdict == TestVerdict.MEMORY_LIMIT_EXCEEDED, t


@pytest.mark.xfail(under_gvisor(), reason="compile memory under gVisor (docs/gvisor.md)", strict=False)
def test_java_exit_3_is_a_runtime_error_not_memory(judge_source):
    # 3 is also the JVM's exit code on OutOfMemoryError: its message tells them apart
    src = "public class Main{public static void main(String[] a){System.exit(3);}}\n"
    (t,) = judge_source(src, "java", {"1": ("", "")}).tests
    assert t.verdict == TestVerdict.RUNTIME_ERROR and t.exit_code == 3


@pytest.mark.xfail(under_gvisor(), reason="compile memory under gVisor (docs/gvisor.md)", strict=False)
def test_java_heap_refusal_is_memory_limit(judge_source):
    src = "public class Main{public static void main(String[] a){long[] x=new long[200_000_000];System.out.println(x.length);}}\n"
    (t,) = judge_source(src, "java", {"1": ("", "")}).tests
    assert t.verdict == TestVerdict.MEMORY_LIMIT_EXCEEDED and "heap limit" in t.message
