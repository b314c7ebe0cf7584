/* seccomp.c: build the workload's filter in the parent, load it in the child.
 *
 * The baseline is a deny-list over a default of allow: it removes the
 * kernel interfaces a workload never needs and that let a process reach
 * beyond its cell (mounts, namespaces, other processes' memory, kernel code
 * loading, kernel-wide state, well-known exploit primitives). Each entry is
 * justified in docs/seccomp.md; keep the two in step. */
#include "isolate/seccomp.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "base/buf.h"
#include "base/strtab.h"
#ifndef CELLOS_SECCOMP_GENERATOR
/* The baseline compiled at build time by gen_seccomp_baseline.c from the
 * rules below: libseccomp's compiler costs milliseconds on every cold start,
 * and the rules only change with the source. */
#include "isolate/seccomp_baseline_bpf.h"
#endif

#define REASON "isolation_failed"

/* Denied outright with EPERM, grouped as docs/seccomp.md explains them. */
static const char *const baseline_denied[] = {
    /* the mount table and the root directory */
    "mount", "umount", "umount2", "pivot_root", "chroot",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
    "mount_setattr",
    /* namespaces (clone is filtered by flags below, clone3 gets ENOSYS) */
    "unshare", "setns",
    /* other processes: their memory, descriptors and tracing */
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise",
    "kcmp", "pidfd_getfd",
    /* loading code into the kernel, or replacing it */
    "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "create_module", "get_kernel_syms", "query_module",
    "bpf", "perf_event_open",
    /* the kernel keyring, which no namespace separates */
    "keyctl", "add_key", "request_key",
    /* file handles: open_by_handle_at walks past bind mounts and chroots */
    "open_by_handle_at", "name_to_handle_at",
    /* exploit primitives and large, rarely needed attack surface */
    "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "modify_ldt", "uselib", "_sysctl",
    /* machine-wide state */
    "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
    "settimeofday", "clock_settime", "stime", "syslog", "lookup_dcookie",
    "nfsservctl", "fanotify_init",
    /* direct hardware access */
    "iopl", "ioperm", "vm86", "vm86old",
};

/* clone() is allowed (fork and threads need it) unless it asks for a new
 * namespace. CLONE_NEWTIME is absent on purpose: clone() reads that bit as
 * part of the exit signal; only clone3 and unshare take it, both denied. */
static const struct strtab_entry clone_ns_flags[] = {
    { CLONE_NEWNS, "CLONE_NEWNS" },     { CLONE_NEWCGROUP, "CLONE_NEWCGROUP" },
    { CLONE_NEWUTS, "CLONE_NEWUTS" },   { CLONE_NEWIPC, "CLONE_NEWIPC" },
    { CLONE_NEWUSER, "CLONE_NEWUSER" }, { CLONE_NEWPID, "CLONE_NEWPID" },
    { CLONE_NEWNET, "CLONE_NEWNET" },
};

/* personality() flags that weaken the address space of the process and of
 * what it execs (ASLR off, page zero mappable, readable implies exec). */
static const struct strtab_entry personality_flags[] = {
    { ADDR_NO_RANDOMIZE, "ADDR_NO_RANDOMIZE" },
    { MMAP_PAGE_ZERO, "MMAP_PAGE_ZERO" },
    { ADDR_COMPAT_LAYOUT, "ADDR_COMPAT_LAYOUT" },
    { READ_IMPLIES_EXEC, "READ_IMPLIES_EXEC" },
    { ADDR_LIMIT_32BIT, "ADDR_LIMIT_32BIT" },
    { ADDR_LIMIT_3GB, "ADDR_LIMIT_3GB" },
};

/* ioctl() requests that type into a terminal: a workload given the
 * caller's terminal could run commands in the caller's shell. */
static const struct strtab_entry denied_ioctls[] = {
    { TIOCSTI, "TIOCSTI" },
    { TIOCLINUX, "TIOCLINUX" },
};

#define PERSONALITY_QUERY 0xffffffffu
#define PERSONALITY_HIGH_BIT 0x80000000u

/* The argument index of clone()'s flags: s390 swaps the first two. */
#if defined(__s390__) || defined(__s390x__) || defined(__CRIS__)
#define CLONE_FLAGS_ARG 1
#else
#define CLONE_FLAGS_ARG 0
#endif

static const struct strtab_entry mode_names[] = {
    { CELL_SECCOMP_OFF, "off" },
    { CELL_SECCOMP_BASELINE, "baseline" },
    { CELL_SECCOMP_RAW, "raw" },
};

const char *seccomp_mode_name(enum seccomp_mode mode)
{
    return strtab_name(mode_names, ARRAY_SIZE(mode_names), (int)mode);
}

int seccomp_mode_parse(const char *value, enum seccomp_mode *out)
{
    if (!value || !*value)
        return -EINVAL;
    if (strcmp(value, "off") == 0)
        *out = CELL_SECCOMP_OFF;
    else if (strcmp(value, "baseline") == 0)
        *out = CELL_SECCOMP_BASELINE;
    else
        *out = CELL_SECCOMP_RAW;
    return 0;
}

size_t seccomp_baseline_denied(const char **names, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_SIZE(baseline_denied); i++) {
        if (seccomp_syscall_resolve_name(baseline_denied[i]) < 0)
            continue;   /* not a syscall of this architecture */
        if (n < cap)
            names[n] = baseline_denied[i];
        n++;
    }
    return n;
}

/* ---- checking a classic-BPF program ------------------------------------ */

/* The structural rules the kernel would enforce at load time, checked here
 * so that a bad raw file is reported by the parent with a clear message
 * rather than as a failed step in the child. */
static int check_jumps(const struct sock_filter *insns, size_t n, size_t i,
                       const char *what, struct cell_err *err)
{
    const struct sock_filter *in = &insns[i];
    uint64_t next = (uint64_t)i + 1;
    bool ok = BPF_OP(in->code) == BPF_JA
                  ? next + in->k < n
                  : next + in->jt < n && next + in->jf < n;
    if (!ok)
        return cell_err_set(err, EINVAL, REASON,
                            "%s: instruction %zu jumps past the end of the program", what, i);
    return 0;
}

static int check_program(const struct sock_filter *insns, size_t n, const char *what,
                         struct cell_err *err)
{
    if (n == 0)
        return cell_err_set(err, EINVAL, REASON, "%s: empty program", what);
    if (n > BPF_MAXINSNS)
        return cell_err_set(err, E2BIG, REASON,
                            "%s: %zu instructions, more than the kernel's limit of %d",
                            what, n, BPF_MAXINSNS);
    for (size_t i = 0; i < n; i++) {
        if (BPF_CLASS(insns[i].code) != BPF_JMP)
            continue;
        int r = check_jumps(insns, n, i, what, err);
        if (r < 0)
            return r;
    }
    if (BPF_CLASS(insns[n - 1].code) != BPF_RET)
        return cell_err_set(err, EINVAL, REASON,
                            "%s: the last instruction is not a return", what);
    return 0;
}

/* Read a whole program from fd (at most BPF_MAXINSNS records) into the heap. */
static int read_program(int fd, const char *what, struct sock_fprog *out,
                        struct cell_err *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return cell_err_set(err, errno, REASON, "%s: %s", what, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return cell_err_set(err, EINVAL, REASON, "%s: not a regular file", what);
    if (st.st_size == 0)
        return cell_err_set(err, EINVAL, REASON, "%s: empty program", what);
    if (st.st_size % (off_t)sizeof(struct sock_filter) != 0)
        return cell_err_set(err, EINVAL, REASON,
                            "%s: size %lld bytes is not a multiple of %zu (struct sock_filter)",
                            what, (long long)st.st_size, sizeof(struct sock_filter));
    size_t n = (size_t)st.st_size / sizeof(struct sock_filter);
    if (n > BPF_MAXINSNS)
        return cell_err_set(err, E2BIG, REASON,
                            "%s: %zu instructions, more than the kernel's limit of %d",
                            what, n, BPF_MAXINSNS);

    _cleanup_free_ struct sock_filter *insns = xcalloc(n, sizeof(*insns));
    ssize_t got = pread(fd, insns, n * sizeof(*insns), 0);
    if (got < 0)
        return cell_err_set(err, errno, REASON, "%s: %s", what, strerror(errno));
    if ((size_t)got != n * sizeof(*insns))
        return cell_err_set(err, EIO, REASON, "%s: short read (file changed?)", what);
    int r = check_program(insns, n, what, err);
    if (r < 0)
        return r;
    out->len = (unsigned short)n;
    out->filter = TAKE_PTR(insns);
    return 0;
}

static int load_raw_file(const char *path, struct sock_fprog *out, struct cell_err *err)
{
    if (!path || !*path)
        return cell_err_set(err, EINVAL, REASON, "CELLOS_SECCOMP: no raw program path");
    _cleanup_free_ char *what = xasprintf("CELLOS_SECCOMP=%s", path);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return cell_err_set(err, errno, REASON,
                            "%s: not off, baseline, or a readable classic-BPF program file: %s",
                            what, strerror(errno));
    return read_program(fd, what, out, err);
}

/* ---- the baseline ------------------------------------------------------ */

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
    if (*ctx)
        seccomp_release(*ctx);
}

static int libseccomp_err(struct cell_err *err, int r, const char *step)
{
    return cell_err_set(err, -r, REASON, "seccomp baseline: %s: %s", step, strerror(-r));
}

static int add_denied_syscalls(scmp_filter_ctx ctx, struct cell_err *err)
{
    for (size_t i = 0; i < ARRAY_SIZE(baseline_denied); i++) {
        int nr = seccomp_syscall_resolve_name(baseline_denied[i]);
        if (nr < 0)
            continue;
        int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
        if (r < 0)
            return libseccomp_err(err, r, baseline_denied[i]);
    }
    return 0;
}

static int add_clone_rules(scmp_filter_ctx ctx, struct cell_err *err)
{
    for (size_t i = 0; i < ARRAY_SIZE(clone_ns_flags); i++) {
        scmp_datum_t flag = (scmp_datum_t)clone_ns_flags[i].value;
        int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                 SCMP_CMP(CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ, flag, flag));
        if (r < 0)
            return libseccomp_err(err, r, "clone");
    }
    /* clone3 passes its flags in memory, out of the filter's sight: ENOSYS
     * makes libc fall back to clone(), whose flags are checked above. */
    int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    return r < 0 ? libseccomp_err(err, r, "clone3") : 0;
}

static int add_ioctl_rules(scmp_filter_ctx ctx, struct cell_err *err)
{
    for (size_t i = 0; i < ARRAY_SIZE(denied_ioctls); i++) {
        /* The kernel reads the request as 32 bits; a plain EQ would also
         * compare the high half, which a caller can set to slip past. */
        int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                                 SCMP_A1_64(SCMP_CMP_MASKED_EQ, 0xffffffffu,
                                            (uint32_t)denied_ioctls[i].value));
        if (r < 0)
            return libseccomp_err(err, r, "ioctl");
    }
    return 0;
}

static int add_personality_rule(scmp_filter_ctx ctx, uint32_t mask, uint32_t value,
                                struct cell_err *err)
{
    int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                             SCMP_A0_64(SCMP_CMP_MASKED_EQ, mask, value));
    return r < 0 ? libseccomp_err(err, r, "personality") : 0;
}

/* Deny a persona with a dangerous flag, yet keep the query 0xffffffff, which
 * has every bit set. libseccomp allows one comparison per argument and rule,
 * so: (1) a dangerous flag with bit 31 clear is denied (the query has bit 31
 * set); (2) bit 31 set with any other bit clear (no real persona sets bit 31)
 * is denied. What remains with bit 31 set is exactly the query. The kernel
 * reads the argument as 32 bits: the 32-bit masks leave the high half out. */
static int add_personality_rules(scmp_filter_ctx ctx, struct cell_err *err)
{
    for (size_t i = 0; i < ARRAY_SIZE(personality_flags); i++) {
        uint32_t flag = (uint32_t)personality_flags[i].value;
        int r = add_personality_rule(ctx, flag | PERSONALITY_HIGH_BIT, flag, err);
        if (r < 0)
            return r;
    }
    for (unsigned bit = 0; bit < 31; bit++) {
        int r = add_personality_rule(ctx, PERSONALITY_HIGH_BIT | (1u << bit),
                                     PERSONALITY_HIGH_BIT, err);
        if (r < 0)
            return r;
    }
    return 0;
}

static int baseline_context(scmp_filter_ctx *out, struct cell_err *err)
{
    _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return cell_err_set(err, ENOMEM, REASON, "seccomp baseline: cannot create a filter");
    /* The context holds only the native architecture, so a syscall made
     * through another ABI (i386 int 0x80 on x86_64, or x32 numbers, which
     * libseccomp tests for on x86_64) meets the bad-architecture action. */
    int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (r < 0)
        return libseccomp_err(err, r, "kill foreign architectures");
    if ((r = add_denied_syscalls(ctx, err)) < 0 || (r = add_clone_rules(ctx, err)) < 0 ||
        (r = add_ioctl_rules(ctx, err)) < 0 || (r = add_personality_rules(ctx, err)) < 0)
        return r;
    *out = TAKE_PTR(ctx);
    return 0;
}

/* libseccomp 2.5 exports only to a descriptor: a memfd, read back whole. */
static int export_program(scmp_filter_ctx ctx, struct sock_fprog *out, struct cell_err *err)
{
    _cleanup_close_ int fd = memfd_create("cellos-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return cell_err_set(err, errno, REASON, "seccomp baseline: memfd: %s", strerror(errno));
    int r = seccomp_export_bpf(ctx, fd);
    if (r < 0)
        return libseccomp_err(err, r, "export");
    return read_program(fd, "seccomp baseline", out, err);
}

int seccomp_baseline_compile(struct sock_fprog *out, struct cell_err *err)
{
    _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
    int r = baseline_context(&ctx, err);
    if (r < 0)
        return r;
    return export_program(ctx, out, err);
}

#ifndef CELLOS_SECCOMP_GENERATOR
/* A heap copy of the build-time program, so every mode frees alike. */
static int build_baseline(struct sock_fprog *out, struct cell_err *err)
{
    size_t n = ARRAY_SIZE(seccomp_baseline_insns);
    struct sock_filter *insns = xcalloc(n, sizeof(*insns));
    memcpy(insns, seccomp_baseline_insns, sizeof(seccomp_baseline_insns));
    *out = (struct sock_fprog){ .len = (unsigned short)n, .filter = insns };
    return 0;
}
#else
static int build_baseline(struct sock_fprog *out, struct cell_err *err)
{
    return seccomp_baseline_compile(out, err);
}
#endif

/* ---- build, install, free ---------------------------------------------- */

int seccomp_program_build(enum seccomp_mode mode, const char *raw_path,
                          struct seccomp_program *out, struct cell_err *err)
{
    struct seccomp_program p = { .mode = mode };
    int r = 0;
    switch (mode) {
    case CELL_SECCOMP_OFF:
        break;
    case CELL_SECCOMP_BASELINE:
        r = build_baseline(&p.fprog, err);
        break;
    case CELL_SECCOMP_RAW:
        r = load_raw_file(raw_path, &p.fprog, err);
        if (r == 0)
            p.raw_path = xstrdup(raw_path);
        break;
    default:
        return cell_err_set(err, EINVAL, REASON, "unknown seccomp mode %d", (int)mode);
    }
    if (r < 0)
        return r;
    *out = p;
    return 0;
}

int seccomp_program_install(const struct seccomp_program *prog)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
        return -errno;
    if (!prog || prog->mode == CELL_SECCOMP_OFF || !prog->fprog.filter)
        return 0;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog->fprog) < 0)
        return -errno;
    return 0;
}

void seccomp_program_free(struct seccomp_program *prog)
{
    if (!prog)
        return;
    free(prog->fprog.filter);
    free(prog->raw_path);
    prog->fprog.filter = NULL;
    prog->fprog.len = 0;
    prog->raw_path = NULL;
}

/* ---- rendering for `cellos plan` --------------------------------------- */

/* Words after lead, wrapped before column 80 with a deeper indent. */
static void render_words(struct buf *b, const char *lead, const char *const *words, size_t n)
{
    size_t col = strlen(lead);
    buf_puts(b, lead);
    for (size_t i = 0; i < n; i++) {
        size_t width = 1 + strlen(words[i]);
        if (col + width > 79) {
            buf_puts(b, "\n   ");
            col = 3;
        }
        buf_printf(b, " %s", words[i]);
        col += width;
    }
    buf_putc(b, '\n');
}

static void render_flags(struct buf *b, const char *lead, const struct strtab_entry *tab,
                         size_t n)
{
    const char *words[16];
    size_t count = 0;
    for (size_t i = 0; i < n && count < ARRAY_SIZE(words); i++)
        words[count++] = tab[i].name;
    render_words(b, lead, words, count);
}

static void render_baseline(struct buf *b, unsigned insns)
{
    const char *names[SECCOMP_BASELINE_MAX_DENIED];
    size_t n = seccomp_baseline_denied(names, ARRAY_SIZE(names));
    if (n > ARRAY_SIZE(names))
        n = ARRAY_SIZE(names);
    buf_printf(b, "seccomp: baseline (default allow, %u instructions)\n", insns);
    render_words(b, "  deny with EPERM:", names, n);
    render_flags(b, "  clone: EPERM when flags include any of", clone_ns_flags,
                 ARRAY_SIZE(clone_ns_flags));
    buf_puts(b, "  clone3: ENOSYS (libc falls back to clone, whose flags the filter sees)\n");
    render_flags(b, "  ioctl: EPERM for requests that type into a terminal:", denied_ioctls,
                 ARRAY_SIZE(denied_ioctls));
    render_flags(b, "  personality: EPERM when the persona sets any of", personality_flags,
                 ARRAY_SIZE(personality_flags));
    buf_puts(b, "    or bit 31 (the query 0xffffffff stays allowed)\n");
    buf_puts(b, "  foreign architectures (x32 too on x86_64): kill process\n");
    buf_puts(b, "  everything else: allow\n");
}

char *seccomp_program_render(const struct seccomp_program *prog)
{
    struct buf b = BUF_INIT;
    enum seccomp_mode mode = prog ? prog->mode : CELL_SECCOMP_OFF;
    if (mode == CELL_SECCOMP_BASELINE) {
        render_baseline(&b, prog->fprog.len);
    } else if (mode == CELL_SECCOMP_RAW) {
        buf_printf(&b, "seccomp: raw classic-BPF program %s (%u instructions)\n",
                   prog->raw_path ? prog->raw_path : "?", (unsigned)prog->fprog.len);
    } else {
        buf_puts(&b, "seccomp: off (NO_NEW_PRIVS still set)\n");
    }
    return buf_steal(&b);
}
