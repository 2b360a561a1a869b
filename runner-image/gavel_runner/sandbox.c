/*
 * gavel-sandbox: run untrusted programs under limits and measure them.
 *
 * Why a separate C program: Linux records the peak RSS of the image a process replaces
 * at exec time (signal->maxrss), so a program forked from the Python runner would report
 * the runner's ~30 MB as its own peak.  Forking from this tiny static process keeps
 * ru_maxrss honest.  In serve mode (-S) one sandbox process runs every test of a
 * judgement, so a test costs one small fork and one exec, as a bare shell loop would.
 *
 *   gavel-sandbox [options] -- PROGRAM [ARGS...]     run one program
 *   gavel-sandbox -S                                   serve: read requests on stdin
 *
 * A request is "N\n" followed by N NUL-terminated words: the options and program, as
 * on the command line.  Each run answers with one line on stdout:
 *   exit=N signal=N cpu_ms=N wall_ms=N rss_kb=N killed=none|cpu|wall|memory leftovers=N dropped=0|1
 * or, when the sandbox itself failed (not the program):  error=MESSAGE
 *
 * Options:
 *   -d DIR   working directory            -i FILE  stdin (default /dev/null)
 *   -o FILE  stdout (created)             -e FILE  stderr (created; the same path as -o: one file)
 *   -u UID   -g GID  run as (needs root)  -E K=V   environment entry (repeatable; nothing else passes)
 *   -t MS    CPU time limit               -w MS    wall-clock limit
 *   -m KB    memory limit: peak RSS, watched (killed past it) and measured
 *   -a KB    address-space limit (0: none; Java, Go and Node reserve far more than they use)
 *   -f BYTES file size / output cap       -p N     processes+threads of the uid (RLIMIT_NPROC)
 *   -n N     open files                   -s KB    stack
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ENV 64
#define MAX_WORDS 4096
#define POLL_NS 5000000L /* 5 ms: how often CPU time and RSS are sampled */

struct job {
    const char *dir, *in, *out, *err;
    long long cpu_ms, wall_ms, mem_kb, as_kb, fsize, stack_kb;
    long nproc, nofile, uid, gid;
    char *env[MAX_ENV + 1];
    char **argv;
};

static jmp_buf on_error;
static char error_text[512];

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

/* CPU ms (all threads) and RSS kB of one live process, from /proc; -1 if gone. */
static int sample(pid_t pid, long long *cpu_ms, long long *rss_kb) {
    char path[64], buf[1024];
    static long tick = 0, page_kb = 0;
    if (!tick) { tick = sysconf(_SC_CLK_TCK); page_kb = sysconf(_SC_PAGESIZE) / 1024; }
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* comm may hold spaces */
    if (!p) return -1;
    unsigned long long ut = 0, st = 0;
    long rss = 0;
    /* fields after comm: state(3) ... utime(14) stime(15) ... rss(24) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %*u %*u %ld",
               &ut, &st, &rss) != 3)
        return -1;
    *cpu_ms = (long long)(ut + st) * 1000 / tick;
    *rss_kb = (long long)rss * page_kb;
    return 0;
}

/* Kill every process of uid.  A child becomes uid and tries to fork under RLIMIT_NPROC=2:
 * the kernel refuses when uid owns another task besides the child (kill(-1) says nothing:
 * it succeeds whenever any process exists), so it kills them all and we look again.
 * Returns how many rounds found something. */
static int sweep_uid(uid_t uid, gid_t gid) {
    int rounds = 0;
    for (; rounds < 50; rounds++) {
        pid_t k = fork();
        if (k < 0) fail("fork: %s", strerror(errno));
        if (k == 0) {
            struct rlimit two = {2, 2};
            if (setgroups(0, NULL) || setgid(gid) || setuid(uid) || setrlimit(RLIMIT_NPROC, &two)) _exit(3);
            pid_t probe = fork();
            if (probe == 0) _exit(0);
            if (probe > 0) { waitpid(probe, NULL, 0); _exit(0); }
            kill(-1, SIGKILL);
            _exit(1);
        }
        int st;
        while (waitpid(k, &st, 0) < 0 && errno == EINTR) {}
        if (!WIFEXITED(st) || WEXITSTATUS(st) == 3) fail("cannot sweep uid %u", uid);
        if (WEXITSTATUS(st) == 0) break;
        /* what was killed is our child (we are its subreaper): reap it, or it still counts */
        usleep(1000);
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
    }
    return rounds;
}

/* Without a uid of its own (not root), kill our children one by one: escaped descendants
 * were reparented to us, the subreaper, and theirs follow as they die. */
static int kill_children(void) {
    char path[64], buf[4096];
    int rounds = 0;
    snprintf(path, sizeof path, "/proc/self/task/%d/children", getpid());
    for (; rounds < 50; rounds++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
        if (fd >= 0) close(fd);
        if (n <= 0) break;
        buf[n] = 0;
        for (char *p = strtok(buf, " "); p; p = strtok(NULL, " ")) kill(atoi(p), SIGKILL);
        usleep(1000);
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
    }
    return rounds;
}

static void parse(int argc, char **argv, struct job *j) {
    int nenv = 0, opt;
    memset(j, 0, sizeof *j);
    j->in = j->out = j->err = "/dev/null";
    j->nofile = 64;
    j->uid = j->gid = -1;
    optind = 0; /* glibc: full reinitialisation, each request is parsed anew */
    opterr = 0;
    while ((opt = getopt(argc, argv, "+d:i:o:e:u:g:E:t:w:m:a:f:p:n:s:")) != -1) {
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
        default: fail("bad option -%c", optopt);
        }
    }
    j->env[nenv] = NULL;
    if (optind >= argc) fail("no program");
    if (j->gid < 0) j->gid = j->uid;
    j->argv = argv + optind;
}

static void execute(const struct job *j) {
    int drop = j->uid >= 0 && geteuid() == 0;

    /* Open the files here, as the runner's user: the program only ever gets the descriptors. */
    int fin = open(j->in, O_RDONLY | O_CLOEXEC);
    if (fin < 0) fail("%s: %s", j->in, strerror(errno));
    int fout = open(j->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fout < 0) { close(fin); fail("%s: %s", j->out, strerror(errno)); }
    /* the same path for both: one file, one offset (compiler output interleaved as printed) */
    int ferr = strcmp(j->err, j->out) == 0 ? fcntl(fout, F_DUPFD_CLOEXEC, 3)
                                           : open(j->err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (ferr < 0) { close(fin); close(fout); fail("%s: %s", j->err, strerror(errno)); }
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) fail("pipe: %s", strerror(errno));

    /* drop a SIGCHLD left pending by the last run, so that the first wait below is a real one */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&chld, NULL, &zero) > 0) {}

    long long start = now_ms();
    pid_t pid = fork();
    if (pid < 0) fail("fork: %s", strerror(errno));
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setpgid(0, 0);
        if (dup2(fin, 0) < 0 || dup2(fout, 1) < 0 || dup2(ferr, 2) < 0) child_fail(report[1], "dup2");
        if (j->dir && chdir(j->dir) != 0) child_fail(report[1], j->dir);
        if ((j->cpu_ms > 0 && set_limit(RLIMIT_CPU, (rlim_t)((j->cpu_ms + 999) / 1000 + 1))) ||
            (j->as_kb > 0 && set_limit(RLIMIT_AS, (rlim_t)j->as_kb * 1024)) ||
            (j->fsize > 0 && set_limit(RLIMIT_FSIZE, (rlim_t)j->fsize)) ||
            (j->nproc > 0 && set_limit(RLIMIT_NPROC, (rlim_t)j->nproc)) ||
            (j->nofile > 0 && set_limit(RLIMIT_NOFILE, (rlim_t)j->nofile)) ||
            set_limit(RLIMIT_CORE, 0) ||
            (j->stack_kb > 0 && set_limit(RLIMIT_STACK, (rlim_t)j->stack_kb * 1024)))
            child_fail(report[1], "setrlimit");
        if (drop && (setgroups(0, NULL) || setgid((gid_t)j->gid) || setuid((uid_t)j->uid)))
            child_fail(report[1], "setuid");
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        execve(j->argv[0], j->argv, (char **)j->env);
        child_fail(report[1], j->argv[0]);
    }
    close(fin); close(fout); close(ferr); close(report[1]);

    const char *killed = "none";
    int status = 0;
    struct rusage ru;
    struct timespec poll = {0, POLL_NS};
    for (;;) {
        sigtimedwait(&chld, NULL, &poll); /* the child's exit, or time for the next sample */
        pid_t r = wait4(pid, &status, WNOHANG, &ru);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) fail("wait4: %s", strerror(errno));
        if (r == 0) {
            long long c, rss;
            if (*killed == 'n' && sample(pid, &c, &rss) == 0) {
                if (j->cpu_ms > 0 && c > j->cpu_ms) killed = "cpu";
                else if (j->mem_kb > 0 && rss > j->mem_kb) killed = "memory";
            }
            if (*killed == 'n' && j->wall_ms > 0 && now_ms() - start > j->wall_ms) killed = "wall";
            if (*killed != 'n') kill(-pid, SIGKILL), kill(pid, SIGKILL);
        }
    }
    long long wall = now_ms() - start;
    /* The program's process group, then anything of its uid that escaped it.  As the
     * subreaper, every descendant still alive is our child: with none, there is nothing
     * to sweep (the uid is this judgement's alone), and a test costs no extra fork. */
    kill(-pid, SIGKILL);
    int leftovers = 0;
    pid_t r;
    while ((r = waitpid(-1, NULL, WNOHANG)) > 0) {}
    if (r == 0) {
        leftovers = drop ? sweep_uid((uid_t)j->uid, (gid_t)j->gid) : kill_children();
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
    }

    char why[256];
    ssize_t n = read(report[0], why, sizeof why - 1);
    close(report[0]);
    if (n > 0) {
        why[n] = 0;
        fail("cannot start the program: %s", why);
    }
    long long cpu = ru.ru_utime.tv_sec * 1000LL + ru.ru_utime.tv_usec / 1000 +
                    ru.ru_stime.tv_sec * 1000LL + ru.ru_stime.tv_usec / 1000;
    printf("exit=%d signal=%d cpu_ms=%lld wall_ms=%lld rss_kb=%ld killed=%s leftovers=%d dropped=%d\n",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
           cpu, wall, ru.ru_maxrss, killed, leftovers, drop);
}

/* One request from stdin: "N\n" and N NUL-terminated words.  0 at end of input. */
static int read_request(char ***words, int *count) {
    static char *buf = NULL;
    static size_t cap = 0;
    static char *list[MAX_WORDS + 1];
    int n;
    if (scanf("%d", &n) != 1) return 0;
    if (getchar() != '\n' || n < 1 || n > MAX_WORDS) fail("malformed request");
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        size_t start = used;
        int c;
        do {
            if ((c = getchar()) == EOF) fail("truncated request");
            if (used == cap) {
                cap = cap ? cap * 2 : 65536;
                if (!(buf = realloc(buf, cap))) fail("out of memory");
            }
            buf[used++] = (char)c;
        } while (c != 0);
        list[i] = (char *)start; /* offsets until buf stops moving */
    }
    for (int i = 0; i < n; i++) list[i] = buf + (size_t)list[i];
    list[n] = NULL;
    /* getopt wants argv[0]: the request's words start at argv[1] */
    static char *argv[MAX_WORDS + 2];
    argv[0] = "gavel-sandbox";
    memcpy(argv + 1, list, (n + 1) * sizeof *argv);
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
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

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
