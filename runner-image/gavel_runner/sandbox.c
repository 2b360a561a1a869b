/*
 * gavel-sandbox: run untrusted programs under limits and measure them.
 *
 * Why a separate C program: Linux records the peak RSS of the image a process replaces
 * at exec time (signal->maxrss), so a program forked from the Python runner would report
 * the runner's ~30 MB as its own peak.  Forking from this tiny static process keeps
 * ru_maxrss honest.  In serve mode (-S) one sandbox process runs every test of a
 * judgement; its spawner (a small child forked at start: see start_spawner) starts each
 * program in memory it shares until the exec, as posix_spawn does: a test costs one exec and
 * no copy of page tables.
 *
 *   gavel-sandbox [options] -- PROGRAM [ARGS...]     run one program
 *   gavel-sandbox -S                                   serve: read requests on stdin
 *
 * A request is "N\n" followed by N NUL-terminated words: the options and program, as
 * on the command line.  Each run answers with one line on stdout:
 *   exit=N signal=N cpu_ms=N wall_ms=N waited_ms=N rss_kb=N killed=none|cpu|wall|starved|memory|processes
 *   leftovers=N dropped=0|1 cleaned=N end_ms=N
 * (end_ms: CLOCK_MONOTONIC when the program ended or was killed: two runs at once, e.g. an
 * interactive program and its interactor, are ordered by it)
 *
 * The wall limit catches a program that sleeps or blocks. A crowded node (other pods, the pod's
 * CPU quota) also stretches wall time, while the program waits runnable for a CPU: the kernel
 * counts that wait per task (/proc/PID/task/TID/schedstat, its second field), and it does not
 * count toward the wall limit. waited_ms is the longest any live task of the run had waited, but
 * never more than the time none of the run was on a CPU (wall - CPU: tasks of its own queued behind
 * each other are its own doing), read from shortly before the wall limit on; a run is killed for
 * wall time when wall_ms - waited_ms passes the limit. Waiting can only stretch a run to
 * STARVED_FACTOR times its wall limit: past that it is killed as starved, which is the node's
 * fault and no verdict. Under gVisor (not read there) or where the kernel keeps no such count,
 * waited_ms is 0: the plain wall limit holds. The kernel adds a wait to the count when the task
 * gets a CPU, so a wait still going on is not in it yet: the count errs toward the program's loss.
 * or, when the sandbox itself failed (not the program):  error=MESSAGE
 *
 * A run is every process the program starts: CPU is theirs all (waited for or not: orphans are
 * reparented to us, the subreaper, and their rusage is added), memory the peak of their sum, and
 * the limits are watched on the whole tree.  With -u, after the run nothing of the uid survives
 * for the next one: its processes are swept, then (as the uid) its files in the -c directories
 * and its SysV IPC objects are removed ("cleaned": how many); POSIX message queues cannot be
 * made at all (RLIMIT_MSGQUEUE 0).
 *
 * Under gVisor (runsc), whose kernel accepts RLIMIT_NPROC but does not enforce it and refuses
 * to set RLIMIT_MSGQUEUE, the same guarantees are kept another way (docs/gvisor.md): a run of
 * one process gets a seccomp filter refusing fork, vfork and clone (EAGAIN, what the rlimit
 * would give), a run allowed several is killed once its live processes and threads outnumber
 * -p (killed=processes), mq_open is refused by the filter (EMFILE, as the rlimit would), and
 * the uid sweep kills until the subreaper has no child left instead of asking the rlimit.
 * gVisor has no /proc/sysvipc to find a uid's SysV IPC objects by: there, making one fails.
 *
 * Options:
 *   -d DIR   working directory            -i FILE  stdin (default /dev/null)
 *   -o FILE  stdout (created)             -e FILE  stderr (created; the same path as -o: one file)
 *   -u UID   -g GID  run as (needs root)  -E K=V   environment entry (repeatable; nothing else passes)
 *   -t MS    CPU time limit               -w MS    wall-clock limit
 *   -m KB    memory limit: peak RSS of the run (one process: its RSS; several: their Pss
 *            summed, or their RSS without CAP_SYS_PTRACE), watched (killed past it) and measured
 *   -a KB    address-space limit (0: none; Java, Go and Node reserve far more than they use)
 *   -f BYTES file size / output cap       -p N     processes+threads of the uid (RLIMIT_NPROC)
 *   -n N     open files                   -s KB    stack
 *   -c DIR   with -u: remove the uid's files in DIR after the run (repeatable; /tmp, /dev/shm...)
 *   -r       open stdout before stdin (an interactor's side of the two FIFOs it shares with a program)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/kcmp.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ENV 64
#define MAX_CLEAN 16
#define MAX_WORDS 4096
#define MAX_TREE 4096    /* processes of one run sampled (RLIMIT_NPROC allows at most 4096) */
#define POLL_NS 5000000L /* 5 ms: how often CPU time and RSS are sampled */
#define PSS_BUDGET_MS 50 /* what one sample spends reading Pss at most (sample_tree) */
#define PSS_MAX_PROCESSES 256 /* more at once (a fork bomb): their RSS summed, no Pss read at all */
#define WAIT_EVERY_MS 20 /* how often the run's wait for a CPU is read, once near its wall limit */
#define STARVED_FACTOR 3 /* waiting for a CPU stretches a run to this many times its wall limit at most */

struct job {
    const char *dir, *in, *out, *err;
    long long cpu_ms, wall_ms, mem_kb, as_kb, fsize, stack_kb;
    long nproc, nofile, uid, gid;
    int out_first; /* -r: open stdout before stdin (the interactor's side of two FIFOs) */
    char *env[MAX_ENV + 1];
    const char *clean[MAX_CLEAN];
    int nclean;
    char **argv;
};

/* What is known of one run: its main process, and every other process of it we reaped. */
struct run {
    pid_t pid;
    int done, status;     /* the main process was reaped; its wait status */
    struct rusage ru;     /* its rusage: itself and the children it waited for */
    long long others_us;  /* CPU of the other processes we reaped: orphans, leftovers */
    long others_kb;       /* their largest ru_maxrss */
    long long peak_kb;    /* largest sampled memory while the run had several processes */
};

static jmp_buf on_error;
static char error_text[512];
static pid_t runner; /* our parent: we must die with it (PR_SET_PDEATHSIG) */

/* The spawner: a child of ours, forked at start, that starts every program (see start_run).
 * 0: none (programs are forked from here); -1: it died (every later run fails). */
static pid_t spawner;
static int spawner_sock = -1;

/* The sandbox failed (not the program): report it and go back to the request loop. */
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_text, sizeof error_text, fmt, ap);
    va_end(ap);
    longjmp(on_error, 1);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* In the child: report why it could not exec through the pipe, and exit. */
static void child_fail(int report, const char *what) {
    char msg[256];
    int n = snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
    if (write(report, msg, n) < 0) {}
    _exit(127);
}

static int set_limit(int resource, rlim_t value) {
    struct rlimit rl = {value, value}, cur;
    if (setrlimit(resource, &rl) == 0) return 0;
    /* never above the hard limit this process was given */
    getrlimit(resource, &cur);
    if (cur.rlim_max == RLIM_INFINITY || value <= cur.rlim_max) return -1;
    rl.rlim_cur = rl.rlim_max = cur.rlim_max;
    return setrlimit(resource, &rl);
}

static long long tv_us(struct timeval tv) { return tv.tv_sec * 1000000LL + tv.tv_usec; }

/* Reap whatever of the run has ended, without blocking: the main process's status and rusage
 * are kept, any other's rusage is added to the run's.  0 while children remain (the spawner
 * is one: see others_remain), -1 when none. */
static int reap(struct run *r) {
    struct rusage ru;
    int st;
    pid_t p;
    while ((p = wait4(-1, &st, WNOHANG, &ru)) > 0) {
        if (p == r->pid) {
            r->done = 1, r->status = st, r->ru = ru;
            continue;
        }
        if (p == spawner) { /* not the run's: it is gone, and the next run fails */
            spawner = -1;
            continue;
        }
        r->others_us += tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
        if (ru.ru_maxrss > r->others_kb) r->others_kb = ru.ru_maxrss;
    }
    if (p < 0 && errno == ECHILD) return -1;
    if (p < 0 && errno != EINTR) fail("wait4: %s", strerror(errno));
    return 0;
}

/* Append the pids listed in a /proc children file to list. */
static int read_pids(const char *path, pid_t *list, int n) {
    static char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return n;
    size_t used = 0;
    ssize_t k;
    while (used < sizeof buf - 1 && (k = read(fd, buf + used, sizeof buf - 1 - used)) > 0) used += k;
    close(fd);
    buf[used] = 0;
    for (char *p = buf, *end; n < MAX_TREE; p = end) {
        long v = strtol(p, &end, 10);
        if (end == p) break;
        if ((pid_t)v != spawner) list[n++] = (pid_t)v; /* ours, not the run's */
    }
    return n;
}

/* Append the children of process pid: they hang off the thread that forked them. */
static int add_children(pid_t pid, long threads, pid_t *list, int n) {
    char path[80];
    if (threads <= 1) {
        snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, pid);
        return read_pids(path, list, n);
    }
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d) return n;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/children", pid, e->d_name);
        n = read_pids(path, list, n);
    }
    closedir(d);
    return n;
}

/* Whether a child of ours besides the spawner is alive (or not yet reaped): what reap()'s 0 says
 * when there is no spawner.  Unreadable children file: assume so (then the run is swept). */
static int others_remain(struct run *r) {
    if (reap(r) < 0) return 0;
    if (spawner <= 0) return 1;
    static pid_t list[MAX_TREE];
    char path[80];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", getpid(), getpid());
    if (access(path, R_OK) != 0) return 1;
    return read_pids(path, list, 0) > 0;
}

struct pstat {
    char state;
    long long ticks; /* utime+stime (all threads) + cutime+cstime (children it waited for) */
    long threads, rss_pages;
    unsigned long vsize;
};

static int read_stat(pid_t pid, struct pstat *s) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* comm may hold spaces */
    if (!p) return -1;
    unsigned long long ut, st;
    long long cut, cst;
    /* fields after comm: state(3) ... utime(14) stime(15) cutime(16) cstime(17) ...
     * num_threads(20) ... vsize(23) rss(24) */
    if (sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld %*d %*d %ld %*d %*u %lu %ld",
               &s->state, &ut, &st, &cut, &cst, &s->threads, &s->vsize, &s->rss_pages) != 8)
        return -1;
    s->ticks = (long long)(ut + st) + cut + cst;
    return 0;
}

/* Whether pid leads its thread group. gVisor's /proc/PID/task/TID/children lists a child's threads
 * beside the child (Linux lists processes only), and /proc/THREAD/stat there describes the whole
 * process: counted as processes, node's 7 threads made its memory 7 x its RSS (a `node --check`
 * "used" 609 MB) and its CPU 7 x its own. Asked only of processes with several threads. */
static int leads_its_group(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 1;
    buf[n] = 0;
    char *p = strstr(buf, "\nTgid:");
    return !p || atol(p + 6) == (long)pid;
}

/* The uid a run's processes have, or -1: /proc's smaps of another user's process needs
 * CAP_SYS_PTRACE (a pod drops it, and Pod Security's baseline forbids it), but the check is
 * made against the reader's fsuid, so we read as that uid. */
static long run_uid = -1;

/* Proportional set size of a process (kB): pages shared since a fork count once over all.
 * 0 for a process gone or exiting (its memory is already released); -1 when not ours to read. */
static long long read_pss(pid_t pid) {
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
    if (run_uid >= 0) setfsuid((uid_t)run_uid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int open_errno = errno;
    if (run_uid >= 0) setfsuid(geteuid());
    errno = open_errno;
    if (fd < 0 && errno == ENOENT) { /* gone, or a kernel without smaps_rollup (gVisor) */
        snprintf(path, sizeof path, "/proc/%d", pid);
        return access(path, F_OK) == 0 ? -1 : 0;
    }
    if (fd < 0) return errno == EACCES || errno == EPERM ? -1 : 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strstr(buf, "\nPss:");
    return p ? atoll(p + 5) : 0;
}

/* ns task path waited runnable for a CPU (its schedstat's second field), or -1 (no such file) */
static long long read_run_delay(const char *path) {
    char buf[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    unsigned long long on_cpu, delay;
    return sscanf(buf, "%llu %llu", &on_cpu, &delay) == 2 ? (long long)delay : -1;
}

/* The longest any thread of process pid has waited for a CPU, in ns; -1: not known. */
static long long process_run_delay(pid_t pid, long threads) {
    char path[80];
    if (threads <= 1) {
        snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
        return read_run_delay(path);
    }
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    long long most = -1;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/schedstat", pid, e->d_name);
        long long ns = read_run_delay(path);
        if (ns > most) most = ns;
    }
    closedir(d);
    return most;
}

/* CPU ms and memory kB of the run's live processes: our children and their descendants (a walk
 * of /proc/PID/task/TID/children, not a scan of all of /proc).  Memory is the RSS of a lone
 * process (what its ru_maxrss counts), the sum of the Pss of several (a vfork child, sharing its
 * parent's memory, counted once), or of their RSS where Pss cannot be read.  With waited_ms (not
 * NULL): the longest any live task of theirs has waited for a CPU, or -1 where the kernel does
 * not say.  Returns how many are live. */
static int sample_tree(pid_t main_pid, long long *cpu_ms, long long *mem_kb, long *tasks, long long *waited_ms) {
    static pid_t tree[MAX_TREE];
    static struct pstat st[MAX_TREE];
    static int parent[MAX_TREE]; /* index in tree of the process it was found under; -1: ours */
    static long tick = 0, page_kb = 0;
    if (!tick) tick = sysconf(_SC_CLK_TCK), page_kb = sysconf(_SC_PAGESIZE) / 1024;
    int n = add_children(getpid(), 1, tree, 0), live = 0;
    if (n == 0) tree[n++] = main_pid; /* no children file (CONFIG_PROC_CHILDREN): the main one */
    for (int k = 0; k < n; k++) parent[k] = -1;
    long long ticks = 0, rss = 0, delay = -1;
    *tasks = 0;
    for (int i = 0; i < n; i++) {
        if (read_stat(tree[i], &st[i]) != 0) st[i].state = 'X';
        if (st[i].threads > 1 && !leads_its_group(tree[i])) st[i].state = 'X'; /* a thread (gVisor) */
        if (st[i].state == 'X') continue;
        ticks += st[i].ticks;
        if (st[i].state == 'Z') continue;
        live++, rss += st[i].rss_pages * page_kb, *tasks += st[i].threads > 0 ? st[i].threads : 1;
        if (waited_ms) {
            long long ns = process_run_delay(tree[i], st[i].threads);
            if (ns > delay) delay = ns;
        }
        int first = n;
        n = add_children(tree[i], st[i].threads, tree, n);
        for (int k = first; k < n; k++) parent[k] = i;
    }
    *cpu_ms = ticks * 1000 / tick;
    *mem_kb = rss;
    if (waited_ms) *waited_ms = delay < 0 ? -1 : delay / 1000000;
    if (live <= 1 || live > PSS_MAX_PROCESSES) return live;
    /* Pss waits for each process's memory map lock, which a process in fork() holds: reading a tree
     * that forks as fast as it can took seconds per sample (8.9 s for 1,011 processes here). Past
     * PSS_BUDGET_MS the rest are counted by their RSS, as where Pss cannot be read. */
    long long pss = 0, budget_end = now_ms() + PSS_BUDGET_MS;
    for (int i = 0; i < n; i++) {
        if (st[i].state == 'X' || st[i].state == 'Z') continue;
        if (now_ms() > budget_end) {
            pss += st[i].rss_pages * page_kb;
            continue;
        }
        /* a vfork (CLONE_VM) child shares its parent's memory: compared with its parent only (one
         * kcmp per process: compared with every earlier one, a fork bomb's 1,024 alike processes
         * cost half a million kcmp calls per sample, 26 s, and the watchdog was blind meanwhile) */
        int k = parent[i];
        int same_mm = k >= 0 && st[k].rss_pages == st[i].rss_pages && st[k].vsize == st[i].vsize &&
                      st[k].state != 'Z' && st[k].state != 'X' &&
                      syscall(SYS_kcmp, tree[k], tree[i], KCMP_VM, 0, 0) == 0;
        long long kb = same_mm ? 0 : read_pss(tree[i]);
        if (kb < 0) return live; /* unreadable: the RSS sum stands */
        pss += kb;
    }
    *mem_kb = pss;
    return live;
}

/* Whether the kernel enforces RLIMIT_NPROC: Linux does, gVisor accepts the limit and ignores it.
 * A child becomes uid (a judgement's own: it owns no process yet), limits it to 1 and forks.
 * Asked once, at the first run with a uid of its own; -1 until then. */
static int nproc_enforced = -1;

static void probe_nproc(uid_t uid, gid_t gid) {
    if (nproc_enforced >= 0) return;
    pid_t k = fork();
    if (k < 0) fail("fork: %s", strerror(errno));
    if (k == 0) {
        struct rlimit one = {1, 1};
        if (setgroups(0, NULL) || setgid(gid) || setuid(uid) || setrlimit(RLIMIT_NPROC, &one)) _exit(3);
        pid_t p = fork();
        if (p == 0) _exit(0);
        if (p > 0) { waitpid(p, NULL, 0); _exit(1); }
        _exit(errno == EAGAIN ? 0 : 3);
    }
    int st;
    while (waitpid(k, &st, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(st) || WEXITSTATUS(st) > 1) fail("cannot probe RLIMIT_NPROC as uid %u", uid);
    nproc_enforced = WEXITSTATUS(st) == 0;
}

/* Make the syscalls nrs[i] fail with errs[i] in this process and what it execs (after
 * PR_SET_NO_NEW_PRIVS): where the kernel does not enforce the rlimit that would refuse them
 * (gVisor).  Another architecture's or ABI's syscalls (x32) are refused outright. */
static int refuse_syscalls(const int *nrs, const int *errs, int n) {
#if defined(__x86_64__)
    const unsigned arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    const unsigned arch = AUDIT_ARCH_AARCH64;
#else
#error "refuse_syscalls: unknown architecture"
#endif
    struct sock_filter f[8 + 2 * 12];
    int k = 0;
    if (n > 12) return errno = EINVAL, -1;
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1); /* x32 */
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
    for (int i = 0; i < n; i++) {
        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i], 0, 1);
        f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (errs[i] & SECCOMP_RET_DATA));
    }
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {.len = (unsigned short)k, .filter = f};
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* SIGKILL every process below us, as we are (root): the children files walked as sample_tree
 * walks them.  Those born meanwhile are children of the killed, and come to us. */
static void kill_tree(void) {
    static pid_t tree[MAX_TREE];
    int n = add_children(getpid(), 1, tree, 0);
    for (int i = 0; i < n; i++) {
        struct pstat st;
        kill(tree[i], SIGKILL);
        if (read_stat(tree[i], &st) == 0 && st.state != 'Z' && (st.threads <= 1 || leads_its_group(tree[i])))
            n = add_children(tree[i], st.threads, tree, n);
    }
}

/* Kill every process of uid.  A child becomes uid and tries to fork under RLIMIT_NPROC=2:
 * the kernel refuses when uid owns another task besides the child (kill(-1) says nothing:
 * it succeeds whenever any process exists), so it kills them all and we look again.
 * What is killed is ours to reap (we are the subreaper): its rusage goes to the run.
 * Where RLIMIT_NPROC is not enforced (gVisor), the uid has nothing left once we have no child
 * left: every process of the run is our descendant, and orphans come to us.
 * Returns how many rounds found something. */
static int sweep_uid(uid_t uid, gid_t gid, struct run *r) {
    int rounds = 0;
    for (; rounds < 50; rounds++) {
        if (nproc_enforced == 0 && !others_remain(r)) break;
        if (nproc_enforced == 0) kill_tree(); /* as root: a process of the uid killing the uid's
                                                * every process in a loop cannot stop that */
        pid_t k = fork();
        if (k < 0) fail("fork: %s", strerror(errno));
        if (k == 0) {
            struct rlimit two = {2, 2};
            if (setgroups(0, NULL) || setgid(gid) || setuid(uid) || setrlimit(RLIMIT_NPROC, &two)) _exit(3);
            pid_t probe = nproc_enforced == 0 ? -1 : fork();
            if (probe == 0) _exit(0);
            if (probe > 0) { waitpid(probe, NULL, 0); _exit(0); }
            kill(-1, SIGKILL);
            _exit(1);
        }
        int st;
        while (waitpid(k, &st, 0) < 0 && errno == EINTR) {} /* the helper: not the run's */
        if (WIFEXITED(st) && WEXITSTATUS(st) == 3) fail("cannot sweep uid %u", uid);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) break;
        /* it killed some, or one of them killed it first (kill(-1) in a loop): reap what was
         * killed, or it still counts, and look again */
        usleep(1000);
        reap(r);
    }
    return rounds;
}

/* Without a uid of its own (not root), kill our children one by one: escaped descendants
 * were reparented to us, the subreaper, and theirs follow as they die. */
static int kill_children(struct run *r) {
    static pid_t list[MAX_TREE];
    char path[64];
    int rounds = 0;
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", getpid(), getpid());
    for (; rounds < 50; rounds++) {
        int n = read_pids(path, list, 0);
        if (n == 0) break;
        for (int i = 0; i < n; i++) kill(list[i], SIGKILL);
        usleep(1000);
        reap(r);
    }
    return rounds;
}

/* Where a directory of the uid's is emptied, its subdirectories are moved up to the top of the
 * cleaned tree under these names and emptied in turn: no recursion, however deep the uid made
 * it, and no descriptor per level. */
static unsigned long moved_seq;

static void moved_name(char *buf, size_t size, unsigned long seq) {
    snprintf(buf, size, ".gavel-clean.%d.%lu", getpid(), seq);
}

/* Remove the directory name (in parent) that uid owns, with all it holds.  Returns how many
 * entries were removed. */
static int remove_dir(int parent, const char *name, int top, dev_t dev, uid_t uid) {
    char cur[256], dst[64];
    unsigned long next = moved_seq;
    int removed = 0;
    snprintf(cur, sizeof cur, "%s", name);
    for (;;) {
        fchmodat(parent, cur, 0700, 0); /* its owner may have shut itself out */
        int fd = openat(parent, cur, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd < 0 ? NULL : fdopendir(fd);
        if (fd >= 0 && !d) close(fd);
        for (struct dirent *e; d && (e = readdir(d));) {
            struct stat st;
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
                fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || st.st_dev != dev)
                continue;
            if (!S_ISDIR(st.st_mode)) {
                removed += unlinkat(fd, e->d_name, 0) == 0;
                continue;
            }
            for (int tries = 0; tries < 8; tries++) { /* a name taken: the next one */
                moved_name(dst, sizeof dst, moved_seq++);
                if (renameat2(fd, e->d_name, top, dst, RENAME_NOREPLACE) == 0 || errno != EEXIST) break;
            }
        }
        if (d) closedir(d);
        removed += unlinkat(parent, cur, AT_REMOVEDIR) == 0;
        /* the next directory moved up that is still the uid's */
        struct stat st;
        do {
            if (next == moved_seq) return removed;
            moved_name(cur, sizeof cur, next++);
        } while (fstatat(top, cur, &st, AT_SYMLINK_NOFOLLOW) || st.st_uid != uid || !S_ISDIR(st.st_mode) ||
                 st.st_dev != dev);
        parent = top;
    }
}

/* Remove what uid owns in the directory open at fd (on device dev: no other mount is entered).
 * Of other owners' directories, those anyone may write in (a 1777 one under /tmp, say) are
 * searched too, to a small depth; a writable one below a closed one is not found: name it with
 * -c.  *seen is set when something of uid was there, or a directory it may write in, or may be
 * let in by an owner other than root.  Closes fd. */
static int clean_dir(int fd, int top, dev_t dev, uid_t uid, int depth, int *seen) {
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        *seen = 1;
        return 0;
    }
    int removed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || st.st_dev != dev)
            continue;
        if (st.st_uid == uid) {
            *seen = 1;
            removed += S_ISDIR(st.st_mode) ? remove_dir(fd, e->d_name, top, dev, uid) : unlinkat(fd, e->d_name, 0) == 0;
        } else if (S_ISDIR(st.st_mode) && ((st.st_mode & S_IWOTH) || st.st_uid != 0)) {
            *seen = 1;
            if (!(st.st_mode & S_IWOTH) || depth >= 8) continue;
            int sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) removed += clean_dir(sub, top, dev, uid, depth + 1, seen);
        }
    }
    closedir(d);
    return removed;
}

/* A -c directory a clean found empty of uid (and of subdirectories that are, or could be made,
 * writable to it), with its ctime then: while the ctime is the same, nothing was made in or
 * moved into it, and the next clean of uid skips it (most tests leave nothing, and a scan of a
 * busy /tmp costs more than a test).  A ctime cannot be set back (unlike an mtime), and one not
 * older than the clock's current tick is not trusted: a change later in that tick could leave
 * it the same. */
struct mark {
    dev_t dev;
    ino_t ino;
    uid_t uid;
    struct timespec ctime;
};
static struct mark marks[4 * MAX_CLEAN];

static struct mark *find_mark(const struct stat *st, uid_t uid) {
    for (size_t i = 0; i < sizeof marks / sizeof *marks; i++)
        if (marks[i].dev == st->st_dev && marks[i].ino == st->st_ino && marks[i].uid == uid) return &marks[i];
    return NULL;
}

static int unchanged(const struct stat *st, uid_t uid) {
    struct mark *m = find_mark(st, uid);
    return m && m->ctime.tv_sec == st->st_ctim.tv_sec && m->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static void set_mark(const struct stat *st, uid_t uid, const struct timespec *now) {
    static unsigned next;
    if (st->st_ctim.tv_sec > now->tv_sec || (st->st_ctim.tv_sec == now->tv_sec && st->st_ctim.tv_nsec >= now->tv_nsec))
        return; /* changed within the current tick */
    struct mark *m = find_mark(st, uid);
    if (!m) m = &marks[next++ % (sizeof marks / sizeof *marks)];
    *m = (struct mark){st->st_dev, st->st_ino, uid, st->st_ctim};
}

/* No SysV IPC object at all in our namespace (the usual case: a pod has its own), in one call
 * for each kind, where reading /proc/sysvipc costs more. */
static int no_ipc(void) {
    union semun { int val; struct semid_ds *buf; unsigned short *array; struct seminfo *__buf; };
    struct shm_info shm;
    struct seminfo sem;
    struct msginfo msg;
    return shmctl(0, SHM_INFO, (struct shmid_ds *)&shm) >= 0 && shm.used_ids == 0 &&
           semctl(0, 0, SEM_INFO, (union semun){.__buf = &sem}) >= 0 && sem.semusz == 0 &&
           msgctl(0, MSG_INFO, (struct msqid_ds *)&msg) >= 0 && msg.msgpool == 0;
}

/* Whether /proc/sysvipc lists the SysV IPC objects.  gVisor has no such file; finding a uid's
 * objects there would mean trying every id ever handed out (they only grow), and its
 * shmctl(IPC_RMID) does not check the owner: there the sandbox uids may not make any (shmget,
 * semget and msgget fail with ENOSPC, as with no id left). */
static int sysvipc_listed = -1;

/* Remove the SysV IPC objects uid owns or created (the owner may hand one to another uid with
 * IPC_SET; its creator stays).  Returns how many. */
static int clean_ipc(uid_t uid) {
    static const char *const kinds[] = {"/proc/sysvipc/shm", "/proc/sysvipc/sem", "/proc/sysvipc/msg"};
    int removed = 0;
    for (int k = 0; k < 3; k++) {
        FILE *f = fopen(kinds[k], "re");
        char line[512];
        int col_uid = -1, col_cuid = -1, ncol = 0;
        if (!f) continue;
        if (fgets(line, sizeof line, f)) /* the header names the columns: find "uid" and "cuid" */
            for (char *save, *w = strtok_r(line, " \n", &save); w; w = strtok_r(NULL, " \n", &save), ncol++) {
                if (!strcmp(w, "uid")) col_uid = ncol;
                if (!strcmp(w, "cuid")) col_cuid = ncol;
            }
        while (col_uid > 1 && col_cuid > 1 && fgets(line, sizeof line, f)) {
            long long v[32];
            int n = 0;
            for (char *p = line, *end; n < 32; p = end) {
                v[n] = strtoll(p, &end, 10);
                if (end == p) break;
                n++;
            }
            if (n <= col_uid || n <= col_cuid || (v[col_uid] != uid && v[col_cuid] != uid)) continue;
            int id = (int)v[1]; /* shmid, semid, msqid */
            int gone = k == 0 ? shmctl(id, IPC_RMID, NULL) : k == 1 ? semctl(id, 0, IPC_RMID)
                                                                   : msgctl(id, IPC_RMID, NULL);
            removed += gone == 0;
        }
        fclose(f);
    }
    return removed;
}

/* After the run, with no process of the uid alive: remove its files in the -c directories and
 * its IPC objects, as the uid itself, so that nothing is followed or removed with root's rights.
 * Only the effective ids change (the real and saved ones stay root's: we can come back), and
 * no process is forked; when nothing can be there (no IPC object, directories unchanged since
 * a clean found them empty of the uid), nothing is done at all. */
static int clean(const struct job *j) {
    static gid_t *groups;
    static int ngroups = -1;
    uid_t uid = (uid_t)j->uid;
    struct stat st[MAX_CLEAN];
    int todo = 0, removed = 0;
    for (int i = 0; i < j->nclean; i++) /* lstat: runner-given paths, nothing of the uid followed */
        if (lstat(j->clean[i], &st[i]) == 0 && S_ISDIR(st[i].st_mode) && !unchanged(&st[i], uid)) todo |= 1 << i;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME_COARSE, &now);
    int ipc = !no_ipc();
    if (!todo && !ipc) return 0;

    gid_t egid = getegid();
    if (ngroups < 0) {
        ngroups = getgroups(0, NULL);
        if (ngroups < 0 || !(groups = malloc((ngroups + 1) * sizeof *groups)) ||
            (ngroups = getgroups(ngroups, groups)) < 0)
            fail("getgroups: %s", strerror(errno));
    }
    int dropped = setgroups(0, NULL) == 0 && setegid((gid_t)j->gid) == 0 && seteuid(uid) == 0;
    if (dropped) {
        if (ipc) removed = clean_ipc(uid);
        for (int i = 0; i < j->nclean; i++) {
            if (!(todo & 1 << i)) continue;
            int top = open(j->clean[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), seen = 0;
            struct stat now_st;
            if (top < 0) continue;
            int fd = fstat(top, &now_st) == 0 ? fcntl(top, F_DUPFD_CLOEXEC, 0) : -1;
            if (fd >= 0) removed += clean_dir(fd, top, now_st.st_dev, uid, 0, &seen);
            if (fd >= 0 && !seen && now_st.st_dev == st[i].st_dev && now_st.st_ino == st[i].st_ino)
                set_mark(&st[i], uid, &now);
            close(top);
        }
    }
    int err = errno;
    if (seteuid(0) || setegid(egid) || setgroups(ngroups, groups)) {
        printf("error=cannot become root again after cleaning: %s\n", strerror(errno));
        fflush(stdout);
        _exit(2);
    }
    /* a change of effective uid clears the parent-death signal: set it again, and die now if
     * the runner died meanwhile */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != runner) _exit(2);
    if (!dropped) fail("cannot become uid %ld to clean: %s", j->uid, strerror(err));
    return removed;
}

static void parse(int argc, char **argv, struct job *j) {
    int nenv = 0, opt;
    memset(j, 0, sizeof *j);
    j->in = j->out = j->err = "/dev/null";
    j->nofile = 64;
    j->uid = j->gid = -1;
    optind = 0; /* glibc: full reinitialisation, each request is parsed anew */
    opterr = 0;
    while ((opt = getopt(argc, argv, "+d:i:o:e:u:g:E:t:w:m:a:f:p:n:s:c:r")) != -1) {
        switch (opt) {
        case 'd': j->dir = optarg; break;
        case 'i': j->in = optarg; break;
        case 'o': j->out = optarg; break;
        case 'e': j->err = optarg; break;
        case 'u': j->uid = atol(optarg); break;
        case 'g': j->gid = atol(optarg); break;
        case 'E': if (nenv == MAX_ENV) fail("too many -E"); j->env[nenv++] = optarg; break;
        case 't': j->cpu_ms = atoll(optarg); break;
        case 'w': j->wall_ms = atoll(optarg); break;
        case 'm': j->mem_kb = atoll(optarg); break;
        case 'a': j->as_kb = atoll(optarg); break;
        case 'f': j->fsize = atoll(optarg); break;
        case 'p': j->nproc = atol(optarg); break;
        case 'n': j->nofile = atol(optarg); break;
        case 's': j->stack_kb = atoll(optarg); break;
        case 'c': if (j->nclean == MAX_CLEAN) fail("too many -c"); j->clean[j->nclean++] = optarg; break;
        case 'r': j->out_first = 1; break;
        default: fail("bad option -%c", optopt);
        }
    }
    j->env[nenv] = NULL;
    if (optind >= argc) fail("no program");
    if (j->gid < 0) j->gid = j->uid;
    j->argv = argv + optind;
}

/* Past a limit: the program's process group, then every process of the run (setsid escapes
 * the group; all are the uid's, or our children and theirs). */
static void kill_run(const struct job *j, struct run *r, int drop) {
    kill(-r->pid, SIGKILL);
    kill(r->pid, SIGKILL);
    if (drop) sweep_uid((uid_t)j->uid, (gid_t)j->gid, r);
    else kill_children(r);
}

/* An output file, new: a regular file with data is unlinked first, not truncated.  ext4 and XFS
 * write a truncated file's data out when it is closed again (their guard for replace-by-truncate),
 * so truncating the last test's stdout cost a disk write, waited for, per test.  A FIFO (an
 * interactive test's) is opened as it is. */
static int open_output(const char *path) {
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) unlink(path);
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
}

/* What a run's first process does between clone and exec: descriptors, limits, scheduling,
 * identity, then the program.  Under the spawner it shares the spawner's memory (CLONE_VM): it
 * makes system calls and writes its own stack only, never the spawner's data. */
struct start {
    const struct job *j;
    int fin, fout, ferr, report, drop;
    int nproc_enforced, sysvipc_listed; /* ours: the spawner's copies are those of its fork */
};

static char start_stack[64 * 1024] __attribute__((aligned(16)));

static int start_program(void *arg) {
    const struct start *s = arg;
    const struct job *j = s->j;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setpgid(0, 0);
    if (dup2(s->fin, 0) < 0 || dup2(s->fout, 1) < 0 || dup2(s->ferr, 2) < 0) child_fail(s->report, "dup2");
    if (j->dir && chdir(j->dir) != 0) child_fail(s->report, j->dir);
    if ((j->cpu_ms > 0 && set_limit(RLIMIT_CPU, (rlim_t)((j->cpu_ms + 999) / 1000 + 1))) ||
        (j->as_kb > 0 && set_limit(RLIMIT_AS, (rlim_t)j->as_kb * 1024)) ||
        (j->fsize > 0 && set_limit(RLIMIT_FSIZE, (rlim_t)j->fsize)) ||
        (j->nproc > 0 && set_limit(RLIMIT_NPROC, (rlim_t)j->nproc)) ||
        (j->nofile > 0 && set_limit(RLIMIT_NOFILE, (rlim_t)j->nofile)) ||
        set_limit(RLIMIT_CORE, 0) ||
        (j->stack_kb > 0 && set_limit(RLIMIT_STACK, (rlim_t)j->stack_kb * 1024)))
        child_fail(s->report, "setrlimit");
    /* What the kernel's rlimits do not refuse (gVisor), a seccomp filter does. */
    int nrs[12], errs[12], nf = 0;
    if (set_limit(RLIMIT_MSGQUEUE, 0)) { /* no POSIX message queue: it would outlive the run */
        if (errno != EPERM) child_fail(s->report, "setrlimit");
        nrs[nf] = __NR_mq_open, errs[nf++] = EMFILE; /* gVisor: the limit cannot be set */
    }
    if (s->drop && !s->sysvipc_listed) { /* gVisor: the uid's SysV IPC objects could not be found */
        nrs[nf] = __NR_shmget, errs[nf++] = ENOSPC;
        nrs[nf] = __NR_semget, errs[nf++] = ENOSPC;
        nrs[nf] = __NR_msgget, errs[nf++] = ENOSPC;
    }
    if (s->drop && s->nproc_enforced == 0 && j->nproc == 1) { /* one process: no fork, no thread */
        nrs[nf] = __NR_clone, errs[nf++] = EAGAIN;
        nrs[nf] = __NR_clone3, errs[nf++] = ENOSYS; /* glibc falls back to clone */
#ifdef __NR_fork
        nrs[nf] = __NR_fork, errs[nf++] = EAGAIN;
        nrs[nf] = __NR_vfork, errs[nf++] = EAGAIN;
#endif
    }
    /* The program yields to the sandbox: SCHED_IDLE (weight 3 to the sandbox's 1024), which it
     * cannot leave (RLIMIT_NICE 0, no CAP_SYS_NICE), so that however many tasks it runs (a
     * fork or thread bomb at limits.processes of 4096) the watchdog still samples and kills
     * in time; at nice 0, 1024 spinning tasks left it 1/1025 of the CPU and a run past its CPU
     * limit went unnoticed for minutes.  Where SCHED_IDLE is refused (a sandboxed kernel),
     * the lowest nice value instead. Alone in its pod, a program runs as fast as before. */
    struct sched_param idle = {0};
    /* gVisor refuses RLIMIT_NICE (EPERM), as RLIMIT_MSGQUEUE: its sentry schedules the
     * program's tasks itself, where the host's priorities do not reach */
    if (set_limit(RLIMIT_NICE, 0) && errno != EPERM) child_fail(s->report, "setrlimit");
    if (sched_setscheduler(0, SCHED_IDLE, &idle) != 0 && setpriority(PRIO_PROCESS, 0, 19) != 0)
        child_fail(s->report, "sched_setscheduler");
    /* system calls, not glibc's set*id: those may signal every thread of a process they think has
     * several, and this one shares its memory with the spawner */
    if (s->drop && (syscall(SYS_setgroups, 0, NULL) || syscall(SYS_setgid, (gid_t)j->gid) ||
                    syscall(SYS_setuid, (uid_t)j->uid)))
        child_fail(s->report, "setuid");
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (nf && refuse_syscalls(nrs, errs, nf)) child_fail(s->report, "seccomp");
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    execve(j->argv[0], j->argv, (char **)j->env);
    child_fail(s->report, j->argv[0]);
    return 127;
}

/* What starting a run's program answered. */
struct launch {
    pid_t pid;               /* -1: not started (error says why) */
    long long start_ms;      /* CLOCK_MONOTONIC at the clone */
    int clone_errno;         /* the clone failed with it (0: it did not fail) */
    char error[256];         /* why it did not start: a file, the clone */
    char exec_error[256];    /* started, but start_program failed before or at exec ("": it runs) */
};

static struct launch *launch_error(struct launch *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error, sizeof out->error, fmt, ap);
    va_end(ap);
    out->pid = -1;
    return out;
}

/* Open the run's files and start its program: clone, start_program, and back once it has exec'd
 * or failed (CLONE_VFORK; its report pipe then holds why, or is closed by the exec). */
static struct launch *launch_here(const struct job *j, const struct start *given, int flags, struct launch *out) {
    memset(out, 0, sizeof *out);
    /* Open the files here, as the runner's user (root): the program only ever gets the descriptors.
     * Never through a link (they are in a directory of the runner's own: defense in depth). */
    /* stdin and stdout may be FIFOs (an interactive problem: the program and the interactor, two
     * sandboxes, each reading one FIFO and writing the other). Opening a FIFO blocks until its
     * other end is open too, so with the program opening stdin then stdout and the interactor (-r)
     * stdout then stdin, both pairs meet and neither program starts before its peer holds both
     * ends: it never reads an early EOF, nor leaves its peer waiting on a FIFO no one will open. */
    int fin = -1, fout = -1;
    if (j->out_first) fout = open_output(j->out);
    if (fout < 0 && j->out_first) return launch_error(out, "%s: %s", j->out, strerror(errno));
    fin = open(j->in, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fin < 0) { if (fout >= 0) close(fout); return launch_error(out, "%s: %s", j->in, strerror(errno)); }
    if (!j->out_first) fout = open_output(j->out);
    if (fout < 0) { close(fin); return launch_error(out, "%s: %s", j->out, strerror(errno)); }
    /* the same path for both: one file, one offset (compiler output interleaved as printed) */
    int ferr = strcmp(j->err, j->out) == 0 ? fcntl(fout, F_DUPFD_CLOEXEC, 3)
                                           : open_output(j->err);
    if (ferr < 0) { close(fin); close(fout); return launch_error(out, "%s: %s", j->err, strerror(errno)); }
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        close(fin); close(fout); close(ferr);
        return launch_error(out, "pipe: %s", strerror(errno));
    }
    struct start s = *given;
    s.j = j, s.fin = fin, s.fout = fout, s.ferr = ferr, s.report = report[1];
    out->start_ms = now_ms();
    out->pid = clone(start_program, start_stack + sizeof start_stack, flags, &s);
    int err = errno;
    close(fin); close(fout); close(ferr); close(report[1]);
    if (out->pid < 0) {
        close(report[0]);
        out->clone_errno = err;
        return launch_error(out, "clone: %s", strerror(err));
    }
    ssize_t n = read(report[0], out->exec_error, sizeof out->exec_error - 1);
    out->exec_error[n > 0 ? n : 0] = 0;
    close(report[0]);
    return out;
}

/* The spawner.  A program started by a fork of this process would cost a copy of its page tables
 * and a copy-on-write fault for each page either writes after it (21 faults, 0.1 ms a test
 * here); one started with its memory shared (CLONE_VM | CLONE_VFORK, as posix_spawn does) costs
 * none, but exec hands the peak RSS of the memory it replaces to the program's ru_maxrss: the
 * sandbox's whole resident size, which grows as it serves (a fork's copy holds only the pages
 * it copied).  So programs are started by the spawner, a child forked at start that does
 * nothing else: its memory is small and stays so, and with CLONE_PARENT the programs it starts
 * are our children (we wait for them, watch them, reap their orphans), not its.  The request,
 * the job and the answer are in memory shared with it (MAP_SHARED), so that the job's pointers
 * are the same in both; a byte on a socket each way says "go" and "done". */
struct shared {
    struct job job;
    struct start start;
    struct launch answer;
    char *argv[MAX_WORDS + 2];
    char words[1 << 20]; /* a request's words (read_request): at most 1 MiB */
};
static struct shared *shared;

static void spawner_loop(int sock) {
    char c;
    for (;;) {
        ssize_t k = recv(sock, &c, 1, 0);
        if (k == 0) _exit(0);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) _exit(1);
        launch_here(&shared->job, &shared->start, CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD, &shared->answer);
        if (send(sock, &c, 1, MSG_NOSIGNAL) != 1) _exit(1);
    }
}

/* Fork the spawner (before anything else, so that its copy of our memory is small).  Without
 * one (no fork, no socket), programs are started from here. */
static void start_spawner(void) {
    int sv[2];
    pid_t me = getpid();
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return;
    pid_t k = fork();
    if (k < 0) {
        close(sv[0]), close(sv[1]);
        return;
    }
    if (k == 0) {
        close(sv[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* dies with us */
        if (getppid() != me) _exit(1);
        /* not the runner's pipes: its reads of our answers end with us, not with the spawner */
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) _exit(1);
        close(null);
        spawner_loop(sv[1]);
    }
    close(sv[1]);
    spawner = k, spawner_sock = sv[0];
}

/* Start the run's program: through the spawner, or from here when there is none, or when this
 * kernel refuses its clone (a sandboxed kernel without CLONE_PARENT: the spawner is let go). */
static const struct launch *start_run(const struct job *j, int drop) {
    static struct launch here;
    struct start s = {.drop = drop, .nproc_enforced = nproc_enforced, .sysvipc_listed = sysvipc_listed};
    if (spawner < 0) fail("the spawner is gone");
    if (spawner > 0) {
        char c = 1;
        shared->job = *j, shared->start = s;
        ssize_t k;
        if (send(spawner_sock, &c, 1, MSG_NOSIGNAL) != 1) fail("the spawner is gone: %s", strerror(errno));
        while ((k = recv(spawner_sock, &c, 1, 0)) < 0 && errno == EINTR) {}
        if (k != 1) fail("the spawner is gone");
        int refused = shared->answer.clone_errno;
        if (refused != EINVAL && refused != ENOSYS && refused != EPERM) return &shared->answer;
        kill(spawner, SIGKILL);
        waitpid(spawner, NULL, 0);
        close(spawner_sock);
        spawner = 0, spawner_sock = -1;
    }
    /* a fork's copy of our memory (no CLONE_VM): what we hold is not the program's */
    return launch_here(j, &s, CLONE_VFORK | SIGCHLD, &here);
}

static void execute(const struct job *j) {
    int drop = j->uid >= 0 && geteuid() == 0;
    run_uid = drop ? j->uid : -1;

    if (drop) probe_nproc((uid_t)j->uid, (gid_t)j->gid);
    if (sysvipc_listed < 0) sysvipc_listed = access("/proc/sysvipc/shm", R_OK) == 0;
    /* drop a SIGCHLD left pending by the last run, so that the first wait below is a real one */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&chld, NULL, &zero) > 0) {}

    const struct launch *started = start_run(j, drop);
    if (started->pid < 0) fail("%s", started->error);
    pid_t pid = started->pid;
    long long start = started->start_ms;
    char why[256];
    snprintf(why, sizeof why, "%s", started->exec_error);

    /* Watch the whole run until its main process ends: CPU is what the live processes used
     * plus what the ones we reaped did; memory, the live processes' sum. */
    const char *killed = "none";
    struct run r = {.pid = pid};
    struct timespec poll = {0, POLL_NS};
    long long due = 0, wait_due = 0, waited = 0;
    while (!r.done) {
        sigtimedwait(&chld, NULL, &poll); /* a child's exit, or time for the next sample */
        reap(&r);
        long long now = now_ms();
        if (r.done || *killed != 'n' || now < due) continue;
        due = now + POLL_NS / 2000000; /* a storm of exits is not a storm of samples */
        long long cpu, mem, elapsed = now - start, w = -1;
        long tasks;
        /* the wait for a CPU matters only near the wall limit: read then, not at every sample; not
         * under gVisor (known by its unenforced RLIMIT_NPROC), whose scheduler counts are its own */
        int ask = j->wall_ms > 0 && elapsed + WAIT_EVERY_MS >= j->wall_ms && now >= wait_due && nproc_enforced != 0;
        if (sample_tree(pid, &cpu, &mem, &tasks, ask ? &w : NULL) > 1 && mem > r.peak_kb) r.peak_kb = mem;
        if (ask) wait_due = now + WAIT_EVERY_MS;
        cpu += r.others_us / 1000;
        /* Waiting counts only while none of the run had a CPU (at most elapsed - cpu): tasks of its
         * own queued behind each other (a fork bomb, more threads than CPUs) are its own doing. Never
         * less than before: the waits of tasks that ended are not known any more. */
        if (w > elapsed - cpu) w = elapsed - cpu;
        if (w > waited) waited = w;
        if (j->cpu_ms > 0 && cpu > j->cpu_ms) killed = "cpu";
        else if (j->mem_kb > 0 && mem > j->mem_kb) killed = "memory";
        /* RLIMIT_NPROC not enforced (gVisor): more live processes and threads than -p ends the run */
        else if (nproc_enforced == 0 && j->nproc > 0 && tasks > j->nproc) killed = "processes";
        else if (j->wall_ms > 0 && elapsed - waited > j->wall_ms) killed = "wall";
        else if (j->wall_ms > 0 && elapsed > STARVED_FACTOR * j->wall_ms) killed = "starved";
        if (*killed != 'n') kill_run(j, &r, drop);
    }
    long long end = now_ms(), wall = end - start;
    /* The program's process group, then anything of its uid that escaped it.  As the
     * subreaper, every descendant still alive is our child: with none, there is nothing
     * to sweep (the uid is this judgement's alone), and a test costs no extra fork. */
    kill(-pid, SIGKILL);
    int leftovers = 0;
    if (others_remain(&r)) {
        leftovers = drop ? sweep_uid((uid_t)j->uid, (gid_t)j->gid, &r) : kill_children(&r);
        reap(&r);
    }
    /* nothing of the uid is alive: what it left for the next run goes */
    int cleaned = drop ? clean(j) : 0;

    if (why[0]) fail("cannot start the program: %s", why);
    /* the main process as wait4 measured it (exact, as for a lone process), plus the others */
    /* summed in microseconds and truncated once: truncating each part could report 799 ms for 800 */
    long long cpu = (tv_us(r.ru.ru_utime) + tv_us(r.ru.ru_stime) + r.others_us) / 1000;
    long long rss = r.ru.ru_maxrss;
    if (r.others_kb > rss) rss = r.others_kb;
    if (r.peak_kb > rss) rss = r.peak_kb;
    int status = r.status;
    printf("exit=%d signal=%d cpu_ms=%lld wall_ms=%lld waited_ms=%lld rss_kb=%lld killed=%s leftovers=%d dropped=%d "
           "cleaned=%d end_ms=%lld\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
           WIFSIGNALED(status) ? WTERMSIG(status) : 0, cpu, wall, waited, rss, killed, leftovers, drop, cleaned, end);
}

/* One request from stdin: "N\n" and N NUL-terminated words, read into the memory shared with
 * the spawner.  0 at end of input. */
static int read_request(char ***words, int *count) {
    char *buf = shared->words, **argv = shared->argv;
    int n;
    if (scanf("%d", &n) != 1) return 0;
    if (getchar() != '\n' || n < 1 || n > MAX_WORDS) fail("malformed request");
    size_t used = 0;
    argv[0] = "gavel-sandbox"; /* getopt wants argv[0]: the request's words start at argv[1] */
    for (int i = 0; i < n; i++) {
        argv[i + 1] = buf + used;
        int c;
        do {
            if ((c = getchar()) == EOF) fail("truncated request");
            if (used == sizeof shared->words) fail("request larger than %zu bytes", sizeof shared->words);
            buf[used++] = (char)c;
        } while (c != 0);
    }
    argv[n + 1] = NULL;
    *words = argv;
    *count = n + 1;
    return 1;
}

int main(int argc, char **argv) {
    /* SIGCHLD stays blocked so that sigtimedwait can wait for the child or the next sample */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    /* orphans of a program become ours, so that they are killed and reaped, never left as zombies */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    /* if the runner dies, so do we, and so (PDEATHSIG) do the programs */
    runner = getppid();
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        printf("error=mmap: %s\n", strerror(errno));
        return 2;
    }
    start_spawner();

    if (argc == 2 && strcmp(argv[1], "-S") == 0) {
        for (;;) {
            char **words;
            int count;
            if (setjmp(on_error)) {
                printf("error=%s\n", error_text);
                fflush(stdout);
                if (feof(stdin)) return 2;
                continue;
            }
            if (!read_request(&words, &count)) return 0;
            struct job j;
            parse(count, words, &j);
            execute(&j);
            fflush(stdout);
        }
    }
    if (setjmp(on_error)) {
        fprintf(stderr, "gavel-sandbox: %s\n", error_text);
        return 2;
    }
    struct job j;
    parse(argc, argv, &j);
    execute(&j);
    return 0;
}
