"""Runner pods in gVisor (`make test-e2e RUNTIME=gvisor`, `make test-hostile RUNTIME=gvisor`): the
chart imposes the RuntimeClass gvisor on every runner pod (chart.RUNTIME), and judging works there
as it does under runc, where gVisor's kernel differs (docs/gvisor.md): RLIMIT_NPROC accepted but
not enforced, no RLIMIT_MSGQUEUE, no /proc/sysvipc, no smaps_rollup."""

from __future__ import annotations

import pytest

from chart import RUNTIME, apply, wait_all

pytestmark = pytest.mark.skipif(RUNTIME != "gvisor", reason="the install's runner pods are not in gVisor (RUNTIME=gvisor)")

KERNEL = 'import os\nprint("gvisor" in os.uname().release)\n'
FORK_BOMB = "#include <unistd.h>\nint main(){for(;;)fork();}\n"
# one process (the C language's processes: 1): fork refused with EAGAIN, as RLIMIT_NPROC does on Linux
ONE_PROCESS = ('#include <errno.h>\n#include <stdio.h>\n#include <sys/types.h>\n#include <unistd.h>\n'
               'int main(){pid_t p=fork();if(p==0)_exit(0);printf("%d %d\\n",p,p<0?errno:0);return 0;}\n')
# no POSIX message queue, no SysV IPC object (gVisor cannot list them to remove them after a test)
IPC = ('#include <fcntl.h>\n#include <mqueue.h>\n#include <stdio.h>\n#include <sys/ipc.h>\n#include <sys/shm.h>\n'
       '#include <sys/sem.h>\n#include <sys/msg.h>\n'
       'int main(){int made=0;mqd_t q=mq_open("/gavel-mq",O_CREAT|O_RDWR,0600,NULL);made+=q!=(mqd_t)-1;'
       'made+=shmget(IPC_PRIVATE,4096,IPC_CREAT|0600)>=0;made+=semget(IPC_PRIVATE,1,IPC_CREAT|0600)>=0;'
       'made+=msgget(IPC_PRIVATE,IPC_CREAT|0600)>=0;printf("%d\\n",made);return 0;}\n')
SUM_CPP = "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<std::endl;}\n"


def test_judged_in_gvisor_runner_pods(kube, namespace, storage):
    at = storage.at(namespace)
    one = {"1": ("", "")}
    evs = [at.evaluation("kernel", KERNEL, "python", {"1": ("", "True\n")}),
           at.evaluation("sum", SUM_CPP, "cpp", {"1": ("1 2\n", "3\n"), "2": ("-5 5\n", "0\n")}),
           at.evaluation("one-process", ONE_PROCESS, "c", {"1": ("", "-1 11\n")},
                         limits={"processes": 1}),  # C allows 64 (threads) by default
           at.evaluation("ipc", IPC, "c", {"1": ("", "0\n")}),
           at.evaluation("fork-bomb", FORK_BOMB, "c", one, limits={"timeMs": 500})]
    apply(kube, namespace, evs)
    done = wait_all(kube, namespace, [e["metadata"]["name"] for e in evs], timeout=600)
    st = {name: ev["status"] for name, ev in done.items()}
    for name in ("kernel", "sum", "one-process", "ipc"):  # the submission saw gVisor's kernel
        assert st[name]["verdict"] == "Accepted", (name, st[name])
    bomb = st["fork-bomb"]
    assert bomb["phase"] == "Succeeded" and bomb["tests"][0]["verdict"] in ("TimeLimitExceeded", "RuntimeError"), bomb
    # the runner pods still there were given the RuntimeClass (imposed by the install's tenancy)
    pods = kube.json("-n", namespace, "get", "pods")["items"]
    assert {p["spec"].get("runtimeClassName") for p in pods} <= {"gvisor"}, \
        [(p["metadata"]["name"], p["spec"].get("runtimeClassName")) for p in pods]
