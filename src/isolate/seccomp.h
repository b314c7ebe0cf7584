/* seccomp.h: the workload's system-call filter (CELLOS_SECCOMP).
 *
 * Two halves, split by fork:
 *
 *  - In the parent, seccomp_program_build() turns the mode into a ready
 *    classic-BPF program: the `baseline` profile is compiled with libseccomp
 *    and exported (through a memfd) into plain memory; a raw program file is
 *    read and checked. Everything that allocates or can fail for a reason a
 *    user must read happens here.
 *
 *  - In the child, between clone and execve, seccomp_program_install() only
 *    calls prctl(PR_SET_NO_NEW_PRIVS) and seccomp(SECCOMP_SET_MODE_FILTER) on
 *    that memory: no allocation, no locks, async-signal-safe. Install it last
 *    (after mounts, uid changes and capability drops, which it may deny), just
 *    before closing descriptors and exec.
 *
 * docs/seccomp.md lists every rule of the baseline and why it is there. */
#pragma once
#include <linux/filter.h>

#include "base/base.h"

enum seccomp_mode {
    CELL_SECCOMP_OFF,       /* no filter (NO_NEW_PRIVS is still set) */
    CELL_SECCOMP_BASELINE,  /* the built-in profile */
    CELL_SECCOMP_RAW,       /* a classic-BPF program read from a file */
};

/* A program ready to load. fprog.filter is NULL (and len 0) when mode is off. */
struct seccomp_program {
    enum seccomp_mode mode;
    struct sock_fprog fprog;
    char *raw_path;         /* CELL_SECCOMP_RAW: the file it came from */
};

/* CELLOS_SECCOMP's value → mode: "off", "baseline", anything else is taken
 * as the path of a raw program (so a misspelt keyword fails closed when the
 * file is not found). NULL or "" → -EINVAL: the caller picks the profile's
 * default when the variable is unset. */
int seccomp_mode_parse(const char *value, enum seccomp_mode *out);

/* "off", "baseline", "raw": for events and plans. */
const char *seccomp_mode_name(enum seccomp_mode mode);

/* Build the program for mode (raw_path is used only by CELL_SECCOMP_RAW).
 * A raw file must be a regular file of native-endian struct sock_filter
 * records: non-empty, a multiple of 8 bytes, at most BPF_MAXINSNS
 * instructions, ending in a RET, with every jump inside the program.
 * Errors carry the reason "isolation_failed". *out is written only on
 * success; release it with seccomp_program_free(). */
int seccomp_program_build(enum seccomp_mode mode, const char *raw_path,
                          struct seccomp_program *out, struct cell_err *err);

/* Child side: set NO_NEW_PRIVS (always: the contract wants it set even when
 * seccomp is off), then load the filter when there is one. Returns 0 or
 * -errno. Async-signal-safe; prog may be NULL (= off). */
int seccomp_program_install(const struct seccomp_program *prog);

/* Compile the baseline with libseccomp now. The build does this once
 * (gen_seccomp_baseline.c) and seccomp_program_build() uses the result; the
 * unit tests check the two agree. */
int seccomp_baseline_compile(struct sock_fprog *out, struct cell_err *err);

/* Release what build allocated; accepts NULL and an already freed program. */
void seccomp_program_free(struct seccomp_program *prog);

/* Upper bound of seccomp_baseline_denied()'s count, for callers' arrays. */
#define SECCOMP_BASELINE_MAX_DENIED 96

/* The syscalls the baseline denies outright with EPERM on this architecture
 * (those the architecture lacks are left out), in table order: up to cap
 * static names into names[]; returns how many there are in all. */
size_t seccomp_baseline_denied(const char **names, size_t cap);

/* Human-readable rules of the program for `cellos plan`, one line each,
 * e.g. "deny EPERM: mount umount2 ..." / "clone: EPERM when flags include
 * CLONE_NEWNS|..." / "foreign architectures: kill process". Heap string. */
char *seccomp_program_render(const struct seccomp_program *prog);
