/* cell-probe: try to escape from wherever it runs, and say what worked.
 *
 * Usage:
 *   cell-probe [--target-pid PID] [--target-comm NAME] [--supervisor-pid PID]
 *              [--host-port PORT] [--ro-path PATH] [--host-hostname NAME]
 *              [--allow-env NAME]... [--only NAME[,NAME...]] [--list]
 *
 *   --target-pid      a host process the probe did not start (ptrace, kill,
 *                     process_vm_readv, /proc visibility, its mount namespace)
 *   --target-comm     its /proc/PID/comm; when given, a PID that exists but
 *                     runs something else does not count as visible
 *   --supervisor-pid  a process whose /proc/PID/environ must stay unreadable
 *   --host-port       a TCP listener on the host's 127.0.0.1
 *   --ro-path         a path on the read-only host tree to try to create
 *                     (default /usr/.cellos-probe)
 *   --host-hostname   the host's hostname (sethostname counts only when the
 *                     probe's UTS name is the host's)
 *   --allow-env       an environment variable that may be present (secrets
 *                     delivered by env); PATH and CELLOS_* always may
 *   --only            run only these attempts; --list prints every name
 *
 * Output: one JSON object on stdout, one attempt per line, then exit 0:
 *   {"attempts": [
 *     {"name": "mount-tmpfs", "escaped": false, "detail": "EPERM: Operation not permitted"},
 *     ...
 *   ]}
 * "escaped": true means the attempt got what a contained workload must not
 * get: the call succeeded, or (for calls made with harmless arguments) the
 * kernel went past its privilege check and failed for another reason, such
 * as ENOENT or EINVAL, or ENOSYS where the host lacks the feature.
 * Attempts whose input was not given (no --target-pid...) report
 * escaped=false with a detail starting "skipped:".
 *
 * Each attempt runs in a forked child with a 10 s alarm, so one that is
 * killed (SIGSYS from seccomp) or changes its own process state (unshare,
 * setns, chroot, keyrings) touches nothing else. Each is built to succeed
 * when run unconfined as root (tests/integration/test_probe_outside.py
 * checks that) and undoes what it created: mounts are unmounted, files and
 * directories removed, tracees detached, descriptors closed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cell-probe.h"

#define ATTEMPT_TIMEOUT_S 10

/* ---- verdict helpers --------------------------------------------------- */

void say(struct outcome *o, bool escaped, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->detail, sizeof(o->detail), fmt, ap);
    va_end(ap);
    o->escaped = escaped;
}

const char *errname(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

void verdict_success(struct outcome *o, long r, int err, const char *what)
{
    if (r >= 0)
        say(o, true, "%s succeeded", what);
    else
        say(o, false, "%s: %s: %s", what, errname(err), strerror(err));
}

void verdict_privilege(struct outcome *o, long r, int err, const char *what)
{
    if (r >= 0)
        say(o, true, "%s succeeded", what);
    else if (err == EPERM || err == EACCES)
        say(o, false, "%s: %s: %s", what, errname(err), strerror(err));
    else
        say(o, true, "%s: %s (%s): not refused for privilege", what, errname(err),
            strerror(err));
}

bool need_target(const struct probe_args *a, struct outcome *o)
{
    if (a->target_pid > 0)
        return true;
    say(o, false, "skipped: no --target-pid given");
    return false;
}

const char *scratch_dir(char *buf, size_t len, bool *made)
{
    snprintf(buf, len, "/tmp/cellos-probe-XXXXXX");
    *made = mkdtemp(buf) != NULL;
    return *made ? buf : "/tmp";
}

/* ---- the table, the runner, the output --------------------------------- */



static const struct {
    const struct attempt *list;
    const size_t *count;
} tables[] = {
    { probe_kernel_attempts, &probe_kernel_attempts_count },
    { probe_host_attempts, &probe_host_attempts_count },
};

static void list_attempts(void)
{
    for (size_t t = 0; t < ARRAY_SIZE(tables); t++)
        for (size_t i = 0; i < *tables[t].count; i++)
            puts(tables[t].list[i].name);
}

static bool selected(const struct probe_args *a, const char *name)
{
    if (!a->only)
        return true;
    size_t len = strlen(name);
    for (const char *p = a->only; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, name, n) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

static void describe_death(struct outcome *o, int status)
{
    if (WIFSIGNALED(status))
        say(o, false, "the attempt was killed by signal %d (%s)", WTERMSIG(status),
            sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    else
        say(o, false, "the attempt exited with %d before reporting", WEXITSTATUS(status));
}

/* Run one attempt in a child; what it reports, or how it died. */
static void run_attempt(const struct attempt *at, const struct probe_args *a, struct outcome *o)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        say(o, false, "probe error: pipe: %s", strerror(errno));
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct outcome mine = { false, "the attempt reported nothing" };
        close(p[0]);
        alarm(ATTEMPT_TIMEOUT_S);
        at->fn(a, &mine);
        (void)!write(p[1], &mine, sizeof(mine));
        _exit(0);
    }
    close(p[1]);
    ssize_t n = pid < 0 ? -1 : read(p[0], o, sizeof(*o));
    close(p[0]);
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    if (pid < 0)
        say(o, false, "probe error: fork: %s", strerror(errno));
    else if (n != (ssize_t)sizeof(*o))
        describe_death(o, status);
    o->detail[sizeof(o->detail) - 1] = '\0';
}

/* JSON string body: escapes, and '?' for bytes outside printable ASCII so
 * the output is always valid UTF-8. */
static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c < 0x7f ? c : '?');
    }
    putchar('"');
}

static void print_result(const char *name, const struct outcome *o, bool first)
{
    printf("%s  {\"name\": ", first ? "" : ",\n");
    print_json_string(name);
    printf(", \"escaped\": %s, \"detail\": ", o->escaped ? "true" : "false");
    print_json_string(o->detail);
    putchar('}');
}

static void usage(FILE *to)
{
    fputs("usage: cell-probe [--target-pid PID] [--target-comm NAME] [--supervisor-pid PID]\n"
          "                  [--host-port PORT] [--ro-path PATH] [--host-hostname NAME]\n"
          "                  [--allow-env NAME]... [--only NAME[,NAME...]] [--list]\n"
          "Tries to escape and prints {\"attempts\": [{\"name\", \"escaped\", \"detail\"}...]}.\n",
          to);
}

static int parse_number(const char *s, const char *opt)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v <= 0 || v > 4194304) {
        fprintf(stderr, "cell-probe: %s: not a positive number: %s\n", opt, s);
        exit(2);
    }
    return (int)v;
}

static void parse_args(int argc, char **argv, struct probe_args *a)
{
    static const struct option opts[] = {
        { "target-pid", required_argument, NULL, 't' },
        { "target-comm", required_argument, NULL, 'c' },
        { "supervisor-pid", required_argument, NULL, 's' },
        { "host-port", required_argument, NULL, 'p' },
        { "ro-path", required_argument, NULL, 'r' },
        { "host-hostname", required_argument, NULL, 'n' },
        { "allow-env", required_argument, NULL, 'e' },
        { "only", required_argument, NULL, 'o' },
        { "list", no_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    a->allow_env = calloc((size_t)argc, sizeof(char *));
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 't': a->target_pid = parse_number(optarg, "--target-pid"); break;
        case 'c': a->target_comm = optarg; break;
        case 's': a->supervisor_pid = parse_number(optarg, "--supervisor-pid"); break;
        case 'p': a->host_port = parse_number(optarg, "--host-port"); break;
        case 'r': a->ro_path = optarg; break;
        case 'n': a->host_hostname = optarg; break;
        case 'e': a->allow_env[a->n_allow_env++] = optarg; break;
        case 'o': a->only = optarg; break;
        case 'l': list_attempts(); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind < argc) {
        usage(stderr);
        exit(2);
    }
}

/* In sanitizer builds: LeakSanitizer stops the world with ptrace at exit,
 * which a contained probe is (rightly) refused; leaks in a test helper that
 * exits at once do not matter. Also, a cell's environment is cleared, so
 * ASAN_OPTIONS cannot reach the probe from outside. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "detect_leaks=0"; }

int main(int argc, char **argv)
{
    probe_measure_inherited_fds();
    struct probe_args a = { 0 };
    parse_args(argc, argv, &a);
    signal(SIGPIPE, SIG_IGN);
    printf("{\"attempts\": [\n");
    bool first = true;
    for (size_t t = 0; t < ARRAY_SIZE(tables); t++) {
        for (size_t i = 0; i < *tables[t].count; i++) {
            const struct attempt *at = &tables[t].list[i];
            if (!selected(&a, at->name))
                continue;
            struct outcome o;
            run_attempt(at, &a, &o);
            print_result(at->name, &o, first);
            first = false;
        }
    }
    printf("\n]}\n");
    fflush(stdout);
    free(a.allow_env);
    return 0;
}
