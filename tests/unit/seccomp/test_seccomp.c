/* test_seccomp.c: the baseline and raw programs, loaded in forked children.
 *
 * Every check that loads a filter does it in a child (a filter cannot be
 * removed), which leaves with _exit() so that no sanitizer exit hook runs
 * under the filter. A child reports the errno of its call as exit status. */
#include "isolate/seccomp.h"
#include "tap.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define EXIT_INSTALL_FAILED 250
#define EXIT_CALL_SUCCEEDED 254

/* ---- helpers ----------------------------------------------------------- */

static struct seccomp_program build_or_die(enum seccomp_mode mode, const char *path)
{
    struct seccomp_program p = { 0 };
    struct cell_err err = { 0 };
    if (seccomp_program_build(mode, path, &p, &err) < 0) {
        printf("# build failed: %s\n", err.msg);
        exit(2);
    }
    return p;
}

/* Fork, install prog in the child, run fn there; the child's wait status. */
static int run_filtered(const struct seccomp_program *prog, int (*fn)(const void *),
                        const void *arg)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (seccomp_program_install(prog) < 0)
            _exit(EXIT_INSTALL_FAILED);
        _exit(fn(arg));
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

static int call_status(long r)
{
    return r == -1 ? errno : EXIT_CALL_SUCCEEDED;
}

static bool exited_with(int status, int code)
{
    return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

static const char *describe_status(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
    else if (WEXITSTATUS(status) == EXIT_CALL_SUCCEEDED)
        snprintf(buf, len, "call succeeded");
    else if (WEXITSTATUS(status) == EXIT_INSTALL_FAILED)
        snprintf(buf, len, "install failed");
    else
        snprintf(buf, len, "errno %d (%s)", WEXITSTATUS(status), strerror(WEXITSTATUS(status)));
    return buf;
}

/* ---- denied syscalls: arguments that would be harmless unfiltered ------ */

struct harmless_call {
    const char *name;
    long args[6];
};

/* Each call fails or does nothing even if the filter were missing and we
 * were root: NULL pointers, bad descriptors, bad magic, bogus flags. */
static const struct harmless_call harmless_calls[] = {
    { "mount", { 0 } },            { "umount", { 0 } },
    { "umount2", { 0 } },          { "pivot_root", { 0 } },
    { "chroot", { 0 } },           { "fsopen", { 0 } },
    { "fsconfig", { -1 } },        { "fsmount", { -1 } },
    { "fspick", { -1 } },          { "move_mount", { -1, 0, -1 } },
    { "open_tree", { -1 } },       { "mount_setattr", { -1 } },
    { "unshare", { 0 } },          { "setns", { -1 } },
    { "ptrace", { -1 } },          { "process_vm_readv", { 0 } },
    { "process_vm_writev", { 0 } }, { "process_madvise", { -1 } },
    { "kcmp", { 0, 0, -1 } },      { "pidfd_getfd", { -1 } },
    /* a foreign kexec architecture: EINVAL once past the privilege check */
    { "kexec_load", { 0, 0, 0, 0x7fff0000L } },
    { "kexec_file_load", { -1, -1, 0, 0, (long)0x80000000UL } },
    { "init_module", { 0 } },      { "finit_module", { -1 } },
    { "delete_module", { 0 } },    { "create_module", { 0 } },
    { "get_kernel_syms", { 0 } },  { "query_module", { 0 } },
    { "bpf", { -1 } },             { "perf_event_open", { 0, 0, -1, -1 } },
    { "keyctl", { 0, 0 } },        { "add_key", { 0 } },
    { "request_key", { 0 } },      { "open_by_handle_at", { -1 } },
    { "name_to_handle_at", { -1 } }, { "userfaultfd", { 0 } },
    { "io_uring_setup", { 0 } },   { "io_uring_enter", { -1 } },
    { "io_uring_register", { -1 } }, { "modify_ldt", { 0 } },
    { "uselib", { 0 } },           { "_sysctl", { 0 } },
    { "reboot", { 0 } },           { "swapon", { 0 } },
    { "swapoff", { 0 } },          { "acct", { 1 } },   /* bad pointer, not NULL (= off) */
    { "quotactl", { 0 } },         { "quotactl_fd", { -1 } },
    { "settimeofday", { 0 } },     { "clock_settime", { 0 } },
    { "stime", { 0 } },            { "syslog", { 10 } }, /* SYSLOG_ACTION_SIZE_BUFFER */
    { "lookup_dcookie", { 0 } },   { "nfsservctl", { 0 } },
    { "fanotify_init", { 0 } },    { "iopl", { 0 } },
    { "ioperm", { 0 } },           { "vm86", { 0 } },
    { "vm86old", { 0 } },
};

static const struct harmless_call *find_harmless(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(harmless_calls); i++)
        if (strcmp(harmless_calls[i].name, name) == 0)
            return &harmless_calls[i];
    return NULL;
}

static int do_harmless_call(const void *arg)
{
    const struct harmless_call *c = arg;
    int nr = seccomp_syscall_resolve_name(c->name);
    const long *a = c->args;
    return call_status(syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
}

TEST(baseline_denies_each_listed_syscall_with_eperm)
{
    struct seccomp_program p = build_or_die(CELL_SECCOMP_BASELINE, NULL);
    const char *names[SECCOMP_BASELINE_MAX_DENIED];
    size_t n = seccomp_baseline_denied(names, ARRAY_SIZE(names));
    ok(n > 40 && n <= ARRAY_SIZE(names), "denied count %zu", n);
    for (size_t i = 0; i < n && i < ARRAY_SIZE(names); i++) {
        const struct harmless_call *c = find_harmless(names[i]);
        if (!c) {
            ok(c != NULL, "no harmless call written for %s", names[i]);
            continue;
        }
        char why[64];
        int st = run_filtered(&p, do_harmless_call, c);
        ok(exited_with(st, EPERM), "%s: %s", names[i], describe_status(st, why, sizeof(why)));
    }
    seccomp_program_free(&p);
}

/* ---- clone, clone3, personality ---------------------------------------- */

static int do_clone_with(const void *arg)
{
    /* CLONE_SIGHAND without CLONE_VM is refused by the kernel (EINVAL), so
     * nothing is created even if the filter let the call through. */
    long flags = *(const long *)arg | CLONE_SIGHAND;
    return call_status(syscall(SYS_clone, flags, 0L, 0L, 0L, 0L));
}

TEST(baseline_denies_clone_with_namespace_flags)
{
    static const long ns_flags[] = { CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                     CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET };
    struct seccomp_program p = build_or_die(CELL_SECCOMP_BASELINE, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(ns_flags); i++) {
        char why[64];
        int st = run_filtered(&p, do_clone_with, &ns_flags[i]);
        ok(exited_with(st, EPERM), "clone flag %#lx: %s", ns_flags[i],
           describe_status(st, why, sizeof(why)));
    }
    long none = 0;
    int st = run_filtered(&p, do_clone_with, &none);
    ok(exited_with(st, EINVAL), "clone without namespace flags reaches the kernel");
    seccomp_program_free(&p);
}

static int do_clone3(const void *arg)
{
    return call_status(syscall(SYS_clone3, NULL, 0L));
}

TEST(baseline_answers_clone3_with_enosys)
{
    struct seccomp_program p = build_or_die(CELL_SECCOMP_BASELINE, NULL);
    ok(exited_with(run_filtered(&p, do_clone3, NULL), ENOSYS), "clone3 → ENOSYS");
    seccomp_program_free(&p);
}

static int do_ioctl(const void *arg)
{
    unsigned long request = *(const unsigned long *)arg;
    char c = ' ';
    return call_status(syscall(SYS_ioctl, -1L, request, &c));
}

TEST(baseline_denies_terminal_injection_ioctls)
{
    static const struct { unsigned long request; int want; } cases[] = {
        { TIOCSTI, EPERM },
        { TIOCLINUX, EPERM },
        { 0x100000000UL | TIOCSTI, EPERM },    /* the kernel reads 32 bits */
        { TCGETS, EBADF },                      /* other requests reach the kernel */
        { FIONREAD, EBADF },
    };
    struct seccomp_program p = build_or_die(CELL_SECCOMP_BASELINE, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char why[64];
        int st = run_filtered(&p, do_ioctl, &cases[i].request);
        ok(exited_with(st, cases[i].want), "ioctl(%#lx): %s", cases[i].request,
           describe_status(st, why, sizeof(why)));
    }
    seccomp_program_free(&p);
}

static int do_personality(const void *arg)
{
    unsigned long persona = *(const unsigned long *)arg;
    return call_status(syscall(SYS_personality, persona));
}

TEST(baseline_filters_dangerous_personalities)
{
    static const struct { unsigned long persona; int want; } cases[] = {
        { 0xffffffffUL, EXIT_CALL_SUCCEEDED },      /* the query */
        { PER_LINUX, EXIT_CALL_SUCCEEDED },
        { PER_LINUX32, EXIT_CALL_SUCCEEDED },
        { UNAME26, EXIT_CALL_SUCCEEDED },
        { ADDR_NO_RANDOMIZE, EPERM },
        { READ_IMPLIES_EXEC, EPERM },
        { MMAP_PAGE_ZERO, EPERM },
        { ADDR_COMPAT_LAYOUT | PER_LINUX32, EPERM },
        { 0x80000000UL | ADDR_NO_RANDOMIZE, EPERM }, /* bit 31 does not smuggle flags */
        { 0x80000000UL, EPERM },
        { 0x7fffffffUL, EPERM },
        { 0x100000000UL | ADDR_NO_RANDOMIZE, EPERM }, /* high half ignored by the kernel */
    };
    struct seccomp_program p = build_or_die(CELL_SECCOMP_BASELINE, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char why[64];
        int st = run_filtered(&p, do_personality, &cases[i].persona);
        ok(exited_with(st, cases[i].want), "personality(%#lx): %s", cases[i].persona,
           describe_status(st, why, sizeof(why)));
    }
    seccomp_program_free(&p);
}

/* ---- what must keep working -------------------------------------------- */

static void *thread_main(void *arg)
{
    return arg;
}

static int do_ordinary_work(const void *arg)
{
    if (getpid() <= 0 || getppid() <= 0)
        return 10;
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0 || write(fd, "x", 1) != 1 || close(fd) < 0)
        return 11;
    pthread_t t;    /* glibc tries clone3, gets ENOSYS, falls back to clone */
    void *ret = NULL;
    if (pthread_create(&t, NULL, thread_main, (void *)0x1) != 0 || pthread_join(t, &ret) != 0 ||
        ret != (void *)0x1)
        return 12;
    pid_t child = fork();
    if (child == 0)
        execl("/bin/sh", "sh", "-c", "exit 7", (char *)NULL), _exit(99);
    int st;
    if (child < 0 || waitpid(child, &st, 0) != child || !exited_with(st, 7))
        return 13;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
        return 14;
    return 0;
}

TEST(baseline_keeps_ordinary_syscalls_working)
{
    struct seccomp_program p = build_or_die(CELL_SECCOMP_BASELINE, NULL);
    char why[64];
    int st = run_filtered(&p, do_ordinary_work, NULL);
    ok(exited_with(st, 0), "ordinary work in a filtered child: %s",
       describe_status(st, why, sizeof(why)));
    seccomp_program_free(&p);
}

static int read_seccomp_mode(const void *arg)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    int mode = 100;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "Seccomp: %d", &mode) == 1)
            break;
    if (f)
        fclose(f);
    return mode;
}

TEST(install_sets_filter_mode_and_off_only_sets_no_new_privs)
{
    struct seccomp_program p = build_or_die(CELL_SECCOMP_BASELINE, NULL);
    ok(exited_with(run_filtered(&p, read_seccomp_mode, NULL), SECCOMP_MODE_FILTER),
       "baseline: Seccomp: 2");
    seccomp_program_free(&p);

    struct seccomp_program off = build_or_die(CELL_SECCOMP_OFF, NULL);
    ok(off.fprog.filter == NULL && off.fprog.len == 0, "off has no program");
    ok(exited_with(run_filtered(&off, read_seccomp_mode, NULL), SECCOMP_MODE_DISABLED),
       "off: Seccomp: 0");
    ok(exited_with(run_filtered(NULL, read_seccomp_mode, NULL), SECCOMP_MODE_DISABLED),
       "NULL program: Seccomp: 0");
    seccomp_program_free(&off);
    seccomp_program_free(NULL);
}

/* ---- foreign architectures --------------------------------------------- */

#if defined(__x86_64__)
static int do_i386_getpid(const void *arg)
{
    long ret = 20; /* __NR_getpid of the i386 ABI */
    __asm__ volatile("int $0x80" : "+a"(ret) : : "memory", "r8", "r9", "r10", "r11");
    return ret == getpid() ? 0 : 1;
}

static int do_x32_getpid(const void *arg)
{
    return call_status(syscall(0x40000000L | SYS_getpid));
}

TEST(baseline_kills_x32_syscalls)
{
    struct seccomp_program p = build_or_die(CELL_SECCOMP_BASELINE, NULL);
    char why[64];
    int st = run_filtered(&p, do_x32_getpid, NULL);
    ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "x32 syscall: %s",
       describe_status(st, why, sizeof(why)));
    seccomp_program_free(&p);
}

TEST(baseline_kills_i386_syscalls)
{
    int control = run_filtered(NULL, do_i386_getpid, NULL);
    if (!exited_with(control, 0))
        skip_test("this kernel offers no i386 syscall entry to 64-bit processes");
    struct seccomp_program p = build_or_die(CELL_SECCOMP_BASELINE, NULL);
    char why[64];
    int st = run_filtered(&p, do_i386_getpid, NULL);
    ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "i386 int 0x80: %s",
       describe_status(st, why, sizeof(why)));
    seccomp_program_free(&p);
}
#endif

/* ---- raw programs ------------------------------------------------------ */

static char *write_temp(const void *data, size_t len)
{
    char *path = xstrdup("/tmp/cellos-seccomp-test-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || write_all(fd, data, len) < 0) {
        printf("# cannot write %s\n", path);
        exit(2);
    }
    close(fd);
    return path;
}

/* getppid() fails with E2BIG, everything else is allowed. */
static const struct sock_filter getppid_filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | E2BIG),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static int do_getppid_getpid(const void *arg)
{
    if (getpid() <= 0)
        return 1;
    return call_status(syscall(SYS_getppid));
}

TEST(raw_program_file_loads_and_takes_effect)
{
    _cleanup_free_ char *path = write_temp(getppid_filter, sizeof(getppid_filter));
    struct seccomp_program p = build_or_die(CELL_SECCOMP_RAW, path);
    is_int(p.fprog.len, ARRAY_SIZE(getppid_filter), "instruction count");
    is_str(p.raw_path, path, "path kept for plans");
    char why[64];
    int st = run_filtered(&p, do_getppid_getpid, NULL);
    ok(exited_with(st, E2BIG), "getppid filtered: %s", describe_status(st, why, sizeof(why)));
    _cleanup_free_ char *text = seccomp_program_render(&p);
    ok(strstr(text, "raw classic-BPF program") && strstr(text, "(4 instructions)"), "%s", text);
    seccomp_program_free(&p);
    unlink(path);
}

/* Build from bytes; returns the error and leaves *msg describing it. */
static int build_raw_bytes(const void *data, size_t len, struct cell_err *err)
{
    _cleanup_free_ char *path = write_temp(data, len);
    struct seccomp_program p = { .mode = CELL_SECCOMP_OFF, .raw_path = (char *)"untouched" };
    int r = seccomp_program_build(CELL_SECCOMP_RAW, path, &p, err);
    unlink(path);
    if (r == 0)
        seccomp_program_free(&p);
    else
        ok(strcmp(p.raw_path, "untouched") == 0, "out untouched on failure");
    return r;
}

TEST(malformed_raw_files_are_rejected_with_clear_errors)
{
    struct cell_err err = { 0 };
    is_int(build_raw_bytes("", 0, &err), -EINVAL, "empty");
    ok(strstr(err.msg, "empty program") != NULL, "%s", err.msg);
    is_str(err.reason, "isolation_failed", "reason");

    is_int(build_raw_bytes(getppid_filter, 13, &err), -EINVAL, "13 bytes");
    ok(strstr(err.msg, "not a multiple of 8") != NULL, "%s", err.msg);

    size_t big = (BPF_MAXINSNS + 1) * sizeof(struct sock_filter);
    _cleanup_free_ struct sock_filter *many = xcalloc(BPF_MAXINSNS + 1, sizeof(*many));
    for (size_t i = 0; i <= BPF_MAXINSNS; i++)
        many[i] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    is_int(build_raw_bytes(many, big, &err), -E2BIG, "too many instructions");
    ok(strstr(err.msg, "4096") != NULL, "%s", err.msg);
    is_int(build_raw_bytes(many, big - sizeof(*many), &err), 0, "exactly BPF_MAXINSNS is fine");

    struct sock_filter no_ret[2] = { getppid_filter[3], getppid_filter[0] };
    is_int(build_raw_bytes(no_ret, sizeof(no_ret), &err), -EINVAL, "no final return");
    ok(strstr(err.msg, "not a return") != NULL, "%s", err.msg);

    struct sock_filter far[4];
    memcpy(far, getppid_filter, sizeof(far));
    far[1].jf = 9;
    is_int(build_raw_bytes(far, sizeof(far), &err), -EINVAL, "jump past the end");
    ok(strstr(err.msg, "instruction 1 jumps past") != NULL, "%s", err.msg);

    struct seccomp_program p;
    is_int(seccomp_program_build(CELL_SECCOMP_RAW, "/nonexistent/prog.bpf", &p, &err), -ENOENT,
           "missing file");
    ok(strstr(err.msg, "CELLOS_SECCOMP=/nonexistent/prog.bpf") &&
           strstr(err.msg, "not off, baseline, or a readable"), "%s", err.msg);
    is_int(seccomp_program_build(CELL_SECCOMP_RAW, "/tmp", &p, &err), -EINVAL, "directory");
    ok(strstr(err.msg, "not a regular file") != NULL, "%s", err.msg);
    is_int(seccomp_program_build(CELL_SECCOMP_RAW, NULL, &p, &err), -EINVAL, "no path");
}

/* ---- parsing, names, rendering ----------------------------------------- */

TEST(mode_parse_and_names)
{
    enum seccomp_mode m = CELL_SECCOMP_RAW;
    is_int(seccomp_mode_parse("off", &m), 0, "off");
    is_int(m, CELL_SECCOMP_OFF, "off mode");
    is_int(seccomp_mode_parse("baseline", &m), 0, "baseline");
    is_int(m, CELL_SECCOMP_BASELINE, "baseline mode");
    is_int(seccomp_mode_parse("/etc/cellos/filter.bpf", &m), 0, "path");
    is_int(m, CELL_SECCOMP_RAW, "raw mode");
    is_int(seccomp_mode_parse("", &m), -EINVAL, "empty");
    is_int(seccomp_mode_parse(NULL, &m), -EINVAL, "NULL");
    is_str(seccomp_mode_name(CELL_SECCOMP_OFF), "off", "name off");
    is_str(seccomp_mode_name(CELL_SECCOMP_BASELINE), "baseline", "name baseline");
    is_str(seccomp_mode_name(CELL_SECCOMP_RAW), "raw", "name raw");
}

/* word appears in text between blanks (spaces or line ends). */
static bool has_word(const char *text, const char *word)
{
    size_t len = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        bool start = p == text || p[-1] == ' ' || p[-1] == '\n';
        bool end = p[len] == ' ' || p[len] == '\n' || p[len] == '\0';
        if (start && end)
            return true;
    }
    return false;
}

static bool lines_fit(const char *text, size_t width)
{
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        if (len > width)
            return false;
        p += len + (p[len] == '\n');
    }
    return true;
}

TEST(baseline_renders_its_rules)
{
    struct seccomp_program p = build_or_die(CELL_SECCOMP_BASELINE, NULL);
    _cleanup_free_ char *text = seccomp_program_render(&p);
    static const char *const phrases[] = {
        "seccomp: baseline", "CLONE_NEWUSER", "clone3: ENOSYS", "TIOCSTI",
        "ADDR_NO_RANDOMIZE", "foreign architectures", "kill process",
    };
    for (size_t i = 0; i < ARRAY_SIZE(phrases); i++)
        ok(strstr(text, phrases[i]) != NULL, "render lacks \"%s\":\n%s", phrases[i], text);
    const char *names[SECCOMP_BASELINE_MAX_DENIED];
    size_t n = seccomp_baseline_denied(names, ARRAY_SIZE(names));
    for (size_t i = 0; i < n && i < ARRAY_SIZE(names); i++)
        ok(has_word(text, names[i]), "render lacks %s", names[i]);
    ok(!has_word(text, "vm86"), "syscalls this architecture lacks are left out");
    ok(lines_fit(text, 80), "deny list wrapped:\n%s", text);
    seccomp_program_free(&p);

    _cleanup_free_ char *off = seccomp_program_render(NULL);
    is_str(off, "seccomp: off (NO_NEW_PRIVS still set)\n", "off");
}

TEST(baseline_build_is_deterministic)
{
    struct seccomp_program a = build_or_die(CELL_SECCOMP_BASELINE, NULL);
    struct seccomp_program b = build_or_die(CELL_SECCOMP_BASELINE, NULL);
    ok(a.fprog.len == b.fprog.len &&
           memcmp(a.fprog.filter, b.fprog.filter, a.fprog.len * sizeof(*a.fprog.filter)) == 0,
       "same bytes twice");
    ok(a.fprog.len < BPF_MAXINSNS, "%u instructions", a.fprog.len);
    seccomp_program_free(&a);
    seccomp_program_free(&a);   /* idempotent */
    seccomp_program_free(&b);
}

/* The program embedded at build time is exactly what libseccomp compiles
 * from today's rules (a stale generated header would fail here). */
TEST(embedded_baseline_matches_a_fresh_compile)
{
    struct sock_fprog fresh;
    struct seccomp_program embedded;
    struct cell_err err;
    ok(seccomp_baseline_compile(&fresh, &err) == 0, "compile: %s", err.msg);
    ok(seccomp_program_build(CELL_SECCOMP_BASELINE, NULL, &embedded, &err) == 0, "build");
    is_int(embedded.fprog.len, fresh.len, "same length");
    ok(fresh.len == embedded.fprog.len &&
           memcmp(fresh.filter, embedded.fprog.filter, fresh.len * sizeof(*fresh.filter)) == 0,
       "same instructions");
    free(fresh.filter);
    seccomp_program_free(&embedded);
}

TAP_MAIN
