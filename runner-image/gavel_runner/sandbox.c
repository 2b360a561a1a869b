/*
 * gavel-sandbox: run one untrusted program under limits and measure it.
 *
 * Why a separate C program: Linux records the peak RSS of the image a process
 * replaces at exec time (signal->maxrss), so a program forked from the Python
 * runner would report the runner's ~30 MB as its own peak.  Forking from this
 * tiny static process keeps ru_maxrss honest, and costs one small exec.
 *
 *   gavel-sandbox [options] -- PROGRAM [ARGS...]
 *     -d DIR   working directory           -i FILE  stdin (default /dev/null)
 *     -o FILE  stdout (created)            -e FILE  stderr (created)
 *     -u UID   -g GID  run as (needs root) -E K=V   environment entry (repeatable)
 *     -t MS    CPU time limit              -w MS    wall-clock limit
 *     -m KB    memory limit (peak RSS, watched and measured)
 *     -a KB    address-space limit (0: none; Java, Go and Node reserve far more than they use)
 *     -f BYTES file size / output cap      -p N     processes+threads (RLIMIT_NPROC)
 *     -n N     open files                  -s KB    stack (0: same as -m)
 *
 * Prints one line on its own stdout:
 *   exit=N signal=N cpu_ms=N wall_ms=N rss_kb=N killed=none|cpu|wall|memory leftovers=N
 * Exit status 0 when it measured the program (whatever the program did), 2 on its own failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
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
#define POLL_NS 5000000L /* 5 ms: how often CPU time and RSS are sampled */

static void die(const char *what) {
    fprintf(stderr, "gavel-sandbox: %s: %s\n", what, strerror(errno));
    exit(2);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void set_limit(int resource, rlim_t value) {
    struct rlimit rl = {value, value};
    if (setrlimit(resource, &rl) != 0) {
        /* never above the hard limit this process was given */
        struct rlimit cur;
        getrlimit(resource, &cur);
        if (cur.rlim_max != RLIM_INFINITY && value > cur.rlim_max) {
            rl.rlim_cur = rl.rlim_max = cur.rlim_max;
            if (setrlimit(resource, &rl) == 0) return;
        }
        die("setrlimit");
    }
}

/* CPU ms (all threads) and RSS kB of one live process, from /proc; -1 if gone. */
static int sample(pid_t pid, long long *cpu_ms, long long *rss_kb) {
    char path[64], buf[1024];
    static long tick = 0, page_kb = 0;
    if (!tick) { tick = sysconf(_SC_CLK_TCK); page_kb = sysconf(_SC_PAGESIZE) / 1024; }
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY);
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
 * the kernel refuses when uid owns another task besides the child (kill(-1) says nothing,
 * it succeeds whenever any process exists), so it kills them all and we look again.
 * Returns how many rounds found something. */
static int sweep_uid(uid_t uid, gid_t gid) {
    int rounds = 0;
    for (; rounds < 50; rounds++) {
        pid_t k = fork();
        if (k < 0) die("fork");
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
        if (!WIFEXITED(st) || WEXITSTATUS(st) == 3) { errno = EPERM; die("sweep"); }
        if (WEXITSTATUS(st) == 0) break;
        /* what was killed is our child (we are its subreaper): reap it, or it still counts */
        usleep(1000);
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
    }
    return rounds;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *in = "/dev/null", *out = "/dev/null", *err = "/dev/null";
    long long cpu_ms = 0, wall_ms = 0, mem_kb = 0, as_kb = 0, fsize = 0, stack_kb = 0;
    long nproc = 0, nofile = 64;
    long uid = -1, gid = -1;
    char *env[MAX_ENV + 1];
    int nenv = 0, opt;

    while ((opt = getopt(argc, argv, "+d:i:o:e:u:g:E:t:w:m:a:f:p:n:s:")) != -1) {
        switch (opt) {
        case 'd': dir = optarg; break;
        case 'i': in = optarg; break;
        case 'o': out = optarg; break;
        case 'e': err = optarg; break;
        case 'u': uid = atol(optarg); break;
        case 'g': gid = atol(optarg); break;
        case 'E': if (nenv < MAX_ENV) env[nenv++] = optarg; break;
        case 't': cpu_ms = atoll(optarg); break;
        case 'w': wall_ms = atoll(optarg); break;
        case 'm': mem_kb = atoll(optarg); break;
        case 'a': as_kb = atoll(optarg); break;
        case 'f': fsize = atoll(optarg); break;
        case 'p': nproc = atol(optarg); break;
        case 'n': nofile = atol(optarg); break;
        case 's': stack_kb = atoll(optarg); break;
        default: fprintf(stderr, "gavel-sandbox: bad option\n"); return 2;
        }
    }
    env[nenv] = NULL;
    if (optind >= argc) { fprintf(stderr, "gavel-sandbox: no program\n"); return 2; }
    if (gid < 0) gid = uid;
    int drop = uid >= 0 && geteuid() == 0;

    /* Block SIGCHLD so that sigtimedwait can wait for the child or the next sample. */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);

    /* Open the files here, as the runner's user: the program only ever gets the descriptors. */
    int fin = open(in, O_RDONLY | O_CLOEXEC);
    if (fin < 0) die(in);
    int fout = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fout < 0) die(out);
    /* the same path for both: one file, one offset (compiler output interleaved as printed) */
    int ferr = strcmp(err, out) == 0 ? fcntl(fout, F_DUPFD_CLOEXEC, 3)
                                     : open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (ferr < 0) die(err);

    /* orphans of the program become ours, so that they are killed and reaped, never left as zombies */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    long long start = now_ms();
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        sigprocmask(SIG_UNBLOCK, &chld, NULL);
        setpgid(0, 0);
        if (dup2(fin, 0) < 0 || dup2(fout, 1) < 0 || dup2(ferr, 2) < 0) die("dup2");
        if (dir && chdir(dir) != 0) die(dir);
        if (cpu_ms > 0) set_limit(RLIMIT_CPU, (rlim_t)((cpu_ms + 999) / 1000 + 1));
        if (as_kb > 0) set_limit(RLIMIT_AS, (rlim_t)as_kb * 1024);
        if (fsize > 0) set_limit(RLIMIT_FSIZE, (rlim_t)fsize);
        if (nproc > 0) set_limit(RLIMIT_NPROC, (rlim_t)nproc);
        if (nofile > 0) set_limit(RLIMIT_NOFILE, (rlim_t)nofile);
        set_limit(RLIMIT_CORE, 0);
        if (stack_kb > 0 || mem_kb > 0) set_limit(RLIMIT_STACK, (rlim_t)(stack_kb > 0 ? stack_kb : mem_kb) * 1024);
        if (drop) {
            if (setgroups(0, NULL) != 0) die("setgroups");
            if (setgid((gid_t)gid) != 0) die("setgid");
            if (setuid((uid_t)uid) != 0) die("setuid");
        }
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        execve(argv[optind], argv + optind, env);
        fprintf(stderr, "gavel-sandbox: cannot execute %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    close(fin); close(fout); close(ferr);

    const char *killed = "none";
    int status = 0;
    struct rusage ru;
    struct timespec poll = {0, POLL_NS};
    for (;;) {
        pid_t r = wait4(pid, &status, WNOHANG, &ru);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) die("wait4");
        long long c, rss;
        if (*killed == 'n' && sample(pid, &c, &rss) == 0) {
            if (cpu_ms > 0 && c > cpu_ms) killed = "cpu";
            else if (mem_kb > 0 && rss > mem_kb) killed = "memory";
        }
        if (*killed == 'n' && wall_ms > 0 && now_ms() - start > wall_ms) killed = "wall";
        if (*killed != 'n') kill(-pid, SIGKILL), kill(pid, SIGKILL);
        sigtimedwait(&chld, NULL, &poll);
    }
    long long wall = now_ms() - start;
    /* the program's process group, then anything of its uid that escaped it */
    kill(-pid, SIGKILL);
    int leftovers = drop ? sweep_uid((uid_t)uid, (gid_t)gid) : 0;
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {}

    long long cpu = ru.ru_utime.tv_sec * 1000LL + ru.ru_utime.tv_usec / 1000 +
                    ru.ru_stime.tv_sec * 1000LL + ru.ru_stime.tv_usec / 1000;
    printf("exit=%d signal=%d cpu_ms=%lld wall_ms=%lld rss_kb=%ld killed=%s leftovers=%d dropped=%d\n",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
           cpu, wall, ru.ru_maxrss, killed, leftovers, drop);
    return 0;
}
